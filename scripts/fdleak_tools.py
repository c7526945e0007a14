#!/usr/bin/python3
# fdleak_tools: read fdleak's JSON reports after the fact.
#
#   fdleak report [--symbolize] [--merge] FILE|DIR...
#   fdleak report --html OUT.html [--symbolize] FILE|DIR...
#   fdleak baseline FILE|DIR... > BASE
#   fdleak check --baseline BASE FILE|DIR...
#
# The launcher (scripts/fdleak) hands these three subcommands to main() below; the file also
# runs on its own: python3 fdleak_tools.py report ... Standard library only.
#
# A DIR stands for every *.json in it (sorted by name). A file in a DIR that is JSON but not an
# fdleak report is skipped with one line on stderr; a file named on the command line must be a
# report. Exit statuses: 0 fine, 1 `check` found new leaking sites, 2 bad usage or input.

import html
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time

COMMANDS = ("report", "baseline", "check")

COMMAND = "report"  # the subcommand running, for messages

EXIT_OK = 0
EXIT_NEW_LEAKS = 1
EXIT_USAGE = 2      # also: missing or malformed input

FDS_SHOWN = 8       # descriptors listed per site, as in the library's text report
FINDINGS_SHOWN = 20  # findings listed, as in the library's text report

SYNOPSIS = {
    "report": "fdleak report [--symbolize] [--merge | --html OUT] FILE|DIR...",
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
    --html OUT    write one self-contained HTML page to OUT instead ('-': stdout):
                  findings, the sites (sortable, each with its stacks and leaked
                  descriptors), the process tree and a chart of open descriptors over
                  time (from growth snapshots or interval reports); no network access
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

    # The findings name what to fix, most urgent first, as the library lists them; a report
    # from before findings has its growing sites instead.
    if "findings" in data:
        for f in data["findings"][:FINDINGS_SHOWN]:
            ids = [str(i) for s in f.get("sites", []) for i in s.get("ids", [])]
            out.append("fdleak: finding: %s: %s" % (f.get("pattern"), f.get("title")))
            out.append("fdleak:    site%s %s; advice: %s" % ("s" if len(f.get("sites", [])) > 1 else "",
                                                            " ".join(ids), f.get("advice")))
        if len(data["findings"]) > FINDINGS_SHOWN:
            out.append("fdleak: … and %d more findings (in the JSON report)" % (len(data["findings"]) - FINDINGS_SHOWN))
    for s in report.sites if "findings" not in data else []:
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

def process_tree(reports):
    """[(depth, report)]: each process under its parent (its reports in time order), for --merge
    and the page."""
    procs = {}
    for r in sorted(reports, key=lambda r: r.data.get("time") or 0):
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


# ---------------------------------------------------------------- --html

# One self-contained page. Everything is inline, and a Content-Security-Policy forbids the
# browser any fetch: a page opened from a CI artifact or a mail stays offline even if a later
# edit slipped in an external reference. Scripts only sort and expand; the content is plain
# HTML, so the page reads the same with JavaScript off.

HTML_SITES_SHOWN = 200      # rows of the sites table: the busiest sites
HTML_LEAKS_SHOWN = 50       # descriptors listed per site
HTML_CHART_SITES = 8        # lines per chart: more are unreadable
HTML_PEERS_SHOWN = 3        # peers in a table cell (the expanded row lists all)
HTML_COLORS = ("#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
               "#17becf")
HTML_PATTERNS = ("never-closed", "duplicate-clients", "pool-per-operation", "growing")

# C0 and C1 controls are invalid in HTML and can hide or fake text; lone surrogates (a JSON
# "\udc80" from a path that was not UTF-8) cannot be written as UTF-8 at all.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def esc(value):
    """Any text from a report, safe in HTML text and in quoted attribute values."""
    text = "" if value is None else str(value)
    text = _UNPRINTABLE.sub(lambda m: "\\x%02x" % ord(m.group()) if ord(m.group()) < 0x100
                            else "\ufffd", text)
    return html.escape(text, quote=True)


def check_html_fields(path, data):
    """The fields only the page reads (findings, snapshots, lifetimes, peers, history). Each may
    be absent (reports from before them must still render), but one that is present must have
    its type: the page would otherwise fail halfway, or print a list where a number belongs."""
    def need(ok, what):
        if not ok:
            raise ToolError("%s: malformed fdleak report: %s" % (path, what))

    def opt(obj, name, test, kind, where):
        need(obj.get(name) is None or test(obj[name]), "%s.%s is not %s" % (where, name, kind))

    def is_str(v):
        return isinstance(v, str)

    def ints(v):
        return isinstance(v, list) and all(is_int(x) for x in v)

    def nums(v):
        return isinstance(v, list) and all(is_num(x) for x in v)

    def objects(v):
        return isinstance(v, list) and all(isinstance(x, dict) for x in v)

    def scalars(v):
        return isinstance(v, dict) and all(x is None or isinstance(x, (str, int, float))
                                           for x in v.values())

    def lifetime(obj, where):
        opt(obj, "lifetime", lambda v: isinstance(v, dict), "an object", where)
        life, where = obj.get("lifetime") or {}, where + ".lifetime"
        opt(life, "count", is_int, "an integer", where)
        for name in ("sum_s", "median_s", "p90_s"):
            opt(life, name, is_num, "a number", where)
        opt(life, "hist", ints, "a list of integers", where)

    for name in ("open", "limit", "peak", "seq"):
        opt(data, name, is_int, "an integer", "report")
    opt(data, "time", is_num, "a number", "report")
    opt(data, "snapshot_times", nums, "a list of numbers", "report")
    opt(data, "findings", objects, "a list of objects", "report")
    for k, f in enumerate(data.get("findings") or []):
        where = "findings[%d]" % k
        for name in ("pattern", "title", "peer", "advice"):
            opt(f, name, is_str, "a string", where)
        opt(f, "evidence", scalars, "an object of numbers and strings", where)
        opt(f, "sites", objects, "a list of objects", where)
        for j, s in enumerate(f.get("sites") or []):
            w = "%s.sites[%d]" % (where, j)
            opt(s, "at", is_str, "a string", w)
            opt(s, "ids", ints, "a list of integers", w)
            for name in ("open", "created", "closed"):
                opt(s, name, is_int, "an integer", w)
    for k, s in enumerate(data["sites"]):
        where = "sites[%d]" % k
        opt(s, "at", is_str, "a string", where)
        opt(s, "history", nums, "a list of numbers", where)
        lifetime(s, where)
        opt(s, "peers", objects, "a list of objects", where)
        for j, p in enumerate(s.get("peers") or []):
            w = "%s.peers[%d]" % (where, j)
            for name in ("peer", "role", "type"):
                opt(p, name, is_str, "a string", w)
            for name in ("created", "closed", "open"):
                opt(p, name, is_int, "an integer", w)
            lifetime(p, w)


def html_headline(site):
    """The place a site is known by: the library's own label (`at`), else the app frame, else
    the first native frame with a name, else module+offset."""
    if site.get("at"):
        return site["at"]
    if site.get("app"):
        return pyframe(site["app"])
    native = site.get("native") or []
    for f in native:
        if f.get("function"):
            return where(f["function"], f.get("file"), f.get("line"))
    if native:
        return "%s+%s" % (base_name(native[0].get("module") or "?"), native[0].get("offset") or "?")
    return "an unknown site"


def html_duration(s):
    """Seconds as people read them: 850 µs, 12 ms, 3.4 s, 5.2 min, 7.1 h."""
    if s is None:
        return ""
    if s < 1e-3:
        return "%.0f µs" % (s * 1e6)
    if s < 1:
        return "%.0f ms" % (s * 1e3)
    if s < 120:
        return "%.1f s" % s
    if s < 7200:
        return "%.1f min" % (s / 60)
    return "%.1f h" % (s / 3600)


def html_count(n, missing=""):
    """A count checked to be an integer, or MISSING when the report has none (null)."""
    return missing if n is None else str(n)


def html_time(t):
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)) if is_num(t) else "?"


def html_evidence(key, v):
    """An evidence value: a duration when its key says seconds (`_s`), else the number as
    written, floats to a readable precision."""
    if isinstance(v, bool) or v is None:
        return esc(json.dumps(v))
    if is_num(v) and key.endswith("_s"):
        return '<span title="%s s">%s</span>' % (esc(repr(v)), html_duration(v))
    if is_int(v):
        return str(v)
    if isinstance(v, float):
        return "%.0f" % v if abs(v) >= 100 else "%.3g" % v
    return "<code>%s</code>" % esc(v)




def html_series(report, all_reports):
    """(times, {site id: [open counts]}, source) for a chart of REPORT's process, or None.
    The library's own growth snapshots (snapshot_times with each site's history) are finer
    than reports; without them, the interval reports of the same process image serve."""
    snaps = report.data.get("snapshot_times") or []
    now = report.data.get("time")
    if snaps:
        times = list(snaps)
        later = is_num(now) and now > snaps[-1]     # the report itself is one more point
        if later:
            times.append(now)
        series = {}
        for s in report.sites:
            hist = list(s.get("history") or [])[-len(snaps):]
            if not hist:
                continue
            # a history shorter than the snapshots: the site did not exist before
            values = [0] * (len(snaps) - len(hist)) + hist
            if later:
                values.append(s.get("open") or 0)
            series[s["id"]] = values
        if len(times) >= 2 and times[-1] > times[0] and series:
            every = ((snaps[-1] - snaps[0]) / (len(snaps) - 1)) if len(snaps) > 1 else None
            return times, series, ("growth snapshots every %s" % html_duration(every)
                                   if every else "a growth snapshot and the report")
    image = (report.pid, report.data.get("exe"), tuple(report.argv))
    same = sorted((r for r in all_reports if (r.pid, r.data.get("exe"), tuple(r.argv)) == image
                   and is_num(r.data.get("time"))),
                  key=lambda r: (r.data["time"], r.data.get("seq") or 0))
    if len(same) < 2 or same[-1].data["time"] <= same[0].data["time"]:
        return None
    series = {}
    for i, r in enumerate(same):
        for s in r.sites:   # ids hold within a process; a site not yet in a report had 0 open
            series.setdefault(s["id"], [0] * len(same))[i] = s.get("open") or 0
    return [r.data["time"] for r in same], series, "%d reports" % len(same)


def html_nice_step(span, ticks):
    """A round step (1, 2 or 5 times a power of ten) giving about TICKS intervals."""
    raw = max(span / ticks, 1e-9)
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power


def html_chart(times, lines):
    """An SVG line chart: LINES [(label, values, color, width)] over TIMES (seconds since the
    first), counts from 0. Plain SVG, so it shows without scripts and prints."""
    W, H, L, R, T, B = 960, 280, 48, 16, 12, 38
    t0, span = times[0], max(times[-1] - times[0], 1e-6)
    top = max(max(v) for _, v, _, _ in lines)
    ystep = max(1, html_nice_step(top, 5))
    ytop = max(ystep, math.ceil(top / ystep) * ystep)
    xstep = html_nice_step(span, 8)

    def x(t):
        return L + (t - t0) / span * (W - L - R)

    def y(v):
        return T + (1 - v / ytop) * (H - T - B)

    out = ['<svg class="chart" viewBox="0 0 %d %d" role="img" '
           'aria-label="open descriptors over time">' % (W, H)]
    v = 0
    while v <= ytop + 1e-9:
        out.append('<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>'
                   '<text class="tick" x="%d" y="%.1f" text-anchor="end">%g</text>'
                   % (L, W - R, y(v), y(v), L - 6, y(v) + 4, v))
        v += ystep
    k = 0
    while k * xstep <= span + 1e-9:
        out.append('<line class="xtick" x1="%.1f" x2="%.1f" y1="%d" y2="%d"/>'
                   '<text class="tick" x="%.1f" y="%d" text-anchor="middle">%g</text>'
                   % (x(t0 + k * xstep), x(t0 + k * xstep), H - B, H - B + 4,
                      x(t0 + k * xstep), H - B + 16, round(k * xstep, 6)))
        k += 1
    out.append('<line class="axis" x1="%d" x2="%d" y1="%d" y2="%d"/>' % (L, W - R, H - B, H - B))
    out.append('<text class="label" x="%.1f" y="%d" text-anchor="middle">seconds since %s'
               '</text>' % ((L + W - R) / 2, H - 4, esc(html_time(t0))))
    out.append('<text class="label" transform="translate(12 %.1f) rotate(-90)" '
               'text-anchor="middle">open descriptors</text>' % ((T + H - B) / 2))
    dots = len(times) <= 60    # points stay readable on short series only
    for label, values, color, width in reversed(lines):    # the biggest drawn last, on top
        points = " ".join("%.1f,%.1f" % (x(t), y(v)) for t, v in zip(times, values))
        out.append('<polyline class="series" points="%s" stroke="%s" stroke-width="%g">'
                   '<title>%s</title></polyline>' % (points, color, width, esc(label)))
        if dots:
            out += ['<circle cx="%.1f" cy="%.1f" r="2.2" fill="%s"/>' % (x(t), y(v), color)
                    for t, v in zip(times, values)]
    out.append("</svg>")
    return out


def html_frames_python(site):
    py = site.get("python") or []
    if not py:
        return []
    app = app_index(site)
    out = ['<div class="stack-title">Python stack</div><table class="frames"><tbody>']
    level = 0
    for i, f in enumerate(py):
        if (f.get("task_level") or 0) != level:
            level = f.get("task_level") or 0
            out.append('<tr class="task"><td></td><td colspan="2">in a task created by%s</td></tr>'
                       % (" (level %d)" % level if level > 1 else ""))
        cls = "app" if i == app else ("lib" if library_file(f.get("file") or "") else "")
        out.append('<tr class="%s"><td class="n">%d</td><td>%s%s</td><td>%s%s</td></tr>' % (
            cls, i + 1, esc(pyfile(f.get("file"))), ":%d" % f["line"] if f.get("line") else "",
            esc(f.get("function") or "???"), ' <span class="tag">app</span>' if i == app else ""))
    out.append("</tbody></table>")
    return out


def html_frames_native(site):
    native = site.get("native") or []
    if not native:
        return []

    def row(k, f):
        loc = "%s:%s" % (f["file"], f.get("line") or "?") if f.get("file") else ""
        return '<tr><td class="n">%d</td><td>%s</td><td>%s</td><td class="mod">%s+%s</td></tr>' % (
            k + 1, esc(f.get("function") or "???"), esc(loc),
            esc(base_name(f.get("module") or "?")), esc(f.get("offset") or "?"))

    # A Python site's interpreter frames say little: folded, as the text report does.
    shown = len(native)
    if site.get("python"):
        shown = next((k for k, f in enumerate(native) if interpreter_frame(f)), len(native))
    out = ['<div class="stack-title">Native stack</div>']
    if shown:
        out += ['<table class="frames"><tbody>'] + [row(k, f) for k, f in
                                                     enumerate(native[:shown])]
        out.append("</tbody></table>")
    if shown < len(native):
        out.append('<details class="more"><summary>%s in the interpreter</summary>'
                   '<table class="frames"><tbody>' % plural(len(native) - shown, "frame",
                                                             "frames"))
        out += [row(k, f) for k, f in enumerate(native) if k >= shown]
        out.append("</tbody></table></details>")
    return out


def html_peer_text(p):
    extra = ", ".join(x for x in (p.get("role"), p.get("type")) if x)
    return "%s%s" % (p.get("peer") or "?", " (%s)" % extra if extra else "")


def html_site_detail(report, site, leaks):
    out = ['<div class="detail">', '<div class="keyline">site %d%s in pid %d</div>' % (
        site["id"], ", key <code>%s</code>" % esc(site["key"]) if site.get("key") else "",
        report.pid)]
    life = site.get("lifetime") or {}
    if life.get("count"):
        out.append('<div class="keyline">lifetime of %s closed: median %s, 90%% under %s</div>'
                   % (life["count"], html_duration(life.get("median_s")) or "?",
                      html_duration(life.get("p90_s")) or "?"))
    if leaks:
        out.append('<div class="stack-title">Leaked descriptors</div><table class="leaks">'
                   '<thead><tr><th>fd</th><th>kind</th><th>description</th><th>via</th>'
                   '<th>age</th></tr></thead><tbody>')
        for e in leaks[:HTML_LEAKS_SHOWN]:
            out.append('<tr><td class="num">%d</td><td>%s</td><td><code>%s</code></td>'
                       '<td>%s</td><td class="num">%s</td></tr>' % (
                           e["fd"], esc(e.get("kind") or "?"), esc(e.get("desc") or ""),
                           esc(e.get("via") or ""), html_duration(e.get("age"))))
        out.append("</tbody></table>")
        if len(leaks) > HTML_LEAKS_SHOWN:
            out.append('<div class="muted">… and %d more</div>' % (len(leaks) - HTML_LEAKS_SHOWN))
    peers = site.get("peers") or []
    if peers:
        out.append('<div class="stack-title">Peers</div><table class="leaks"><thead><tr>'
                   '<th>peer</th><th>open</th><th>created</th><th>closed</th>'
                   '<th>median lifetime</th></tr></thead><tbody>')
        for p in peers:
            out.append('<tr><td><code>%s</code></td><td class="num">%s</td><td class="num">%s'
                       '</td><td class="num">%s</td><td class="num">%s</td></tr>' % (
                           esc(html_peer_text(p)), html_count(p.get("open")),
                           html_count(p.get("created")), html_count(p.get("closed")),
                           html_duration((p.get("lifetime") or {}).get("median_s"))))
        out.append("</tbody></table>")
    out += html_frames_python(site) + html_frames_native(site)
    out.append("</div>")
    return out


def html_badge(pattern):
    # the class comes from a fixed list, never from the report
    cls = "p-" + pattern if pattern in HTML_PATTERNS else "p-other"
    return '<span class="badge %s">%s</span>' % (cls, esc(pattern or "finding"))


def render_html(all_reports):
    reports = counted(all_reports)
    tree = process_tree(reports)
    order = [r for _, r in tree]
    pids = sorted({r.pid for r in reports})
    several = len(pids) > 1
    root = order[0]
    # site rows: "s<k>-<id>", k the report's place in the tree (ids are per process)
    anchor = {}
    rows = []
    for k, r in enumerate(order):
        by_site = {}
        for leak in r.leaks:
            by_site.setdefault(leak.get("site"), []).append(leak)
        for s in r.sites:
            leaks = by_site.get(s["id"], [])
            if leaks or s.get("created") or s.get("open"):
                rows.append((k, r, s, leaks))
    rows.sort(key=lambda x: (-(x[2].get("open") or 0), -len(x[3]), -(x[2].get("created") or 0),
                             -(x[2].get("closed") or 0), x[0], x[2]["id"]))
    left_out = len(rows) - HTML_SITES_SHOWN
    rows = rows[:HTML_SITES_SHOWN]
    for k, r, s, _ in rows:
        anchor[(id(r), s["id"])] = "s%d-%d" % (k, s["id"])

    def site_link(r, sid, text):
        name = anchor.get((id(r), sid))
        return '<a href="#%s">%s</a>' % (name, text) if name else text

    # charts: the busiest sites of each process that has a time series
    charts = []
    for k, r in enumerate(order):
        got = html_series(r, all_reports)
        if not got:
            continue
        times, series, source = got
        top = sorted((sid for sid in series if max(series[sid]) > 0),
                     key=lambda sid: (-max(series[sid]), -series[sid][-1], sid))
        top = top[:HTML_CHART_SITES]
        if top:
            charts.append((k, r, times, series, source, top))

    total_leaks = sum(len(r.leaks) for r in reports)
    leak_sites = sum(len({l.get("site") for l in r.leaks}) for r in reports)
    title = "fdleak: %s" % (" ".join(root.argv) or "?")
    out = ['<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">',
           '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
           'style-src \'unsafe-inline\'; script-src \'unsafe-inline\'; img-src data:">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<title>%s</title>' % esc(title[:200]), '<style>', HTML_CSS, '</style>', '</head>',
           '<body>', '<main>',
           # onerror first, in a script of its own: it must catch a syntax error in the main one
           '<div id="js-errors" class="js-errors" hidden></div>',
           '<script>', HTML_ONERROR, '</script>']

    # 1. header
    out.append('<header><h1>fdleak report</h1><div class="summary">%s</div><dl class="meta">'
               % esc("%s leaked from %s%s" % (
                   plural(total_leaks, "descriptor", "descriptors"),
                   plural(leak_sites, "site", "sites"),
                   " in %s" % plural(len(pids), "process", "processes") if several else "")))

    def meta(name, value_html):
        out.append("<dt>%s</dt><dd>%s</dd>" % (name, value_html))

    meta("Program", "<code>%s</code>" % esc(root.command()))
    meta("PID" if not several else "PIDs", esc(", ".join(str(p) for p in pids[:20]) +
                                             (" …" if len(pids) > 20 else "")))
    meta("Trigger", esc(", ".join(sorted({r.trigger for r in reports}))) +
         (" (%s)" % esc(root.data["label"]) if root.data.get("label") else "") +
         (" — killed by %s" % esc(root.data["signal"]) if root.data.get("signal") else ""))
    meta("Time", esc(html_time(max((r.data.get("time") or 0) for r in reports) or None)))
    d = root.data
    meta("Descriptors", "%s open · limit %s · peak %s%s" % (
        html_count(d.get("open"), "?"), html_count(d.get("limit"), "?"),
        html_count(d.get("peak"), "?"),
        " (pid %d)" % root.pid if several else ""))
    snapshots = len(all_reports) - len(reports)
    meta("Reports", esc("%s%s" % (plural(len(all_reports), "report", "reports"),
                                  "; the tables use the last of each process, %s left out" %
                                  plural(snapshots, "earlier snapshot", "earlier snapshots")
                                  if snapshots else "")))
    out.append("</dl>")
    # the chart comes last but is what shows growth at a glance: one click away
    sections = [("findings", "Findings"), ("sites", "Sites")]
    sections += [("processes", "Process tree")] if several else []
    sections += [("chart", "Open descriptors over time")] if charts else []
    out.append('<nav class="toc">%s</nav></header>' % "".join(
        '<a href="#%s">%s</a>' % s for s in sections))

    # 2. findings
    out.append('<section id="findings"><h2>Findings</h2>')
    found = [(r, f) for r in order for f in (r.data.get("findings") or [])]
    if not found:
        out.append('<p class="empty">No findings%s.</p>' % (
            "" if any("findings" in r.data for r in reports) else
            " (these reports predate findings)"))
    for r, f in found:
        out.append('<article class="finding"><div class="finding-head">%s <span class="ftitle">'
                   '%s</span>%s</div>' % (html_badge(f.get("pattern")), esc(f.get("title") or ""),
                                         ' <span class="muted">pid %d</span>' % r.pid
                                         if several else ""))
        if f.get("sites"):
            out.append('<ul class="fsites">')
            for s in f["sites"]:
                ids = s.get("ids") or []
                text = "<code>%s</code>" % esc(s.get("at") or (
                    html_headline(r.site_by_id[ids[0]]) if ids and ids[0] in r.site_by_id
                    else "?"))
                links = [site_link(r, sid, "site %d" % sid) for sid in ids[:8]]
                counts = " · ".join("%s %s" % (n, s[n]) for n in ("open", "created", "closed")
                                    if s.get(n) is not None)
                first = next((sid for sid in ids if (id(r), sid) in anchor), None)
                out.append('<li>%s <span class="muted">%s%s</span></li>' % (
                    site_link(r, first, text) if first is not None else text, counts,
                    " — " + ", ".join(links) + (" …" if len(ids) > 8 else "") if links else ""))
            out.append("</ul>")
        if f.get("peer"):
            out.append('<div class="fpeer">peer <code>%s</code></div>' % esc(f["peer"]))
        if f.get("evidence"):
            # keys over values, side by side: a finding stays a few lines tall
            items = list(f["evidence"].items())
            out.append('<table class="kv"><thead><tr>%s</tr></thead><tbody><tr>%s</tr></tbody>'
                       '</table>' % ("".join("<th>%s</th>" % esc(k) for k, _ in items),
                                     "".join("<td>%s</td>" % html_evidence(k, v)
                                             for k, v in items)))
        if f.get("advice"):
            out.append('<p class="advice">%s</p>' % esc(f["advice"]))
        out.append("</article>")
    out.append("</section>")

    # 3. sites
    out.append('<section id="sites"><h2>Sites</h2>')
    if not rows:
        out.append('<p class="empty">No site created a descriptor.</p>')
    else:
        out.append('<p class="muted">%s that leaked or created descriptors, busiest first%s. '
                   'Click a site for its stacks and leaked descriptors.</p>' % (
                       plural(len(rows) + max(left_out, 0), "site", "sites"),
                       "; the %d busiest shown, %d left out" % (len(rows), left_out)
                       if left_out > 0 else ""))
        out.append('<div id="site-tools" class="tools"></div>')
        out.append('<table id="sites-table" class="sites sortable"><thead><tr>'
                   '<th data-sort="text" class="c-site">site</th>%s'
                   '<th data-sort="num" class="num" aria-sort="descending">open</th>'
                   '<th data-sort="num" class="num">created</th>'
                   '<th data-sort="num" class="num" title="closed descriptors: the churn">'
                   'closed (churn)</th>'
                   '<th data-sort="num" class="num">median lifetime</th>'
                   '<th data-sort="text" class="c-peers">peers</th></tr></thead>'
                   % ('<th data-sort="num" class="num">pid</th>' if several else ""))
        for k, r, s, leaks in rows:
            head = html_headline(s)
            badges = ""
            if s.get("growing"):
                badges += ' <span class="badge p-growing">growing +%.0f/h</span>' % (
                    s.get("growth_per_hour") or 0)
            if leaks:
                badges += ' <span class="badge p-leak">%s</span>' % plural(len(leaks), "leak",
                                                                          "leaks")
            median = (s.get("lifetime") or {}).get("median_s")
            peers = s.get("peers") or []
            peer_cell = "".join('<div class="peer"><code>%s</code> <span class="muted">%s</span>'
                                '</div>' % (esc(p.get("peer") or "?"), esc(p.get("role") or ""))
                                for p in peers[:HTML_PEERS_SHOWN])
            if len(peers) > HTML_PEERS_SHOWN:
                peer_cell += '<div class="muted">+%d more</div>' % (len(peers) - HTML_PEERS_SHOWN)
            # the id tells apart sites with one label (two stacks through one line)
            cells = ['<td class="c-site" data-v="%s"><details><summary><code>%s</code> '
                     '<span class="sid">#%d</span>%s</summary></details></td>' % (
                         esc(head), esc(head), s["id"], badges)]
            if several:
                cells.append('<td class="num" data-v="%d">%d</td>' % (r.pid, r.pid))
            for name in ("open", "created", "closed"):
                cells.append('<td class="num" data-v="%d">%d</td>' % (s.get(name) or 0,
                                                                      s.get(name) or 0))
            cells.append('<td class="num" data-v="%s">%s</td>' % (
                "" if median is None else repr(float(median)), html_duration(median)))
            cells.append('<td class="c-peers" data-v="%s">%s</td>' % (
                esc(" ".join(p.get("peer") or "" for p in peers)), peer_cell))
            # One tbody per site: its row, then its detail across the whole table, shown while
            # the row's <details> is open (CSS :has, no script); sorting moves the tbody.
            out.append('<tbody id="%s" class="site"><tr class="main">%s</tr>'
                       '<tr class="more"><td colspan="%d">' % (
                           anchor[(id(r), s["id"])], "".join(cells), len(cells)))
            out += html_site_detail(r, s, leaks)
            out.append("</td></tr></tbody>")
        out.append("</table>")
    out.append("</section>")

    # 4. process tree
    if several:
        out.append('<section id="processes"><h2>Process tree</h2><table class="procs"><thead>'
                   '<tr><th>pid</th><th class="num">ppid</th><th>trigger</th>'
                   '<th class="num">leaks</th><th class="num">open</th><th class="num">peak</th>'
                   '<th>program</th></tr></thead><tbody>')
        for depth, r in tree:
            out.append('<tr><td style="padding-left:%dpx">%s%d</td><td class="num">%s</td>'
                       '<td>%s</td><td class="num">%d</td><td class="num">%s</td>'
                       '<td class="num">%s</td><td><code>%s</code></td></tr>' % (
                           8 + 18 * depth, "└ " if depth else "", r.pid,
                           r.ppid if r.ppid is not None else "", esc(r.trigger), len(r.leaks),
                           html_count(r.data.get("open")), html_count(r.data.get("peak")),
                           esc(r.command())))
        out.append("</tbody></table></section>")

    # 5. charts
    if charts:
        out.append('<section id="chart"><h2>Open descriptors over time</h2>')
        for k, r, times, series, source, top in charts:
            lines = []
            legend = []
            for n, sid in enumerate(top):
                values = series[sid]
                site = r.site_by_id.get(sid)
                label = html_headline(site) if site else "site %d" % sid
                rise = values[-1] - values[0]
                grows = bool(site and site.get("growing"))
                lines.append((label, values, HTML_COLORS[n], 3 if grows or rise > 0 else 1.8))
                legend.append('<li><span class="swatch" style="background:%s"></span>%s '
                              '<span class="muted">peak %g, last %g</span>%s%s</li>' % (
                                  HTML_COLORS[n], site_link(r, sid, "<code>%s</code>" % esc(label)),
                                  max(values), values[-1],
                                  ' <span class="rise">▲ +%g</span>' % rise if rise > 0 else "",
                                  ' <span class="badge p-growing">growing</span>' if grows else ""))
            out.append('<figure><figcaption>pid %d <code>%s</code> <span class="muted">'
                       '(%s, %s)</span></figcaption>' % (
                           r.pid, esc(r.command()[:120]), esc(source),
                           plural(len(top), "busiest site", "busiest sites")))
            out += html_chart(times, lines)
            out.append('<ul class="legend">%s</ul></figure>' % "".join(legend))
        out.append("</section>")

    out += ['<footer>Written by <code>fdleak report --html</code> from %s.</footer>' % plural(
        len(all_reports), "report", "reports"), '</main>', '<script>', HTML_SCRIPT, '</script>',
        '</body>', '</html>', '']
    return "\n".join(out)


def write_page(path, text):
    """Written to a temporary name, then renamed: the page is complete or absent."""
    if path == "-":
        sys.stdout.write(text)
        return
    tmp = "%s.tmp%d" % (path, os.getpid())
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ToolError("cannot write %s: %s" % (path, e.strerror))


HTML_ONERROR = r"""
// Any script error shows on the page (and in the DOM a test dumps), instead of a silent
// half-sorted table.
window.onerror = function (message, source, line) {
  var box = document.getElementById("js-errors");
  box.hidden = false;
  box.textContent += "script error: " + message + " (line " + line + ")\n";
  return false;
};
"""

HTML_SCRIPT = r"""
(function () {
  "use strict";
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  document.documentElement.className += " js";

  // Sorting: numbers from data-v (a lifetime may be missing: it sorts last), text otherwise.
  // The first click on a number column puts the biggest first. Each site is a tbody (its row
  // and its detail row), so whole tbodies move.
  each(document.querySelectorAll("table.sortable"), function (table) {
    var heads = table.querySelectorAll("th[data-sort]");
    each(heads, function (th) {
      th.tabIndex = 0;
      var sort = function () {
        var col = th.cellIndex, num = th.getAttribute("data-sort") === "num";
        var was = th.getAttribute("aria-sort");
        var desc = was ? was === "ascending" : num;
        var key = function (body) {
          var cell = body.rows[0].cells[col], v = cell.getAttribute("data-v");
          if (v === null) v = cell.textContent;
          if (!num) return v.toLowerCase();
          return v === "" ? null : parseFloat(v);
        };
        var rows = Array.prototype.slice.call(table.tBodies).map(function (body, i) {
          return { body: body, key: key(body), i: i };
        });
        rows.sort(function (a, b) {
          if (a.key === b.key) return a.i - b.i;
          if (a.key === null) return 1;
          if (b.key === null) return -1;
          var c = a.key < b.key ? -1 : 1;
          return desc ? -c : c;
        });
        rows.forEach(function (r) { table.appendChild(r.body); });
        each(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", desc ? "descending" : "ascending");
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
      });
    });
  });

  // Expand or collapse every site at once.
  var tools = document.getElementById("site-tools");
  if (tools) {
    [["expand all", true], ["collapse all", false]].forEach(function (b) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = b[0];
      button.addEventListener("click", function () {
        each(document.querySelectorAll("#sites-table td.c-site details"),
             function (d) { d.open = b[1]; });
      });
      tools.appendChild(button);
    });
  }

  // A link to a site (from a finding or the chart's legend) opens its row.
  var openTarget = function () {
    var target = location.hash && document.getElementById(location.hash.slice(1));
    var details = target && target.querySelector("details");
    if (details) details.open = true;
  };
  window.addEventListener("hashchange", openTarget);
  openTarget();

  document.body.setAttribute("data-ready", "1");
})();
"""

HTML_CSS = """
:root { --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --soft: #f6f8fa; --link: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
       font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
             sans-serif; }
main { max-width: 1280px; margin: 0 auto; padding: 18px 24px 32px; }
code, .fn, .loc, .mod, .frames, .keyline code {
  font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-size: 12px; }
code { overflow-wrap: anywhere; }
a { color: var(--link); text-decoration: none; }
a:hover { text-decoration: underline; }
h1 { font-size: 20px; margin: 0 0 2px; }
h2 { font-size: 15px; margin: 26px 0 10px; padding-bottom: 4px;
     border-bottom: 1px solid var(--line); }
.summary { font-size: 15px; margin-bottom: 10px; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 0;
        padding: 10px 14px; background: var(--soft); border: 1px solid var(--line);
        border-radius: 6px; }
.meta dt { color: var(--muted); }
.meta dd { margin: 0; }
.muted, .empty { color: var(--muted); }
.js-errors { white-space: pre-wrap; background: #ffebe9; border: 1px solid #ff8182;
             color: #82071e; padding: 8px 12px; border-radius: 6px; margin-bottom: 12px; }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 11px;
         font-weight: 600; line-height: 18px; white-space: nowrap; border: 1px solid transparent; }
.p-never-closed { background: #ffebe9; color: #a40e26; border-color: #ffcecb; }
.p-duplicate-clients { background: #fff1e5; color: #953800; border-color: #ffd8b5; }
.p-pool-per-operation { background: #ddf4ff; color: #0550ae; border-color: #b6e3ff; }
.p-growing { background: #fbefff; color: #8250df; border-color: #ecd8ff; }
.p-leak { background: #fff8c5; color: #7d4e00; border-color: #f5e0a0; }
.p-other { background: var(--soft); color: var(--fg); border-color: var(--line); }
.finding { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px;
           margin-bottom: 10px; }
.finding-head { margin-bottom: 4px; }
.ftitle { font-weight: 600; font-size: 14px; }
.fsites { margin: 4px 0; padding-left: 20px; }
.fpeer { margin: 4px 0; }
.advice { margin: 6px 0 0; padding: 6px 10px; background: var(--soft);
          border-left: 3px solid var(--link); }
table { border-collapse: collapse; }
.kv { margin: 6px 0 4px; }
.kv th, .kv td { text-align: left; padding: 0 22px 0 0; font-weight: normal; white-space: nowrap; }
.kv th { color: var(--muted); font-size: 11px; }
.kv td { font-variant-numeric: tabular-nums; }
.sites { width: 100%; }
.procs { min-width: 60%; }
.sid { color: #8c959f; font-size: 11px; }
.sites > * > tr > th, .sites > * > tr > td, .procs th, .procs td { padding: 4px 8px;
        border-bottom: 1px solid var(--line); vertical-align: top; text-align: left; }
.sites > thead th, .procs thead th { background: var(--soft); font-weight: 600; white-space: nowrap;
        position: sticky; top: 0; z-index: 1; }
.sites > * > tr > .num, .procs .num, .leaks .num { text-align: right;
        font-variant-numeric: tabular-nums; white-space: nowrap; }
.sites tr.main:hover { background: #f8fafc; }
.sites tbody:has(td.c-site details:not([open])) tr.more { display: none; }
.sites tbody:has(td.c-site details[open]) tr.main td { border-bottom: 0; background: #f6f8fa; }
.sites tr.more > td { padding: 0 8px 10px 26px; background: #fbfcfd; }
.sites td.c-site details summary { list-style-position: outside; }
.c-site { width: 52%; }
.c-peers { min-width: 190px; }
.peer { white-space: nowrap; }
nav.toc { margin: 10px 0 0; font-size: 12px; }
nav.toc a { margin-right: 14px; }
.js th[data-sort] { cursor: pointer; user-select: none; }
.js th[data-sort]::after { content: " ↕"; color: #b0b8c1; }
.js th[aria-sort="descending"]::after { content: " ▼"; color: var(--fg); }
.js th[aria-sort="ascending"]::after { content: " ▲"; color: var(--fg); }
summary { cursor: pointer; }
.sites summary code { font-size: 12.5px; }
.detail { margin: 2px 0 0; }
.keyline { color: var(--muted); margin: 2px 0; }
.stack-title { font-weight: 600; margin: 8px 0 2px; }
.frames { border-collapse: collapse; margin: 0 0 2px; }
.frames td { padding: 0 12px 0 0; vertical-align: top; white-space: pre-wrap;
             overflow-wrap: anywhere; }
.frames td.n { color: #8c959f; text-align: right; padding-right: 8px; min-width: 26px; }
.frames tr.lib td { color: var(--muted); }
.frames tr.app td { font-weight: 600; }
.frames tr.task td { color: #8250df; font-style: italic; padding-top: 2px;
                     font-family: system-ui, sans-serif; }
.frames .mod { color: var(--muted); }
.tag { font-family: system-ui, sans-serif; font-size: 10px; background: #dafbe1; color: #116329;
       padding: 0 5px; border-radius: 8px; }
.more summary { color: var(--muted); margin-left: 14px; }
.leaks { margin: 2px 0 4px; }
.leaks th, .leaks td { padding: 1px 10px 1px 0; text-align: left; border: 0; font-weight: normal; }
.leaks th { color: var(--muted); }
.tools { margin: 0 0 6px; }
.tools button { font: inherit; font-size: 12px; margin-right: 6px; padding: 2px 10px;
                border: 1px solid var(--line); border-radius: 6px; background: var(--soft);
                cursor: pointer; }
figure { margin: 0 0 18px; }
figcaption { margin-bottom: 4px; }
.chart { width: 100%; max-width: 960px; height: auto; display: block; border: 1px solid var(--line);
         border-radius: 6px; background: #fff; }
.chart .grid { stroke: #eaeef2; }
.chart .axis, .chart .xtick { stroke: #8c959f; }
.chart .tick { font-size: 11px; fill: var(--muted); }
.chart .label { font-size: 11px; fill: var(--muted); }
.chart .series { fill: none; stroke-linejoin: round; stroke-linecap: round; }
.legend { list-style: none; padding: 0; margin: 6px 0 0; columns: 2; column-gap: 24px; }
.legend li { margin: 2px 0; break-inside: avoid; }
.swatch { display: inline-block; width: 14px; height: 4px; border-radius: 2px;
          vertical-align: middle; margin-right: 6px; }
.rise { color: #cf222e; font-weight: 600; font-size: 12px; }
footer { margin-top: 28px; color: var(--muted); font-size: 12px; }
@media print { .tools { display: none; } }
"""


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
    if "--html" in options:
        for r in reports:
            check_html_fields(r.path, r.data)
    if "--symbolize" in options:
        symbolize(reports)
    if "--html" in options:
        # the page shows every process and the tree already: --merge changes nothing there
        write_page(options["--html"], render_html(reports))
        return EXIT_OK
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
    with_value = {"report": ("--html",), "baseline": (), "check": ("--baseline",)}[command]
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
