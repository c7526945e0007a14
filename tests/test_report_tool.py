#!/usr/bin/python3
"""Tests of the report tools (the package scripts/python/fdleak) through the launcher:
fdleak report [--symbolize] [--merge], fdleak baseline, fdleak check.

    test_report_tool.py --lib build/src/libfdleak.so --launcher scripts/fdleak

Real reports: a small C program compiled here (gcc -g -O0) run under the library, once leaking
at one site (open_null, called from two lines: two sites, one key) and once with an extra site
(make_pipe); and a Python program (/usr/bin/python3) whose forked child leaks too. Checks:
- report: the same text as the library's own text report of the same programs (addresses, pids,
  ages and inodes aside), one block per report;
- --symbolize: with file and line deleted from the native frames, the program's frames get
  their leak.c:NN back from addr2line; without addr2line, one line on stderr and no change;
- --merge: both processes of the fork, the child indented under its parent, counts per
  process and in total, leaks grouped by key;
- baseline then check on the same reports: exit 0 and the one-line summary; the extra site:
  exit 1 naming its key, headline and process; malformed or missing inputs and bad options:
  exit 2 with one line; `fdleak -- report` still runs a program called report.
- --html: a report without the newer fields (findings, snapshots, lifetimes, peers) renders;
  text from a report (a function named <script>…, quotes, control characters, a lone
  surrogate) is escaped; two reports of one process make a chart; malformed new fields, an
  unwritable page or a missing value exit 2 with one line and write nothing.
Every failure prints what was expected and what came. Exit status 0 when all pass, 1 if not.
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from harness import clean_env, load_report

LEAK_C = r"""
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int open_null(void)
{
    return open("/dev/null", O_RDONLY); /* OPEN_LINE */
}

static int make_pipe(int p[2])
{
    return pipe(p); /* PIPE_LINE */
}

int main(int argc, char **argv)
{
    int p[2];
    open_null();
    open_null();
    if (argc > 1 && !strcmp(argv[1], "more"))
        make_pipe(p);
    if (argc > 1 && !strcmp(argv[1], "snapshot"))
        raise(SIGUSR1); /* a signal report now, the exit report later: the same leaks twice */
    return 0;
}
"""

FORKER_PY = """\
import asyncio
import os
import socket
import tempfile

keep = []


def parent_leak():
    keep.append(open("/dev/null"))  # PARENT_LINE


def child_leak():
    keep.append(socket.socket())  # CHILD_LINE


async def in_task():
    # three standard-library frames (folded in the text) under a task's own frame
    keep.append(tempfile.NamedTemporaryFile())  # TASK_LINE


async def start_task():
    await asyncio.get_running_loop().create_task(in_task())


parent_leak()
asyncio.run(start_task())
pid = os.fork()
if pid == 0:
    child_leak()
    child_leak()
    os._exit(0)
os.waitpid(pid, 0)
"""

failures = []


def fail(what, expected, actual):
    failures.append(what)
    print("FAIL %s\n  expected: %s\n  actual:   %s" % (what, expected, actual))


def expect(what, actual, expected):
    if actual != expected:
        fail(what, repr(expected), repr(actual))


def expect_in(what, needle, text):
    if needle not in text:
        fail(what, "text containing %r" % needle, "\n" + text)


def line_of(source, marker):
    return next(n for n, line in enumerate(source.splitlines(), 1) if marker in line)


class Env:
    def __init__(self, args, tmp):
        self.lib = os.path.abspath(args.lib)
        self.launcher = os.path.abspath(args.launcher)
        self.tmp = tmp
        # the tests set the FDLEAK_* they need; nothing from the caller's environment
        self.env = clean_env(python=True)
        # Runs of one program are compared site id by site id: a run that byte-compiles the
        # start-up hook (its first) opens descriptors the next does not, and its ids shift.
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"

    def run_under(self, cmd, out_dir, fmt="json", launcher=False):
        """Runs CMD with the library preloaded, its reports in OUT_DIR (one per process):
        through plain LD_PRELOAD, or through the launcher (which adds the Python start-up hook
        that follows asyncio tasks to their creators)."""
        os.makedirs(out_dir, exist_ok=True)
        ext = "json" if fmt == "json" else "txt"
        output = os.path.join(out_dir, "r-%p." + ext)
        if launcher:
            cmd = [self.launcher, "--format", fmt, "-o", output, "--"] + cmd
            env = dict(self.env, FDLEAK_LIBRARY=self.lib)
        else:
            env = dict(self.env, LD_PRELOAD=self.lib, FDLEAK_FORMAT=fmt, FDLEAK_OUTPUT=output)
        p = subprocess.run(cmd, cwd=self.tmp, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if p.returncode != 0:
            raise SystemExit("%s exited with %d: %s" % (cmd, p.returncode, p.stderr.decode()))
        return sorted(glob.glob(os.path.join(out_dir, "*." + ext)))

    def tool(self, *args, env=None):
        """fdleak ARGS through the launcher, from the temporary directory: (status, out, err)."""
        p = subprocess.run([self.launcher] + list(args), cwd=self.tmp,
                           env=self.env if env is None else env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def load(path):
    """A report the library wrote, validated (harness.load_report)."""
    return load_report(path)


def load_json(path):
    """A JSON file this test wrote itself (reports as older fdleaks wrote them): not validated."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def normalize(text):
    """What differs between two runs of one program: addresses, pids, ages, inodes."""
    text = re.sub(r"0x[0-9a-f]+", "0xPC", text)
    text = re.sub(r"pid \d+", "pid N", text)
    text = re.sub(r"age [0-9.]+s", "age As", text)
    text = re.sub(r"\[\d+\]", "[I]", text)
    text = re.sub(r"/tmp/tmp\w+", "/tmp/tmpNAME", text)
    text = re.sub(r"[0-9.]+ (µs|ms|s|min|h)\b", "T", text)  # durations in finding titles
    text = re.sub(r"\+[0-9]+ per hour", "+R per hour", text)
    return text.replace("(FDLEAK_FORMAT=json lists them)", "(in the JSON report)")


def leaking_keys(paths):
    """{key: leaks} summed over the reports, as the baseline must say."""
    keys = {}
    for path in paths:
        r = load(path)
        by_id = {s["id"]: s for s in r["sites"]}
        for leak in r["leaks"]:
            key = by_id[leak["site"]]["key"]
            keys[key] = keys.get(key, 0) + 1
    return keys


# ---------------------------------------------------------------- the checks

def check_report_text(e, json_paths, text_paths, what):
    """`fdleak report` of each JSON report is the library's text report of another run of the
    same program (blocks compared as a set: the order of processes may differ)."""
    status, out, err = e.tool("report", *json_paths)
    expect("%s: report exit status (stderr %r)" % (what, err), status, 0)
    got = sorted(normalize(block.strip("\n")) for block in out.split("\n\n"))
    want = []
    for path in text_paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            want.append(normalize(f.read().strip("\n")))
    want.sort()
    if got != want:
        fail("%s: report text differs from the library's own text report" % what,
             "\n" + "\n----\n".join(want), "\n" + "\n----\n".join(got))
    for path in json_paths:
        r = load(path)
        expect_in("%s: header of pid %d" % (what, r["pid"]),
                  "fdleak: %d descriptor%s leaked from " % (len(r["leaks"]),
                                                          "" if len(r["leaks"]) == 1 else "s")
                  + "%d site" % len({l["site"] for l in r["leaks"]}), out)
        for leak in r["leaks"]:
            expect_in("%s: fd line of fd %d" % (what, leak["fd"]),
                      "fdleak:    fd %d  %s  %s  (via %s, age " % (
                          leak["fd"], leak["kind"], leak["desc"], leak["via"]), out)
    return out


def check_symbolize(e, report_path, open_line):
    """Frames without file:line get them from addr2line."""
    data = load(report_path)
    module = os.path.join(e.tmp, "leak")
    for site in data["sites"]:
        for f in site["native"]:
            f["file"] = None
            f["line"] = None
        site.pop("at", None)  # the library's labels carry file:line too
    data.pop("findings", None)
    stripped = os.path.join(e.tmp, "stripped.json")
    with open(stripped, "w", encoding="utf-8") as f:
        json.dump(data, f)

    status, plain, err = e.tool("report", stripped)
    expect("report of the stripped report: status (stderr %r)" % err, status, 0)
    if "leak.c:" in plain:
        fail("the stripped report has no file:line", "no 'leak.c:'", "\n" + plain)

    status, out, err = e.tool("report", "--symbolize", stripped)
    expect("report --symbolize: status", status, 0)
    expect("report --symbolize: stderr", err, "")
    expect_in("--symbolize restores the innermost frame's line",
              "open_null (leak.c:%d) in %s" % (open_line, module), out)
    # every frame in the program itself: the same file:line the library found
    status, original, _ = e.tool("report", report_path)
    ours = [l for l in original.splitlines() if l.endswith(" in " + module) and "(leak.c:" in l]
    for line in ours:
        expect_in("--symbolize gives the library's file:line", line, out)
    if not ours:
        fail("the library's own report names leak.c lines", "frames with (leak.c:N)", original)

    # no addr2line on PATH: said once, report unchanged
    bare = os.path.join(e.tmp, "emptybin")
    os.makedirs(bare, exist_ok=True)
    status, out, err = e.tool("report", "--symbolize", stripped, env=dict(e.env, PATH=bare))
    expect("--symbolize without addr2line: status", status, 0)
    expect("--symbolize without addr2line: one line on stderr", len(err.splitlines()), 1)
    expect_in("--symbolize without addr2line: says so", "addr2line not found", err)
    expect("--symbolize without addr2line: the report as without --symbolize", out, plain)


def check_merge(e, paths):
    """The fork: both processes, the child under its parent, per-process and total counts."""
    reports = [load(p) for p in paths]
    parent = next(r for r in reports if r["ppid"] not in [x["pid"] for x in reports])
    child = next(r for r in reports if r["ppid"] == parent["pid"])
    status, out, err = e.tool("report", "--merge", *paths)
    expect("report --merge: status (stderr %r)" % err, status, 0)
    total = len(parent["leaks"]) + len(child["leaks"])
    keys = leaking_keys(paths)
    expect_in("--merge: totals", "fdleak: %d descriptors leaked from %d sites in 2 processes"
              % (total, len(keys)), out)
    lines = out.splitlines()
    plines = [k for k, line in enumerate(lines)
              if re.match(r"fdleak: +pid %d +exit" % parent["pid"], line)]
    clines = [k for k, line in enumerate(lines)
              if re.match(r"fdleak: +pid %d +exit" % child["pid"], line)]
    if len(plines) != 1 or len(clines) != 1:
        fail("--merge: one tree line per process", "one line each for pids %d and %d"
             % (parent["pid"], child["pid"]), "\n" + out)
        return
    pl, cl = lines[plines[0]], lines[clines[0]]
    indent = len(pl) - len(pl[len("fdleak:"):].lstrip()) - len("fdleak:")
    cindent = len(cl) - len(cl[len("fdleak:"):].lstrip()) - len("fdleak:")
    if not (clines[0] > plines[0] and cindent > indent):
        fail("--merge: the child indented under its parent", "pid %d after and deeper than pid %d"
             % (child["pid"], parent["pid"]), "\n" + pl + "\n" + cl)
    for r, line in ((parent, pl), (child, cl)):
        n = len(r["leaks"])
        expect_in("--merge: leak count of pid %d" % r["pid"],
                  "%d leak%s" % (n, "" if n == 1 else "s"), line)
        expect_in("--merge: argv of pid %d" % r["pid"], " ".join(r["argv"]), line)
    # the child's two sockets: two sites (two calling lines), one key, both counted under it
    by_id = {s["id"]: s for s in child["sites"]}
    ckeys = {by_id[l["site"]]["key"] for l in child["leaks"]}
    expect("the child's leaks share one key", len(ckeys), 1)
    key = ckeys.pop()
    n = len(child["leaks"])
    expect_in("--merge: the child's site grouped by key, with its total",
              "fdleak: %d descriptors leaked at forker.py:%d in child_leak (key %s), in 1 "
              "process:" % (n, line_of(FORKER_PY, "CHILD_LINE"), key), out)
    expect_in("--merge: the child's per-process count",
              "fdleak:    pid %d: %d  (%s)" % (child["pid"], n, " ".join(child["argv"])), out)
    expect_in("--merge: the parent's site", "fdleak: 1 descriptor leaked at forker.py:%d in "
              "parent_leak" % line_of(FORKER_PY, "PARENT_LINE"), out)


def check_snapshots(e, snapshot, first):
    """A signal report, then the exit report of the same process: its leaks count once."""
    triggers = sorted(load(p)["trigger"] for p in snapshot)
    expect("./leak snapshot writes a signal and an exit report", triggers, ["exit", "signal"])
    status, out, err = e.tool("baseline", *snapshot)
    expect("baseline of two snapshots: status (stderr %r)" % err, status, 0)
    expect("baseline of two snapshots: the leaks of the last one only",
           [(s["key"], s["leaks"]) for s in json.loads(out)["sites"]],
           sorted(leaking_keys(first).items()))
    status, out, err = e.tool("report", "--merge", *snapshot)
    expect_in("--merge of two snapshots: the earlier one left out",
              "fdleak: 2 descriptors leaked from 1 site in 1 process (1 report; 1 earlier "
              "snapshot left out)\n", out)
    status, out, err = e.tool("report", *snapshot)
    expect_in("report of two snapshots: both, the signal one marked",
              ", ./leak snapshot) [signal]\n", out)
    expect("report of two snapshots: two reports", out.count("\n\nfdleak: 2 descriptors leaked"),
           1)


def check_baseline(e, first, second, open_line, pipe_line):
    base = os.path.join(e.tmp, "base.json")
    status, out, err = e.tool("baseline", *first)
    expect("baseline: status (stderr %r)" % err, status, 0)
    with open(base, "w", encoding="utf-8") as f:
        f.write(out)
    try:
        data = json.loads(out)
    except ValueError as ex:
        fail("baseline is JSON", "a JSON object", "%s: %r" % (ex, out))
        return
    keys = leaking_keys(first)
    expect("baseline: format", data.get("fdleak_baseline"), 1)
    expect("baseline: keys and summed leaks, sorted by key",
           [(s["key"], s["leaks"]) for s in data.get("sites", [])], sorted(keys.items()))
    expect("baseline: the headline",
           [s["headline"] for s in data["sites"]], ["open_null (leak.c:%d)" % open_line])

    status, out, err = e.tool("check", "--baseline", base, *first)
    expect("check against its own baseline: status (stderr %r)" % err, status, 0)
    expect("check against its own baseline: output", out,
           "fdleak check: no new leaks (1 known site leaking, %d leaks)\n" % sum(keys.values()))

    # the second run leaks at one more site
    r = load(second[0])
    new = set(leaking_keys(second)) - set(keys)
    expect("the second run has one new key", len(new), 1)
    status, out, err = e.tool("check", "--baseline=" + base, *second)
    expect("check with a new site: status (stderr %r)" % err, status, 1)
    for key in new:
        expect_in("check names the new site", "key %s  make_pipe (leak.c:%d)  2 leaks"
                  % (key, pipe_line), out)
    expect_in("check names the process", "pid %d: 2 leaks  %s" % (r["pid"], " ".join(r["argv"])),
              out)
    if "open_null" in out:
        fail("check lists only new sites", "no open_null", "\n" + out)

    # a baseline of both runs accepts both
    status, out, err = e.tool("baseline", *(first + second))
    both = os.path.join(e.tmp, "both.json")
    with open(both, "w", encoding="utf-8") as f:
        f.write(out)
    status, out, err = e.tool("check", "--baseline", both, *(first + second))
    expect("check of both runs against their baseline: status (out %r, err %r)" % (out, err),
           status, 0)


def check_errors(e, good_report, good_dir):
    """Bad input and bad options: status 2 and one clear line (plus usage for options)."""
    t = e.tmp
    files = {
        "broken.json": "{not json",
        "schema2.json": json.dumps({"fdleak": 2, "pid": 1}),
        "other.json": json.dumps({"something": 1}),
        "badsite.json": json.dumps({"fdleak": 1, "pid": 5, "ppid": 1, "argv": ["x"],
                                    "trigger": "exit", "leaks": [{"fd": 3, "site": 9}],
                                    "sites": []}),
        "base-v2.json": json.dumps({"fdleak_baseline": 2, "sites": []}),
        "base-nosites.json": json.dumps({"fdleak_baseline": 1}),
        "base-badsite.json": json.dumps({"fdleak_baseline": 1, "sites": [{"headline": "x"}]}),
    }
    bad = os.path.join(t, "bad")
    os.makedirs(bad, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(bad, name), "w", encoding="utf-8") as f:
            f.write(text)
    empty = os.path.join(t, "emptydir")
    os.makedirs(empty, exist_ok=True)
    base = os.path.join(t, "base.json")

    def b(name):
        return os.path.join(bad, name)

    cases = [
        (["report", b("broken.json")], "not valid JSON"),
        (["report", b("schema2.json")], "schema 2 is not supported"),
        (["report", b("other.json")], "not an fdleak report"),
        (["report", b("badsite.json")], "malformed fdleak report"),
        (["report", os.path.join(t, "missing.json")], "no such file or directory"),
        (["report", empty], "no fdleak reports in directory"),
        (["baseline", b("schema2.json")], "schema 2 is not supported"),
        (["check", "--baseline", os.path.join(t, "missing-base.json"), good_report],
         "cannot read baseline"),
        (["check", "--baseline", b("broken.json"), good_report], "not valid JSON"),
        (["check", "--baseline", b("base-v2.json"), good_report], "baseline format 2"),
        (["check", "--baseline", b("base-nosites.json"), good_report], "malformed fdleak baseline"),
        (["check", "--baseline", b("base-badsite.json"), good_report], "malformed fdleak baseline"),
        (["check", "--baseline", good_report, good_report], "not an fdleak baseline"),
        (["check", "--baseline", base, b("broken.json")], "not valid JSON"),
    ]
    for args, message in cases:
        status, out, err = e.tool(*args)
        what = "fdleak " + " ".join(os.path.relpath(a, t) if a.startswith(t) else a for a in args)
        expect("%s: status" % what, status, 2)
        expect("%s: stdout" % what, out, "")
        expect("%s: one line on stderr (%r)" % (what, err), len(err.splitlines()), 1)
        expect_in("%s: message" % what, message, err)

    usage = [
        (["report", "--bogus", good_report], "unknown option '--bogus'"),
        (["report"], "no report files"),
        (["baseline", "-x", good_report], "unknown option '-x'"),
        (["check", good_report], "--baseline BASE is required"),
        (["check", "--baseline"], "needs a value"),
    ]
    for args, message in usage:
        status, out, err = e.tool(*args)
        what = "fdleak " + " ".join(os.path.relpath(a, t) if a.startswith(t) else a for a in args)
        expect("%s: status" % what, status, 2)
        expect_in("%s: message" % what, message, err)
        expect_in("%s: usage line" % what, "usage: fdleak " + args[0], err)

    for command in ("report", "baseline", "check"):
        for flag in ("-h", "--help"):
            status, out, err = e.tool(command, flag)
            expect("fdleak %s %s: status" % (command, flag), status, 0)
            expect_in("fdleak %s %s: usage" % (command, flag),
                      "fdleak check --baseline BASE FILE|DIR...", out)

    # a directory: files that are not fdleak reports are skipped, with one line each
    mixed = os.path.join(t, "mixed")
    os.makedirs(mixed, exist_ok=True)
    shutil.copy(b("other.json"), mixed)
    shutil.copy(good_report, mixed)
    with open(os.path.join(mixed, "notes.txt"), "w", encoding="utf-8") as f:
        f.write("not json, not *.json\n")
    status, out, err = e.tool("report", mixed)
    expect("report of a directory with another JSON file: status", status, 0)
    expect("report of a directory with another JSON file: stderr",
           err, "fdleak report: skipping %s: not an fdleak report\n"
           % os.path.join(mixed, "other.json"))
    status2, out2, _ = e.tool("report", good_report)
    expect("report of the directory is the report of its one report", out, out2)
    status, out, err = e.tool("report", good_dir)
    expect("report of a directory: status", status, 0)


# ---------------------------------------------------------------- --html

HOSTILE = "<script>alert(1)</script>"

# fields newer than the reports --html must still render
NEW_TOP = ("findings", "snapshot_times")
NEW_SITE = ("at", "lifetime", "peers", "history")


def old_report(data):
    """DATA as an fdleak from before findings, snapshots, lifetimes and peers wrote it."""
    data = json.loads(json.dumps(data))
    for name in NEW_TOP:
        data.pop(name, None)
    for s in data["sites"]:
        for name in NEW_SITE:
            s.pop(name, None)
    return data


def write_json(path, data):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)
    return path


def html_page(e, what, *args):
    """fdleak report --html PAGE ARGS: the page's text, or None after a failure."""
    page = os.path.join(e.tmp, "html", what + ".html")
    status, out, err = e.tool("report", "--html", page, *args)
    expect("report --html (%s): status (stderr %r)" % (what, err), status, 0)
    expect("report --html (%s): nothing on stdout or stderr" % what, out + err, "")
    if status != 0 or not os.path.isfile(page):
        return None
    with open(page, encoding="utf-8") as f:
        return f.read()


def check_html(e, report_path, snapshot, open_line):
    """--html: a report from before the new fields renders; text from the report is escaped
    (a function named like a script, control characters, quotes, lone surrogates); interval
    reports of one process make a chart; bad input exits 2 with one line and writes nothing."""
    os.makedirs(os.path.join(e.tmp, "html"), exist_ok=True)
    good = load(report_path)

    # a report from before findings: its sites still have their headline, "no findings"
    old = write_json(os.path.join(e.tmp, "html", "old.json"), old_report(good))
    page = html_page(e, "old", old)
    if page is not None:
        for needle in ("No findings (these reports predate findings).",
                       '<table id="sites-table"', "open_null (leak.c:%d)" % open_line,
                       'data-ready', "default-src 'none'"):
            expect_in("--html of an old report shows %r" % needle, needle, page)
        if "http://" in page or "https://" in page:
            fail("--html of an old report: no http(s) references", "none", "one")

    # hostile text everywhere a report carries text
    data = json.loads(json.dumps(good))
    site = next(s for s in data["sites"] if s["id"] == data["leaks"][0]["site"])
    site["native"][0]["function"] = HOSTILE
    site["native"][0]["file"] = 'we"ird&<b>\x01\udc80.c'
    data["argv"].append("<img src=x onerror=alert(2)>")
    data["leaks"][0]["desc"] = "</td></tr></table>" + HOSTILE
    site["at"] = HOSTILE + " (x.c:1)"
    site["peers"] = [{"peer": "/run/" + HOSTILE, "role": "client", "type": "stream",
                      "created": 1, "closed": 0, "open": 1}]
    data["findings"] = [{"pattern": '"><script>alert(3)</script>', "title": HOSTILE,
                         "sites": [{"at": HOSTILE, "ids": [site["id"]], "open": 1,
                                    "created": 1, "closed": 0}],
                         "peer": HOSTILE, "evidence": {HOSTILE: HOSTILE, "n": 1},
                         "advice": HOSTILE}]
    hostile = write_json(os.path.join(e.tmp, "html", "hostile.json"), data)
    page = html_page(e, "hostile", hostile)
    if page is not None:
        # only the page's own two scripts, and no element from the report
        expect("--html: script elements (the page's own two)", page.count("<script"), 2)
        for raw in ("alert(1)</script>", "<img", "</td></tr></table><", '"><script',
                    "alert(3)</script>", "\x01", "<b>"):
            if raw in page:
                fail("--html escapes report text: %r appears raw" % raw, "escaped", raw)
        for escaped in ("&lt;script&gt;alert(1)&lt;/script&gt;",
                        "&lt;img src=x onerror=alert(2)&gt;",
                        "we&quot;ird&amp;&lt;b&gt;\\x01\ufffd.c",
                        "&quot;&gt;&lt;script&gt;alert(3)"):
            expect_in("--html shows report text escaped", escaped, page)
        expect_in("--html: an unknown pattern gets the plain badge", 'class="badge p-other"', page)

    # reports of one process over time (as --interval writes them): a chart of their sites
    series = []
    for k, path in enumerate(sorted(snapshot, key=lambda p: load(p)["seq"])):
        r = old_report(load(path))
        r["time"] = 1700000000.0 + k
        series.append(write_json(os.path.join(e.tmp, "html", "series-%d.json" % k), r))
    page = html_page(e, "series", *series)
    lines = len({s["id"] for path in series for s in load_json(path)["sites"] if s.get("open")})
    if page is not None:
        for needle in ('<svg class="chart"', "<polyline", "(2 reports, %d busiest site%s)" % (
                lines, "" if lines == 1 else "s"),
                       "1 earlier snapshot left out", "seconds since 2023-11-14 22:13:20 UTC"):
            expect_in("--html of two reports of one process: %r" % needle, needle, page)

    # bad input: status 2, one line, no page
    bad = os.path.join(e.tmp, "html", "bad")
    os.makedirs(bad, exist_ok=True)

    def broken(name, change):
        d = json.loads(json.dumps(good))
        change(d)
        return write_json(os.path.join(bad, name + ".json"), d)

    cases = [
        (broken("findings-str", lambda d: d.update(findings="x")),
         "findings is not a list of objects"),
        (broken("finding-ids", lambda d: d.update(findings=[{"pattern": "growing",
                                                             "sites": [{"ids": ["a"]}]}])),
         "findings[0].sites[0].ids is not a list of integers"),
        (broken("evidence", lambda d: d.update(findings=[{"evidence": {"k": [1]}}])),
         "findings[0].evidence is not an object of numbers and strings"),
        (broken("history", lambda d: d["sites"][0].update(history="x")),
         "sites[0].history is not a list of numbers"),
        (broken("lifetime", lambda d: d["sites"][0].update(lifetime={"median_s": "1"})),
         "sites[0].lifetime.median_s is not a number"),
        (broken("snapshots", lambda d: d.update(snapshot_times=[1, "2"])),
         "snapshot_times is not a list of numbers"),
        (os.path.join(e.tmp, "bad", "broken.json"), "not valid JSON"),
    ]
    out_page = os.path.join(bad, "page.html")
    for path, message in cases:
        status, out, err = e.tool("report", "--html", out_page, path)
        what = "fdleak report --html … %s" % os.path.basename(path)
        expect("%s: status" % what, status, 2)
        expect("%s: one line on stderr (%r)" % (what, err), len(err.splitlines()), 1)
        expect_in("%s: message" % what, message, err)
        if os.path.exists(out_page):
            fail("%s: no page written" % what, "no %s" % out_page, "it exists")
            os.unlink(out_page)
    status, out, err = e.tool("report", "--html", os.path.join(bad, "no-such-dir", "p.html"),
                              report_path)
    expect("report --html into a missing directory: status", status, 2)
    expect_in("report --html into a missing directory: message", "cannot write", err)
    expect("report --html into a missing directory: one line", len(err.splitlines()), 1)
    status, out, err = e.tool("report", report_path, "--html")
    expect("report … --html without a value: status", status, 2)
    expect_in("report … --html without a value: message", "option --html needs a value", err)
    status, out, err = e.tool("report", "--html", "-", report_path)
    expect("report --html - : status (stderr %r)" % err, status, 0)
    expect("report --html - : the page on stdout", out[:15], "<!DOCTYPE html>")


def check_launcher(e):
    """Only the first word dispatches: after -- a program called report runs."""
    bindir = os.path.join(e.tmp, "bin")
    os.makedirs(bindir, exist_ok=True)
    prog = os.path.join(bindir, "report")
    with open(prog, "w", encoding="utf-8") as f:
        f.write("#!/bin/sh\necho \"the program report ran: $*\"\n")
    os.chmod(prog, 0o755)
    env = dict(e.env, PATH=bindir + os.pathsep + e.env.get("PATH", ""), FDLEAK_LIBRARY=e.lib,
               FDLEAK_QUIET="1")
    status, out, err = e.tool("--", "report", "x", env=env)
    expect("fdleak -- report x: status (stderr %r)" % err, status, 0)
    expect("fdleak -- report x: the program ran", out, "the program report ran: x\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True, help="libfdleak.so")
    ap.add_argument("--launcher", required=True, help="scripts/fdleak")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    for tool in ("gcc", "addr2line"):
        if shutil.which(tool) is None:
            print("SKIP: %s not found" % tool)
            return 77
    if not os.path.isfile(args.lib):
        print("FAIL: library %s does not exist (ninja -C build)" % args.lib)
        return 1

    tmp = os.path.realpath(tempfile.mkdtemp(prefix="fdleak-tools-"))
    e = Env(args, tmp)
    with open(os.path.join(tmp, "leak.c"), "w", encoding="utf-8") as f:
        f.write(LEAK_C)
    with open(os.path.join(tmp, "forker.py"), "w", encoding="utf-8") as f:
        f.write(FORKER_PY)
    subprocess.run(["gcc", "-g", "-O0", "-o", "leak", "leak.c"], cwd=tmp, check=True, timeout=60)
    open_line = line_of(LEAK_C, "OPEN_LINE")
    pipe_line = line_of(LEAK_C, "PIPE_LINE")

    first = e.run_under(["./leak"], os.path.join(tmp, "first"))
    second = e.run_under(["./leak", "more"], os.path.join(tmp, "second"))
    forked = e.run_under(["/usr/bin/python3", "forker.py"], os.path.join(tmp, "forked"),
                         launcher=True)
    snapshot = e.run_under(["./leak", "snapshot"], os.path.join(tmp, "snapshot"))
    expect("reports of ./leak", len(first), 1)
    expect("reports of ./leak more", len(second), 1)
    expect("reports of the forking Python program", len(forked), 2)
    expect("reports of ./leak snapshot (signal, exit)", len(snapshot), 2)
    if failures:
        print("FAIL: %d problems; kept %s" % (len(failures), tmp))
        return 1
    # the same programs again, with the library's own text report
    first_text = e.run_under(["./leak"], os.path.join(tmp, "first-text"), "text")
    forked_text = e.run_under(["/usr/bin/python3", "forker.py"], os.path.join(tmp, "forked-text"),
                              "text", launcher=True)
    check_report_text(e, first, first_text, "./leak")
    runtime = load(forked[0]).get("runtime", "")
    if runtime.startswith("cpython 3.11"):
        out = check_report_text(e, forked, forked_text, "forker.py")
        expect_in("the Python headline", "forker.py:%d in child_leak:"
                  % line_of(FORKER_PY, "CHILD_LINE"), out)
        expect_in("the headline of a leak in a task", "forker.py:%d in in_task:"
                  % line_of(FORKER_PY, "TASK_LINE"), out)
        for shown in ("fdleak:       … 1 frame in tempfile\n", "fdleak:    in a task created\n",
                      "fdleak:    by forker.py:%d in in_task   <- app\n"
                      % line_of(FORKER_PY, "TASK_LINE")):
            expect_in("the stack of a leak in a task", shown, out)
        check_merge(e, forked)
    else:
        print("note: /usr/bin/python3 is %r, not CPython 3.11: Python checks skipped" % runtime)
    check_symbolize(e, first[0], open_line)
    check_snapshots(e, snapshot, first)
    check_baseline(e, first, second, open_line, pipe_line)
    check_errors(e, first[0], os.path.dirname(first[0]))
    check_html(e, first[0], snapshot, open_line)
    check_launcher(e)

    if failures:
        print("FAIL: %d problems; kept %s" % (len(failures), tmp))
        return 1
    if args.keep:
        print("kept %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok: report, --symbolize, --merge, --html, baseline, check, errors, launcher")
    return 0


if __name__ == "__main__":
    sys.exit(main())
