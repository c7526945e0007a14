#!/usr/bin/python3
"""Self-test of check_leaks.py: a checker that cannot fail proves nothing.

A synthetic report matching a set of declarations must pass; each mutation of the report (or of
the declarations) must produce a failure that names the problem. Also checks report naming
(.2 before the extension, %n) and the text report's error/leak order. No library, no victims.
Exit status 0 when every case behaves, 1 otherwise (each case printed with what it got).
"""

import copy
import json
import os
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_leaks as cl  # noqa: E402

VICTIM = "/opt/victim"  # not resolved on disk: realpath keeps it as is
PID, CHILD = 100, 101


def frame(fn, module=VICTIM):
    return {"pc": "0x1", "module": module, "offset": "0x1", "function": fn, "file": "v.c",
            "line": 1}


def stack(fn):
    return [frame("close", "/lib/libc.so.6"), frame(fn), frame("main")]


def site(sid, fn, n=1):
    return {"id": sid, "created": n, "closed": 0, "open": n, "leaks": n,
            "native": [frame(fn), frame("main")], "python": []}


def base_report():
    return {
        "fdleak": 1, "trigger": "exit", "pid": PID, "ppid": 1, "exe": VICTIM,
        "argv": [VICTIM], "time": 1.0, "open": 6, "limit": 1024, "peak": 6,
        "leaks": [{"fd": 3, "kind": "file", "desc": "/w/a.dat", "cloexec": False, "via": "open",
                   "site": 1, "age": 0.1, "tid": PID}],
        "inherited": [{"fd": 0, "kind": "char", "desc": "/dev/null", "cloexec": False},
                      {"fd": 5, "kind": "pipe", "desc": "pipe:[1]", "cloexec": False,
                       "via": "pipe", "site": 2,
                       "parent": {"pid": 99, "via": "pipe", "function": "make_pipe",
                                  "module": VICTIM, "file": "v.c", "line": 3}}],
        "unattributed": [],
        "sites": [site(1, "leak_a"), site(2, "make_pipe"), site(3, "open_b")],
        "errors": [
            {"what": "bad-close", "fd": 900, "site": None, "count": 3,
             "stack": stack("bad_one")},
            {"what": "double-close", "fd": 4, "site": 3, "count": 1,
             "stack": stack("second"), "first_close": stack("first")},
        ],
    }


DECL = """pid 100
leak 3 file leak_a a.dat via=open cloexec=0
inherited 5 pipe pipe: via=pipe site=make_pipe parent.function=make_pipe parent.via=pipe parent.pid=99|100
error bad-close 900 bad_one site=null count=3
error double-close 4 second site=open_b first_close=first
error close-owned 7 owner_close optional
"""


def run_case(name, rep, decl_text, expect_fail, needle=None):
    _, decls, problems = cl.parse_victim_output(decl_text, PID)
    if problems:
        return "%s: declarations do not parse: %s" % (name, problems)
    d = decls[(PID, "exit")]
    fails = cl.check_report(rep, d, VICTIM, [VICTIM])
    text = "\n".join(fails)
    if expect_fail and not fails:
        return "%s: expected a failure, got none" % name
    if not expect_fail and fails:
        return "%s: expected to pass, got:\n%s" % (name, text)
    if expect_fail and needle and needle not in text:
        return "%s: failure does not mention %r:\n%s" % (name, needle, text)
    return None


def mutate(fn):
    rep = base_report()
    fn(rep)
    return rep


def report_cases():
    out = []
    out.append(run_case("good report", base_report(), DECL, False))
    cases = [
        ("extra leak", lambda r: r["leaks"].append(dict(r["leaks"][0], fd=8)), "extra"),
        ("missing leak", lambda r: r["leaks"].clear(), "missing"),
        ("leak wrong function", lambda r: r["sites"][0]["native"][0].update(function="x"),
         "expected leak_a"),
        ("leak wrong via", lambda r: r["leaks"][0].update(via="openat"), "via"),
        ("error missing", lambda r: r["errors"].pop(0), "declared error missing"),
        ("unexpected error", lambda r: r["errors"].append(
            {"what": "bad-close", "fd": 901, "site": None, "count": 1,
             "stack": stack("other")}), "unexpected error"),
        ("error wrong bad-call function", lambda r: r["errors"][0].update(stack=stack("x")),
         "declared error missing"),
        ("error empty stack", lambda r: r["errors"][0].update(stack=[]), "empty stack"),
        ("error wrong count", lambda r: r["errors"][0].update(count=1), "count"),
        ("error site not null", lambda r: r["errors"][0].update(site=3), "expected null"),
        ("error wrong site", lambda r: r["errors"][1].update(site=1), "expected open_b"),
        ("error unknown site", lambda r: r["errors"][1].update(site=77), "not found"),
        ("double-close wrong first_close", lambda r: r["errors"][1].update(
            first_close=stack("nope")), "first_close"),
        ("double-close without first_close", lambda r: r["errors"][1].pop("first_close"),
         "first_close"),
        ("optional error present but wrong", lambda r: r["errors"].append(
            {"what": "close-owned", "fd": 7, "site": 3, "count": 2,
             "stack": stack("owner_close")}), "count"),
        ("inherited missing", lambda r: r["inherited"].pop(1), "missing from inherited"),
        ("inherited wrong site", lambda r: r["inherited"][1].update(site=1), "make_pipe"),
        ("inherited no parent", lambda r: r["inherited"][1].pop("parent"), "parent"),
        ("inherited wrong parent.function", lambda r: r["inherited"][1]["parent"].update(
            function="main"), "parent.function"),
        ("inherited wrong parent.pid", lambda r: r["inherited"][1]["parent"].update(pid=5),
         "parent.pid"),
        ("inherited parent.module elsewhere", lambda r: r["inherited"][1]["parent"].update(
            module="/lib/libc.so.6"), "parent.module"),
        ("leak also inherited", lambda r: r["inherited"].append(
            {"fd": 3, "kind": "file", "desc": "x", "cloexec": False}), "both in leaks"),
        ("signal where none", lambda r: r.update(signal="SIGTERM"), "signal"),
        ("wrong trigger", lambda r: r.update(trigger="exec"), "trigger"),
        ("wrong exe", lambda r: r.update(exe="/bin/other"), "exe"),
        ("errors not a list", lambda r: r.update(errors=None), "errors"),
    ]
    for name, fn, needle in cases:
        out.append(run_case(name, mutate(fn), DECL, True, needle))
    # declarations side
    out.append(run_case("optional error absent", base_report(), DECL, False))
    out.append(run_case("declared signal missing", base_report(),
                        DECL + "report signal=SIGTERM\n", True, "signal"))
    out.append(run_case("inherited=exact with an extra", base_report(),
                        DECL.replace("inherited 5", "inherited 6") + "report inherited=exact\n",
                        True, "inherited fds > 2 differs"))
    out.append(run_case("leaks=any tolerates extras", mutate(
        lambda r: r["leaks"].append(dict(r["leaks"][0], fd=8))), DECL + "report leaks=any\n",
        False))
    return out


def write(d, name, obj):
    with open(os.path.join(d, name), "w", encoding="utf-8") as f:
        f.write(obj if isinstance(obj, str) else json.dumps(obj))


def naming_cases():
    out = []
    n = cl.Naming("report.%p.json")
    for pid, seq, want in ((5, 1, "report.5.json"), (5, 2, "report.5.2.json"),
                           (5, 3, "report.5.3.json")):
        if n.name(pid, seq) != want or n.parse(want) != (pid, seq):
            out.append("naming %s: name %r parse %r" % (want, n.name(pid, seq), n.parse(want)))
    m = cl.Naming("r-%p-%n.json")
    if m.name(7, 2) != "r-7-2.json" or m.parse("r-7-2.json") != (7, 2):
        out.append("naming with %%n: %r %r" % (m.name(7, 2), m.parse("r-7-2.json")))

    def collect(files, pattern="report.%p.json"):
        d = tempfile.mkdtemp(prefix="fdleak-selftest-")
        try:
            for fname, rep in files:
                write(d, fname, rep)
            return cl.collect_reports(d, cl.Naming(pattern), False, validate=False)[1]
        finally:
            shutil.rmtree(d)

    ex = dict(base_report(), trigger="exec")
    good = collect([("report.100.json", ex), ("report.100.2.json", base_report())])
    if good:
        out.append("exec then exit report named right, got problems: %s" % good)
    for name, files, needle in (
            ("second report not numbered", [("report.100.json", ex),
                                            ("report.100.3.json", base_report())], "expected"),
            ("exit report first", [("report.100.json", base_report()),
                                   ("report.100.2.json", ex)], "not the last"),
            ("unparsable report", [("report.100.json", "{")], "does not parse"),
            ("stray file", [("report.100.json.tmp", "x")], "unexpected file")):
        got = collect(files)
        if not any(needle in g for g in got):
            out.append("%s: expected a problem mentioning %r, got %s" % (name, needle, got))
    return out


def text_cases():
    out = []
    _, decls, _ = cl.parse_victim_output(DECL, PID)
    d = decls[(PID, "exit")]
    good = ("fdleak: 1 descriptor leaked from 1 site (pid 100, /opt/victim)\n"
            "fdleak: error bad-close fd 900 (3 times)\n"
            "fdleak: error double-close fd 4\n"
            "fdleak:\nfdleak: 1 descriptor leaked at site 1 (created 1, closed 0):\n"
            "fdleak:    fd 3  file  /w/a.dat  (via open, age 0.1s)\n")
    if cl.check_text(good, d):
        out.append("good text report fails: %s" % cl.check_text(good, d))
    late = good.replace("fdleak: error double-close fd 4\n", "") + \
        "fdleak: error double-close fd 4\n"
    if not any("before" in f for f in cl.check_text(late, d)):
        out.append("text: an error after the leak block is not caught")
    if not cl.check_text(good.replace("fd 3 ", "fd 9 "), d):
        out.append("text: a missing leak line is not caught")
    return out


def main():
    problems = [p for p in report_cases() + naming_cases() + text_cases() if p]
    for p in problems:
        print("FAIL " + p)
    if problems:
        return 1
    print("ok check_leaks.py self-test: every mutation caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
