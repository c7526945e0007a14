#!/usr/bin/python3
# fdleak_tools: read fdleak's JSON reports after the fact.
#
#   fdleak report [--symbolize] [--merge] FILE|DIR...
#   fdleak baseline FILE|DIR... > BASE
#   fdleak check --baseline BASE FILE|DIR...
#
# The launcher (scripts/fdleak) hands these three subcommands to main() below; the file also
# runs on its own: python3 fdleak_tools.py report ... Standard library only.
#
# A DIR stands for every *.json in it (sorted by name). A file in a DIR that is JSON but not an
# fdleak report is skipped with one line on stderr; a file named on the command line must be a
# report. Exit statuses: 0 fine, 1 `check` found new leaking sites, 2 bad usage or input.

import json
import os
import shutil
import subprocess
import sys

COMMANDS = ("report", "baseline", "check")

COMMAND = "report"  # the subcommand running, for messages

EXIT_OK = 0
EXIT_NEW_LEAKS = 1
EXIT_USAGE = 2      # also: missing or malformed input

FDS_SHOWN = 8       # descriptors listed per site, as in the library's text report

SYNOPSIS = {
    "report": "fdleak report [--symbolize] [--merge] FILE|DIR...",
    "baseline": "fdleak baseline FILE|DIR... > BASE",
    "check": "fdleak check --baseline BASE FILE|DIR...",
}
USAGE = "usage: " + "\n       ".join(SYNOPSIS[c] for c in COMMANDS) + "\n"

HELP = USAGE + """
Read fdleak JSON reports (--format json). A DIR means every *.json in it.

  report      print the reports as text, in the layout of fdleak's own text report
    --symbolize   fill in file:line of native frames that lack it, with addr2line
    --merge       one view of a process tree: the processes (children under their
                  parents) with their leak counts, then the leaks of all of them grouped
                  by site key, with per-process and total counts
  baseline    write a baseline (JSON) of every site that leaks in the reports
  check       exit 0 when every leaking site is in the baseline; otherwise list the new
              sites and exit 1 (2: bad usage, a missing or malformed baseline or report)

Sites are matched across runs by their key (sites[].key: module or source file names and
functions, never addresses or lines). Of several reports of one process running one program
(snapshots on a signal or interval, then the exit report) only the last counts.
"""


class ToolError(Exception):
    """A problem with the input: one line on stderr, exit status 2."""


class UsageError(Exception):
    """A bad command line: the message and the usage, exit status 2."""


# ---------------------------------------------------------------- reading reports

class Report:
    def __init__(self, path, data):
        self.path = path
        self.data = data
        self.pid = data["pid"]
        self.ppid = data.get("ppid")
        self.argv = data["argv"]
        self.trigger = data["trigger"]
        self.leaks = data["leaks"]
        self.sites = data["sites"]
        self.site_by_id = {s["id"]: s for s in self.sites}

    def command(self):
        return " ".join(self.argv)


def is_int(value):
    # JSON true/false load as bool, which Python also counts as int
    return isinstance(value, int) and not isinstance(value, bool)


def is_num(value):
    return is_int(value) or isinstance(value, float)


def check_report(path, data):
    """Raises ToolError when a schema-1 report lacks what the tools read, or has it with another
    type (the text is formatted with %d and friends, which would fail halfway through)."""
    def need(ok, what):
        if not ok:
            raise ToolError("%s: malformed fdleak report: %s" % (path, what))

    def fields(obj, where, ints=(), nums=(), strs=()):
        """Each named field absent, null, or of its type."""
        for names, test, kind in ((ints, is_int, "an integer"), (nums, is_num, "a number"),
                                  (strs, lambda v: isinstance(v, str), "a string")):
            for name in names:
                need(obj.get(name) is None or test(obj[name]),
                     "%s.%s is not %s" % (where, name, kind))

    def objects(value, where):
        need(isinstance(value, list) and all(isinstance(e, dict) for e in value),
             "%s is not a list of objects" % where)
        return value

    def frames(value, where):
        for k, f in enumerate(objects(value, where)):
            fields(f, "%s[%d]" % (where, k), ints=("line", "task_level"),
                   strs=("pc", "module", "offset", "function", "file"))

    need(is_int(data.get("pid")), "no pid")
    need(isinstance(data.get("argv"), list) and all(isinstance(a, str) for a in data["argv"]),
         "argv is not a list of strings")
    need(isinstance(data.get("trigger"), str), "no trigger")
    need("leaks" in data and "sites" in data, "no leaks or sites")
    fields(data, "report", ints=("ppid", "errors_dropped"), strs=("label", "signal", "exe"))
    ids = set()
    for k, s in enumerate(objects(data["sites"], "sites")):
        where = "sites[%d]" % k
        need(is_int(s.get("id")), "%s has no id" % where)
        fields(s, where, ints=("created", "closed", "open", "leaks"), nums=("growth_per_hour",),
               strs=("key",))
        frames(s.get("native", []), where + ".native")
        frames(s.get("python", []), where + ".python")
        need(s.get("app") is None or isinstance(s["app"], dict), "%s.app is not an object" % where)
        ids.add(s["id"])
    for name in ("leaks", "inherited", "unattributed"):
        for k, e in enumerate(objects(data.get(name, []), name)):
            where = "%s[%d]" % (name, k)
            need(is_int(e.get("fd")), "%s has no fd" % where)
            fields(e, where, nums=("age",), strs=("kind", "desc", "via"))
            need(e.get("site") is None or e["site"] in ids,
                 "%s names site %r, which is not in sites" % (where, e.get("site")))
            need(e.get("parent") is None or isinstance(e["parent"], dict),
                 "%s.parent is not an object" % where)
            if e.get("parent"):
                fields(e["parent"], where + ".parent", ints=("line",),
                       strs=("via", "function", "file"))
    for k, e in enumerate(objects(data.get("errors", []), "errors")):
        where = "errors[%d]" % k
        fields(e, where, ints=("fd", "count"), strs=("what",))
        need(e.get("site") is None or e["site"] in ids,
             "%s names site %r, which is not in sites" % (where, e.get("site")))
        frames(e.get("stack") or [], where + ".stack")
        frames(e.get("first_close") or [], where + ".first_close")


def read_json(path, what):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return json.load(f)
    except OSError as e:
        raise ToolError("cannot read %s %s: %s" % (what, path, e.strerror))
    except ValueError as e:
        raise ToolError("%s %s: not valid JSON (%s)" % (what, path, e))


def load_report(path, in_dir):
    """The report in PATH; None (after a line on stderr) for a JSON file in a directory that is
    not an fdleak report. Raises ToolError for everything else that is wrong."""
    data = read_json(path, "report")
    if not isinstance(data, dict) or "fdleak" not in data:
        if in_dir:
            sys.stderr.write("fdleak %s: skipping %s: not an fdleak report\n" % (COMMAND, path))
            return None
        raise ToolError("%s: not an fdleak report (no \"fdleak\" field)" % path)
    if data["fdleak"] != 1 or not is_int(data["fdleak"]):
        raise ToolError("%s: fdleak report schema %s is not supported (this tool reads schema 1)"
                        % (path, json.dumps(data["fdleak"])))
    check_report(path, data)
    return Report(path, data)


def load_reports(paths):
    reports = []
    for path in paths:
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.endswith(".json"))
            files = [os.path.join(path, n) for n in names]
            found = [r for r in (load_report(f, True) for f in files if os.path.isfile(f)) if r]
            if not found:
                raise ToolError("no fdleak reports in directory %s" % path)
            reports += found
        elif os.path.exists(path):
            reports.append(load_report(path, False))
        else:
            raise ToolError("%s: no such file or directory" % path)
    return reports


def counted(reports):
    """The reports whose leaks count. A process writes several reports of one program when it
    takes snapshots (interval, signal, threshold) or an exec fails after its exec report: the
    last one knows best, and adding them up would count each descriptor again. After an exec
    that succeeded, the same pid runs another program (exe or argv differ): its reports are
    another process's."""
    last = {}
    # equal times: the report number (seq, counted per process image) decides; an exec report
    # comes first, as the process goes on after it
    for r in sorted(reports, key=lambda r: (r.data.get("time") or 0, r.data.get("seq") or 0, r.trigger != "exec")):
        last[(r.pid, r.data.get("exe"), tuple(r.argv))] = r
    keep = set(id(r) for r in last.values())
    return [r for r in reports if id(r) in keep]


# ---------------------------------------------------------------- text, as report_text.c writes it

def plural(n, one, many):
    return "%d %s" % (n, one if n == 1 else many)


def base_name(path):
    return path.rsplit("/", 1)[-1]


def where(function, file, line):
    """"function (file.c:12)", the file by its base name."""
    text = function or "???"
    if file:
        text += " (%s:%d)" % (base_name(file), line or 0)
    return text


def pyfile(file):
    """A Python file as its user knows it: relative to the working directory when under it."""
    if file is None:
        return "?"
    cwd = os.getcwd()
    if len(cwd) > 1 and file.startswith(cwd + "/"):
        return file[len(cwd) + 1:]
    return file


def pyframe(f):
    """"handlers/poll.py:18 in handle_poll" """
    text = pyfile(f.get("file"))
    if f.get("line"):
        text += ":%d" % f["line"]
    return text + " in " + (f.get("function") or "???")


def app_index(site):
    """Which Python frame is the app frame: the one equal to sites[].app, else (app missing)
    the first outside the standard library and installed packages, else the innermost."""
    py = site.get("python") or []
    app = site.get("app")
    for i, f in enumerate(py):
        if f == app:
            return i
    for i, f in enumerate(py):
        if not library_file(f.get("file") or ""):
            return i
    return 0


def headline(site):
    """What a site is called: its Python app frame, else its innermost native frame."""
    if site is None:
        return "an unknown site"
    if site.get("python"):
        return pyframe(site["python"][app_index(site)])
    if site.get("native"):
        f = site["native"][0]
        return where(f.get("function"), f.get("file"), f.get("line"))
    return "an unknown site"


def site_headline(site):
    """The library's name for a site in the growing, error and inherited lines."""
    if site is None or not (site.get("python") or site.get("native")):
        return "an unknown site"
    return "site %d, %s" % (site["id"], headline(site))


def library_file(file):
    """Standard library (…/lib/python3.X/…, frozen modules) or installed packages: the same
    test as fdl_py_library_file() in capture_python.c."""
    if file.startswith("<frozen ") or "/site-packages/" in file or "/dist-packages/" in file:
        return True
    p = file.find("/lib")
    while p >= 0:
        q = p + 4
        if file.startswith("64", q):
            q += 2
        if file.startswith("/python", q):
            q += 7
            if q < len(file) and file[q].isdigit():
                while q < len(file) and (file[q].isdigit() or file[q] == "."):
                    q += 1
                if file.startswith("/", q):
                    return True
        p = file.find("/lib", p + 1)
    return False


def package(file):
    """The package a library file belongs to: "asyncio", "httpx", "importlib" (frozen)."""
    if file.startswith("<frozen "):
        rest = file[8:]
    elif "-packages/" in file:
        rest = file[file.find("-packages/") + 10:]
    else:
        p = file.find("/python")
        q = file.find("/", p + 1) if p >= 0 else -1
        rest = file[q + 1:] if q >= 0 else file
    end = 0
    while end < len(rest) and rest[end] not in "/.>":
        end += 1
    return rest[:end]


def interpreter_frame(f):
    module = base_name(f.get("module") or "")
    return module.startswith("python") or module.startswith("libpython")


def frame_line(f, first):
    text = "fdleak:    %s %s: %s" % ("at" if first else "by", f.get("pc") or "0x0",
                                      where(f.get("function"), f.get("file"), f.get("line")))
    if f.get("module"):
        text += " in " + f["module"]
    return text


def fd_line(e, with_age, extra=""):
    text = "fdleak:    fd %d  %s  %s" % (e["fd"], e.get("kind", "?"), e.get("desc", "?"))
    if with_age:
        text += "  (via %s, age %.1fs%s)" % (e.get("via") or "?", e.get("age") or 0, extra)
    return text


def stack_lines(site):
    """Python frames innermost first, runs of three or more library frames folded to their ends
    and the packages between; then the native frames (for a Python site, only up to the
    interpreter's own)."""
    out = []
    py = site.get("python") or []
    app = app_index(site) if py else -1

    def level_of(k):
        return py[k].get("task_level") or 0

    def foldable(k, level):
        return (k < len(py) and k != app and level_of(k) == level
                and library_file(py[k].get("file") or ""))

    level = 0
    i = 0
    while i < len(py):
        f = py[i]
        if level_of(i) != level:
            out.append("fdleak:    in a task created")
            level = level_of(i)
        out.append("fdleak:    %s %s%s" % ("at" if i == 0 else "by", pyframe(f),
                                           "   <- app" if i == app else ""))
        end = i
        while foldable(end + 1, level) and foldable(i, level):
            end += 1
        if end >= i + 2:  # frames i+1 .. end-1 folded, end shown next
            names = []
            more = False
            for k in range(i + 1, end):
                name = package(py[k].get("file") or "")
                if name in names:
                    continue
                if len(names) == 4:
                    more = True
                    break
                names.append(name)
            out.append("fdleak:       … %s in %s%s" % (plural(end - i - 1, "frame", "frames"),
                                                      ", ".join(names), ", …" if more else ""))
            i = end
        else:
            i += 1
    native = site.get("native") or []
    shown = len(native)
    if py:  # a Python site's native frames down to the interpreter (a C extension's own)
        shown = next((k for k, f in enumerate(native) if interpreter_frame(f)), len(native))
        if shown:
            out.append("fdleak:    native (before the interpreter):")
    for k, f in enumerate(native[:shown]):
        out.append(frame_line(f, k == 0))
    if shown < len(native):
        out.append("fdleak:    %d%s native frames in the interpreter (in the JSON report)"
                   % (len(native) - shown, " more" if shown else ""))
    return out


def leak_groups(report):
    """[(site or None, [leaks])], the site with the most leaks first (ties: report order)."""
    groups = {}
    for leak in report.leaks:
        groups.setdefault(leak.get("site"), []).append(leak)
    order = {s["id"]: k for k, s in enumerate(report.sites)}
    ids = sorted(groups, key=lambda sid: (-len(groups[sid]), sid is None,
                                          order.get(sid, 0)))
    return [(report.site_by_id.get(sid), groups[sid]) for sid in ids]


def render_report(report):
    data = report.data
    errors = data.get("errors", [])
    groups = leak_groups(report)
    crossing = sum(1 for e in errors if e.get("what") == "crosses-exec")
    if crossing:
        summary = plural(crossing, "descriptor crosses", "descriptors cross") + \
            " exec without close-on-exec"
    elif report.leaks:
        summary = "%s leaked from %s" % (plural(len(report.leaks), "descriptor", "descriptors"),
                                         plural(len(groups), "site", "sites"))
    else:
        summary = "no leaks"
    command = report.command()
    if len(command) > 201:  # the library cuts the command line there
        command = command[:201] + "…"
    head = "fdleak: %s (pid %d, %s)" % (summary, report.pid, command)
    if report.trigger != "exit":
        head += " [%s%s]" % (report.trigger, ": " + data["label"] if data.get("label") else "")
    if data.get("signal"):
        head += " [killed by %s]" % data["signal"]
    out = [head]

    # A site whose open count keeps rising is what runs a service out of descriptors: first.
    for s in report.sites:
        if s.get("growing"):
            out.append("fdleak: growing: %s holds %d open, +%.0f per hour" % (
                site_headline(s), s.get("open", 0), s.get("growth_per_hour") or 0))

    for e in errors:
        line = "fdleak: error: %s of fd %s" % (e.get("what", "?"), e.get("fd", "?"))
        if (e.get("count") or 1) > 1:
            line += " (%d times at this stack)" % e["count"]
        if e.get("site") is not None:
            line += ", created at " + site_headline(report.site_by_id.get(e["site"]))
        out += ["fdleak:", line]
        out += [frame_line(f, k == 0) for k, f in enumerate(e.get("stack") or [])]
        if e.get("first_close"):
            out.append("fdleak:  first closed:")
            out += [frame_line(f, k == 0) for k, f in enumerate(e["first_close"])]
    if data.get("errors_dropped"):
        out.append("fdleak: … and %d more errors (the log holds 256)" % data["errors_dropped"])

    for site, leaks in groups:
        out.append("fdleak:")
        n = plural(len(leaks), "descriptor", "descriptors")
        if site is None:
            out.append("fdleak: %s leaked where no stack could be taken (created inside a signal "
                       "handler that interrupted fdleak, or the stack could not be unwound):" % n)
        else:
            line = "fdleak: %s leaked at site %d (created %d, closed %d)" % (
                n, site["id"], site.get("created", 0), site.get("closed", 0))
            if site.get("python"):
                line += ": " + headline(site)
            out.append(line + ":")
        out += [fd_line(e, True) for e in leaks[:FDS_SHOWN]]
        if len(leaks) > FDS_SHOWN:
            out.append("fdleak:    … and %d more" % (len(leaks) - FDS_SHOWN))
        if site is not None:
            out += stack_lines(site)

    unattributed = data.get("unattributed", [])
    if unattributed:
        out += ["fdleak:", "fdleak: %s open that fdleak did not see created (libc internals, raw "
                "syscalls):" % plural(len(unattributed), "descriptor is", "descriptors are")]
        out += [fd_line(e, False) for e in unattributed[:FDS_SHOWN]]

    inherited = data.get("inherited", [])
    if inherited:
        fds = " ".join(str(e.get("fd")) for e in inherited[:64])
        out += ["fdleak:", "fdleak: inherited (not leaks): " + fds + (" …" if len(inherited) > 64
                                                                      else "")]
        # Where a parent said (fork, or exec with FDLEAK_LINEAGE), name the creator.
        shown = [e for e in inherited if e.get("parent") or e.get("site") is not None]
        for e in shown[:FDS_SHOWN]:
            p = e.get("parent")
            if p:
                at = where(p.get("function"), p.get("file"), p.get("line"))
                via = p.get("via")
            else:
                at = site_headline(report.site_by_id.get(e["site"]))
                via = e.get("via")
            out.append(fd_line(e, False) + "  (from the parent: %s at %s)" % (via or "?", at))
    return out


# ---------------------------------------------------------------- --merge

def render_merged(reports):
    """The reports of a process tree as one: the tree, then the leaks grouped by site key."""
    left_out = len(reports) - len(counted(reports))
    reports = counted(reports)
    procs = {}                  # pid -> its reports, in time order
    for r in sorted(reports, key=lambda r: r.data.get("time") or 0):
        procs.setdefault(r.pid, []).append(r)
    children = {}
    for pid, rs in procs.items():
        ppid = rs[0].ppid
        if ppid in procs and ppid != pid:
            children.setdefault(ppid, []).append(pid)

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
        plural(len(procs), "process", "processes"), plural(len(reports), "report", "reports") +
        ("; %s left out" % plural(left_out, "earlier snapshot", "earlier snapshots")
         if left_out else "")),
        "fdleak:", "fdleak: process tree:"]

    seen = set()

    def walk(pid, depth):
        if pid in seen:     # pid reuse could make a cycle: show each process once
            return
        seen.add(pid)
        for r in procs[pid]:
            out.append("fdleak:    %spid %d  %-9s %-9s %s" % (
                "   " * depth, pid, r.trigger, plural(len(r.leaks), "leak", "leaks"),
                r.command()))
        for child in sorted(children.get(pid, [])):
            walk(child, depth + 1)

    for pid in sorted(procs):
        if procs[pid][0].ppid not in procs or procs[pid][0].ppid == pid:
            walk(pid, 0)
    for pid in sorted(procs):   # in a cycle of parents, no process is a root
        walk(pid, 0)

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
        for leak, pid in g["fds"][:FDS_SHOWN]:
            out.append(fd_line(leak, True, ", pid %d" % pid))
        if len(g["fds"]) > FDS_SHOWN:
            out.append("fdleak:    … and %d more" % (len(g["fds"]) - FDS_SHOWN))
        if g["site"] is not None:
            out += stack_lines(g["site"])
    return out


# ---------------------------------------------------------------- --symbolize

def symbolize(reports):
    """Fill in function, file and line of native frames that lack file:line: one addr2line per
    module, with all of its offsets."""
    frames = {}     # module -> {offset: [frames]}
    for r in reports:
        stacks = [s.get("native") or [] for s in r.sites]
        for e in r.data.get("errors", []):
            stacks += [e.get("stack") or [], e.get("first_close") or []]
        for stack in stacks:
            for f in stack:
                if (f.get("file") is None or f.get("line") is None) and f.get("module") \
                        and f.get("offset"):
                    frames.setdefault(f["module"], {}).setdefault(f["offset"], []).append(f)
    if not frames:
        return
    tool = shutil.which("addr2line")
    if tool is None:
        sys.stderr.write("fdleak report: addr2line not found (it is in binutils); native frames "
                         "stay without file:line\n")
        return
    # Not traced by an LD_PRELOAD of ours, and no debuginfod download that could stall.
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "DEBUGINFOD_URLS")}
    for module in sorted(frames):
        by_offset = frames[module]
        if not os.path.isfile(module):
            sys.stderr.write("fdleak report: cannot symbolize %s: no such file here\n" % module)
            continue
        offsets = []
        for text in sorted(by_offset):
            try:
                offsets.append((text, int(text, 16)))
            except ValueError:
                continue
        # A frame's pc is a return address, the instruction after the call: ask for the byte
        # before it, or the line shown could be the next statement (the library does the same).
        args = [tool, "-f", "-C", "-e", module] + ["%#x" % max(o - 1, 0) for _, o in offsets]
        try:
            answer = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, timeout=120, check=False,
                                    env=env)
        except (OSError, subprocess.TimeoutExpired) as e:
            sys.stderr.write("fdleak report: addr2line failed on %s: %s\n" % (module, e))
            continue
        lines = answer.stdout.decode("utf-8", "replace").splitlines()
        if answer.returncode != 0 or len(lines) != 2 * len(offsets):
            sys.stderr.write("fdleak report: addr2line could not read %s\n" % module)
            continue
        for k, (text, _) in enumerate(offsets):
            function, location = lines[2 * k], lines[2 * k + 1]
            file, _, line = location.partition(" ")[0].rpartition(":")
            for f in by_offset[text]:
                if function != "??" and not f.get("function"):
                    f["function"] = function
                if file and file != "??" and line.isdigit() and int(line) > 0:
                    f["file"] = file
                    f["line"] = int(line)


# ---------------------------------------------------------------- baseline and check

def site_key(report, site):
    key = site.get("key")
    if not key:
        raise ToolError("%s: site %d has no key (a report from an fdleak older than "
                        "sites[].key: run the program again)" % (report.path, site["id"]))
    return key


def leaking_sites(reports):
    """{key: {"headline", "leaks", "procs": {(pid, command): n}}} over the counted reports.
    Leaks without a site (no stack could be taken) have no key and are left out."""
    found = {}
    for r in counted(reports):
        for site, leaks in leak_groups(r):
            if site is None:
                continue
            entry = found.setdefault(site_key(r, site), {"headline": headline(site), "leaks": 0,
                                                         "procs": {}})
            entry["leaks"] += len(leaks)
            proc = (r.pid, r.command())
            entry["procs"][proc] = entry["procs"].get(proc, 0) + len(leaks)
    return found


def read_baseline(path):
    data = read_json(path, "baseline")
    if not isinstance(data, dict) or "fdleak_baseline" not in data:
        raise ToolError("%s: not an fdleak baseline (no \"fdleak_baseline\" field)" % path)
    if data["fdleak_baseline"] != 1 or not is_int(data["fdleak_baseline"]):
        raise ToolError("%s: baseline format %s is not supported (this tool reads 1)"
                        % (path, json.dumps(data["fdleak_baseline"])))
    sites = data.get("sites")
    if not isinstance(sites, list) or not all(isinstance(s, dict) and isinstance(s.get("key"), str)
                                              for s in sites):
        raise ToolError("%s: malformed fdleak baseline: sites must be a list of objects with a "
                        "key" % path)
    return {s["key"] for s in sites}


def cmd_report(options, paths):
    reports = load_reports(paths)
    if "--symbolize" in options:
        symbolize(reports)
    if "--merge" in options:
        lines = render_merged(reports)
    else:
        lines = []
        for k, r in enumerate(reports):
            lines += ([""] if k else []) + render_report(r)
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


def cmd_baseline(options, paths):
    found = leaking_sites(load_reports(paths))
    sites = [{"key": key, "headline": found[key]["headline"], "leaks": found[key]["leaks"]}
             for key in sorted(found)]
    # One site a line: a baseline kept in version control then diffs site by site.
    sys.stdout.write('{"fdleak_baseline": 1, "sites": [' +
                     ",".join("\n  " + json.dumps(s, ensure_ascii=False) for s in sites) +
                     "\n]}\n")
    return EXIT_OK


def cmd_check(options, paths):
    known = read_baseline(options["--baseline"])
    found = leaking_sites(load_reports(paths))
    new = sorted((k for k in found if k not in known), key=lambda k: (-found[k]["leaks"], k))
    if not new:
        print("fdleak check: no new leaks (%s leaking, %s)" % (
            plural(len(found), "known site", "known sites"),
            plural(sum(e["leaks"] for e in found.values()), "leak", "leaks")))
        return EXIT_OK
    print("fdleak check: %s (not in the baseline %s):" % (
        plural(len(new), "new leaking site", "new leaking sites"), options["--baseline"]))
    for key in new:
        e = found[key]
        print("fdleak check:   key %s  %s  %s" % (key, e["headline"],
                                                 plural(e["leaks"], "leak", "leaks")))
        for pid, command in sorted(e["procs"]):
            n = e["procs"][(pid, command)]
            print("fdleak check:      pid %d: %s  %s" % (pid, plural(n, "leak", "leaks"), command))
    old = [k for k in found if k in known]
    print("fdleak check: FAILED: %s (%s), %s (%s)" % (
        plural(len(new), "new site", "new sites"),
        plural(sum(found[k]["leaks"] for k in new), "leak", "leaks"),
        plural(len(old), "known site", "known sites"),
        plural(sum(found[k]["leaks"] for k in old), "leak", "leaks")))
    return EXIT_NEW_LEAKS


# ---------------------------------------------------------------- command line

def parse(command, args):
    """(options, paths). Options may come anywhere before a '--'."""
    flags = {"report": ("--symbolize", "--merge"), "baseline": (), "check": ()}[command]
    with_value = ("--baseline",) if command == "check" else ()
    options, paths = {}, []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            paths += args[i + 1:]
            break
        if arg in ("-h", "--help"):
            options["--help"] = True
        elif arg in flags:
            options[arg] = True
        elif arg.partition("=")[0] in with_value:
            name, eq, value = arg.partition("=")
            if not eq:
                if i + 1 >= len(args):
                    raise UsageError("option %s needs a value" % name)
                i += 1
                value = args[i]
            if value == "":
                raise UsageError("%s: empty path" % name)
            options[name] = value
        elif arg.startswith("-") and arg != "-":
            raise UsageError("unknown option '%s'" % arg)
        else:
            paths.append(arg)
        i += 1
    if "--help" in options:
        return options, paths
    if command == "check" and "--baseline" not in options:
        raise UsageError("--baseline BASE is required")
    if not paths:
        raise UsageError("no report files or directories given")
    return options, paths


def main(argv):
    """argv: the subcommand and its arguments. Returns the exit status."""
    if not argv or argv[0] not in COMMANDS:
        sys.stderr.write(USAGE)
        return EXIT_USAGE
    global COMMAND
    command = COMMAND = argv[0]
    # Reports may carry any bytes a program put in a path or argv: never fail on printing them.
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(errors="replace")
    try:
        options, paths = parse(command, argv[1:])
        if "--help" in options:
            sys.stdout.write(HELP)
            return EXIT_OK
        run = {"report": cmd_report, "baseline": cmd_baseline, "check": cmd_check}[command]
        status = run(options, paths)
        sys.stdout.flush()
        return status
    except UsageError as e:
        sys.stderr.write("fdleak %s: %s\nusage: %s  (fdleak %s --help for more)\n"
                         % (command, e, SYNOPSIS[command], command))
        return EXIT_USAGE
    except ToolError as e:
        sys.stderr.write("fdleak %s: %s\n" % (command, e))
        return EXIT_USAGE
    except BrokenPipeError:
        # `fdleak report … | head`: the reader is gone; leave quietly, without a second error
        # when Python flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
