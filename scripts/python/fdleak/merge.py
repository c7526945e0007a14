"""`fdleak report --merge`: the reports of a process tree as one text view, the processes
(children under their parents) with their leak counts, then the leaks of all of them grouped
by site key. process_tree() also orders the HTML page."""

from .model import counted, site_key
from .text import fd_lines, headline, leak_groups, plural, stack_lines


def process_tree(reports):
    """[(depth, report)]: each process under its parent (its reports in time order)."""
    procs = {}
    for r in sorted(reports, key=lambda r: r.time or 0):
        procs.setdefault(r.pid, []).append(r)
    children = {}
    for pid, rs in procs.items():
        if rs[0].ppid in procs and rs[0].ppid != pid:
            children.setdefault(rs[0].ppid, []).append(pid)
    out, seen = [], set()

    def walk(pid, depth):
        if pid in seen:     # pid reuse could make a cycle: show each process once
            return
        seen.add(pid)
        out.extend((depth, r) for r in procs[pid])
        for child in sorted(children.get(pid, [])):
            walk(child, depth + 1)

    for pid in sorted(procs):
        if procs[pid][0].ppid not in procs or procs[pid][0].ppid == pid:
            walk(pid, 0)
    for pid in sorted(procs):   # in a cycle of parents, no process is a root
        walk(pid, 0)
    return out


def render_merged(reports):
    """The reports of a process tree as one: the tree, then the leaks grouped by site key."""
    left_out = len(reports) - len(counted(reports))
    reports = counted(reports)
    npids = len({r.pid for r in reports})
    # groups: key -> {"site": the first site seen, "by_proc": {(pid, command): n},
    # "fds": [(leak, pid)]}; a pid that exec'd ran two commands, each with its own leaks.
    # No created/closed sums: a fork child's counters include what its parent created.
    groups = {}
    for r in reports:
        for site, leaks in leak_groups(r):
            key = site_key(r, site) if site is not None else None
            g = groups.setdefault(key, {"site": site, "by_proc": {}, "fds": []})
            proc = (r.pid, r.command())
            g["by_proc"][proc] = g["by_proc"].get(proc, 0) + len(leaks)
            g["fds"] += [(leak, r.pid) for leak in leaks]

    total = sum(len(r.leaks) for r in reports)
    out = ["fdleak: %s leaked from %s in %s (%s)" % (
        plural(total, "descriptor", "descriptors"), plural(len(groups), "site", "sites"),
        plural(npids, "process", "processes"), plural(len(reports), "report", "reports") +
        ("; %s left out" % plural(left_out, "earlier snapshot", "earlier snapshots")
         if left_out else "")),
        "fdleak:", "fdleak: process tree:"]

    for depth, r in process_tree(reports):
        out.append("fdleak:    %spid %d  %-9s %-9s %s" % (
            "   " * depth, r.pid, r.trigger, plural(len(r.leaks), "leak", "leaks"), r.command()))

    order = sorted(groups, key=lambda k: (-len(groups[k]["fds"]), k is None, k or ""))
    for key in order:
        g = groups[key]
        n = plural(len(g["fds"]), "descriptor", "descriptors")
        in_procs = plural(len({pid for pid, _ in g["by_proc"]}), "process", "processes")
        out.append("fdleak:")
        if key is None:
            out.append("fdleak: %s leaked where no stack could be taken, in %s:" % (n, in_procs))
        else:
            out.append("fdleak: %s leaked at %s (key %s), in %s:" % (
                n, headline(g["site"]), key, in_procs))
        for pid, command in sorted(g["by_proc"]):
            out.append("fdleak:    pid %d: %d  (%s)" % (pid, g["by_proc"][(pid, command)],
                                                     command))
        pid_of = {id(leak): pid for leak, pid in g["fds"]}
        out += fd_lines([leak for leak, _ in g["fds"]], lambda leak: ", pid %d" % pid_of[id(leak)])
        if g["site"] is not None:
            out += stack_lines(g["site"])
    return out
