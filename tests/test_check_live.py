#!/usr/bin/python3
"""Self-test of check_live.py: its checks must fail when a report is wrong.

Synthetic reports and files (no library, no victims): the sites[] schema and counts, the growth
rule (growing exactly when the last K open counts rose), the storm bounds, the pairing of a
report with a declared state, the text report's "growing first", the metrics parser and checks.
Each good case must pass and each mutation must fail with a message naming the problem.
Exit status 0 when every case behaves, 1 otherwise.
"""

import copy
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_live as lv  # noqa: E402

VICTIM = "/opt/victim"  # not resolved on disk: realpath keeps it as is
PID = 100
problems = []


def frame(fn, module=VICTIM):
    return {"pc": "0x1", "module": module, "offset": "0x1", "function": fn, "file": "v.c",
            "line": 1}


def site(sid, fn, created, closed, opened, leaks=None, growing=False, gph=None):
    s = {"id": sid, "created": created, "closed": closed, "open": opened,
         "leaks": opened if leaks is None else leaks, "growing": growing,
         "native": [frame("open", "/lib/libc.so.6"), frame(fn), frame("main")], "python": []}
    if gph is not None:
        s["growth_per_hour"] = gph
    return s


def leak(fd, sid, kind="file"):
    return {"fd": fd, "kind": kind, "desc": "/w/x.dat" if kind == "file" else kind + ":[1]",
            "cloexec": False, "via": "open" if kind == "file" else kind, "site": sid,
            "age": 0.1, "tid": PID}


def report(leaks, sites, trigger="signal", when=1.0):
    return {"fdleak": 1, "trigger": trigger, "pid": PID, "ppid": 1, "exe": VICTIM,
            "argv": [VICTIM], "time": when, "open": 3 + len(leaks), "limit": 1024,
            "peak": 3 + len(leaks), "leaks": leaks,
            "inherited": [{"fd": 0, "kind": "char", "desc": "/dev/null", "cloexec": False}],
            "unattributed": [], "sites": sites, "errors": []}


class FakeArgs:
    nofile = 4096
    env = []


class FakeCtx:
    """What the checks read from a Ctx."""

    def __init__(self):
        self.victim_real = VICTIM
        self.argv = [VICTIM]
        self.pid = PID
        self.args = FakeArgs()


def expect(name, fails, should_fail, needle=None):
    if should_fail and not fails:
        problems.append("%s: expected a failure, the check passed" % name)
    elif not should_fail and fails:
        problems.append("%s: expected a pass, got:\n    %s" % (name, "\n    ".join(fails)))
    elif should_fail and needle and not any(needle in f for f in fails):
        problems.append("%s: failures do not mention %r:\n    %s" % (
            name, needle, "\n    ".join(fails)))


# ---------------------------------------------------------------------------- sites[]

def sites_cases():
    good = report([leak(3, 1), leak(4, 1)], [site(1, "a", 2, 0, 2), site(2, "t", 3, 3, 0)])
    expect("sites good", lv.check_sites(good, True), False)
    muts = {
        "missing growing": (lambda r: r["sites"][0].pop("growing"), "lacks"),
        "missing python": (lambda r: r["sites"][1].pop("python"), "lacks"),
        "growing not bool": (lambda r: r["sites"][0].update(growing=1), "boolean"),
        "growing without rate": (lambda r: r["sites"][0].update(growing=True),
                                 "growth_per_hour"),
        "closed > created": (lambda r: r["sites"][1].update(closed=4), "closed 4 > created"),
        "leaks field off": (lambda r: r["sites"][0].update(leaks=1), "leaks=1"),
        "created 0": (lambda r: r["sites"][1].update(created=0, closed=0), "created=0"),
        "c != d + o": (lambda r: r["sites"][1].update(closed=2), "!= closed"),
        "open != listed": (lambda r: r["sites"][0].update(open=3, created=3), "open 3"),
        "negative": (lambda r: r["sites"][0].update(open=-1), "not counts"),
    }
    for name, (fn, needle) in muts.items():
        r = copy.deepcopy(good)
        fn(r)
        expect("sites " + name, lv.check_sites(r, True), True, needle)
    # not quiescent: created - closed != open is allowed, leaks must still agree
    r = copy.deepcopy(good)
    r["sites"][1]["closed"] = 2
    expect("sites busy c != d + o", lv.check_sites(r, False), False)


# ---------------------------------------------------------------------------- growth

def growth_reports(grow, flat, k, gph=24000.0, flip=None, bad_rate=None):
    """Interval reports with grow_one's open counts `grow`, hold_flat's constant `flat`;
    growing flags set by the rule, then mutated: flip=(i, fn) inverts one flag."""
    reps = []
    want_g = lv.growth_expectations(grow, k)
    for i, g in enumerate(grow):
        gw = want_g[i]
        fw = False
        if flip == (i, "grow_one"):
            gw = not gw
        if flip == (i, "hold_flat"):
            fw = not fw
        rate = bad_rate if (bad_rate is not None and gw) else gph
        sites = [site(1, "hold_flat", flat, 0, flat, growing=fw, gph=gph if fw else None),
                 site(2, "grow_one", g, 0, g, growing=gw, gph=rate if gw else None)]
        leaks = [leak(3 + j, 1) for j in range(flat)] + [leak(100 + j, 2) for j in range(g)]
        reps.append((i + 2, "report.%d.%d.json" % (PID, i + 2),
                     report(leaks, sites, "interval", 1.0 + 0.2 * i)))
    return reps


def growth_cases():
    ctx = FakeCtx()
    fns = ("grow_one", "hold_flat")
    exp = lv.growth_expectations
    if exp([1, 2, 3], 3) != [False, False, True]:
        problems.append("growth_expectations([1,2,3], 3) = %s" % exp([1, 2, 3], 3))
    if exp([1, 2, 2, 3, 4], 3) != [False, False, False, False, True]:
        problems.append("growth_expectations with a repeat = %s" % exp([1, 2, 2, 3, 4], 3))
    if exp([None, 1, 2], 2) != [False, False, True]:
        problems.append("growth_expectations with an absent site = %s" % exp([None, 1, 2], 2))
    grow = [1, 2, 3, 4, 4, 5, 6, 7, 8, 8, 8]
    for k in (2, 3, 5):
        reps = growth_reports(grow, 6, k)
        fails, _ = lv.check_growth(reps, k, 24000.0, ctx, fns)
        expect("growth good K=%d" % k, fails, False)
        for i in range(len(grow)):
            fails, _ = lv.check_growth(growth_reports(grow, 6, k, flip=(i, "grow_one")), k,
                                       24000.0, ctx, fns)
            expect("growth K=%d flip grow_one at %d" % (k, i), fails, True, "growing=")
        fails, _ = lv.check_growth(growth_reports(grow, 6, k, flip=(7, "hold_flat")), k,
                                   24000.0, ctx, fns)
        expect("growth K=%d flat marked growing" % k, fails, True, "hold_flat growing=True")
    for bad in (1.0, 24000.0 * 5, -3.0):
        fails, _ = lv.check_growth(growth_reports(grow, 6, 3, bad_rate=bad), 3, 24000.0, ctx,
                                   fns)
        expect("growth rate %g" % bad, fails, True, "growth_per_hour")
    fails, _ = lv.check_growth(growth_reports([1, 1, 1, 1, 1], 6, 3), 3, 24000.0, ctx, fns)
    expect("growth never growing", fails, True, "never growing")


# ---------------------------------------------------------------------------- states

def state_cases():
    ctx = FakeCtx()
    h = lv.History()
    for line in ("leak 3 file fa x.dat via=open cloexec=0", "mark one",
                 "leak 4 file fb x.dat via=open cloexec=0", "unleak 3", "mark two"):
        h.feed(line)
    expect("history lines", h.problems, False)
    sites1 = [site(1, "fa", 1, 0, 1)]
    j, fails = lv.match_state(report([leak(3, 1)], sites1), h, 0, ctx, "signal")
    expect("state one", fails, False)
    if j != 1:
        problems.append("state one matched index %r, expected 1" % j)
    two = report([leak(4, 2)], [site(1, "fa", 1, 1, 0), site(2, "fb", 1, 0, 1)])
    j, fails = lv.match_state(two, h, 0, ctx, "signal")
    expect("state two", fails, False)
    _, fails = lv.match_state(report([leak(3, 1)], sites1), h, 2, ctx, "signal")
    expect("state one after two (going back)", fails, True, "none of the states")
    _, fails = lv.match_state(report([leak(3, 1), leak(9, 1)], [site(1, "fa", 2, 0, 2)]), h,
                              0, ctx, "signal")
    expect("state with an extra fd", fails, True, "none of the states")
    un = report([leak(3, 1)], sites1)
    un["unattributed"] = [{"fd": 7, "kind": "file", "desc": "/x", "cloexec": False}]
    _, fails = lv.match_state(un, h, 0, ctx, "signal")
    expect("state with an unattributed fd", fails, True, "unattributed")
    _, fails = lv.match_state(report([leak(3, 1)], [site(1, "fb", 1, 0, 1)]), h, 0, ctx,
                              "signal")
    expect("state wrong function", fails, True, "first frame")
    h2 = lv.History()
    for line in ("leak 3 file fa - via=open", "leak 3 file fa - via=open", "unleak 7",
                 "mark a", "mark a"):
        h2.feed(line)
    if len(h2.problems) != 3:
        problems.append("History accepted bad lines: %s" % h2.problems)


# ---------------------------------------------------------------------------- storm

def storm_cases():
    ctx = FakeCtx()
    h = lv.History()
    for line in ("leak 3 file pre_file storm.dat via=open cloexec=0",
                 "leak 4 pipe pre_pipe pipe: via=pipe cloexec=0",
                 "leak 5 pipe pre_pipe pipe: via=pipe cloexec=0",
                 "leak 6 socket pre_socket udp via=socket cloexec=1"):
        h.feed(line)
    pre = h.states[-1]

    def rep(extra_leaks, extra_sites, churn=(10, 9, 1)):
        leaks = [dict(leak(3, 1), desc="/w/storm.dat"), leak(4, 2, "pipe"), leak(5, 2, "pipe"),
                 dict(leak(6, 3, "socket"), desc="udp", cloexec=True, via="socket")]
        sites = [site(1, "pre_file", 1, 0, 1), site(2, "pre_pipe", 2, 0, 2),
                 site(3, "pre_socket", 1, 0, 1),
                 site(4, "churn_open", churn[0], churn[1], churn[2],
                      leaks=sum(1 for e in extra_leaks if e["site"] == 4))]
        return report(leaks + extra_leaks, sites + extra_sites)
    good = rep([leak(7, 4)], [])
    expect("storm good", lv.check_storm_report(good, pre, ctx), False)
    null_site = rep([dict(leak(8, None, "pipe"))], [])
    expect("storm fd from a handler without stack", lv.check_storm_report(null_site, pre, ctx),
           False)
    bad = rep([leak(7, 4), leak(8, 5)], [site(5, "main_thing", 1, 0, 1)])
    expect("storm fd from an unknown function", lv.check_storm_report(bad, pre, ctx), True,
           "cannot be open")
    many = rep([leak(10 + i, 4) for i in range(9)], [], churn=(20, 11, 9))
    expect("storm too many churn_open", lv.check_storm_report(many, pre, ctx), True,
           "at most 8")
    kind = rep([leak(7, 4, "socket")], [])
    expect("storm wrong kind", lv.check_storm_report(kind, pre, ctx), True, "expected file")
    gone = rep([leak(7, 4)], [])
    gone["leaks"] = [e for e in gone["leaks"] if e["fd"] != 4]
    gone["sites"][1]["leaks"] = 1
    expect("storm pre leak missing", lv.check_storm_report(gone, pre, ctx), True, "missing")
    skew = rep([leak(7, 4)], [], churn=(100, 50, 1))
    expect("storm churn counts far apart", lv.check_storm_report(skew, pre, ctx), True,
           "in flight")
    unatt = rep([leak(7, 4)], [])
    unatt["unattributed"] = [{"fd": 9, "kind": "socket", "desc": "tcp", "cloexec": True}]
    expect("storm unattributed in flight", lv.check_storm_report(unatt, pre, ctx), False)
    unatt["unattributed"].append({"fd": 10, "kind": "epoll", "desc": "x", "cloexec": True})
    expect("storm unattributed epoll", lv.check_storm_report(unatt, pre, ctx), True,
           "no thread could be making")
    unatt["unattributed"] = [{"fd": 20 + i, "kind": "file", "desc": "x", "cloexec": True}
                             for i in range(60)]
    expect("storm unattributed too many", lv.check_storm_report(unatt, pre, ctx), True,
           "can be open at once")
    pre_closed = rep([leak(7, 4)], [])
    pre_closed["sites"][0].update(created=2, closed=1)
    expect("storm pre site count", lv.check_storm_report(pre_closed, pre, ctx), True,
           "pre_file")


# ---------------------------------------------------------------------------- text

SUMMARY = """fdleak: 40 descriptors leaked from 2 sites (pid 1, v) [interval]
fdleak: growing: site 6, grow_one (g.c:26) holds 10 open, +26996 per hour
fdleak:
fdleak: 30 descriptors leaked at site 5 (created 30, closed 0):
fdleak:    fd 3  file  /w/growth.dat  (via open, age 1.6s)
fdleak:    at 0x1: hold_flat (g.c:19) in /opt/victim
fdleak:
fdleak: 10 descriptors leaked at site 6 (created 10, closed 0):
fdleak:    fd 33  file  /w/growth.dat  (via open, age 1.4s)
fdleak:    at 0x2: grow_one (g.c:26) in /opt/victim
"""

BLOCKS = """fdleak: 40 descriptors leaked from 2 sites (pid 1, v) [interval]
fdleak:
fdleak: 10 descriptors leaked at site 6 (created 10, closed 0), growing +26996 per hour:
fdleak:    fd 33  file  /w/growth.dat  (via open, age 1.4s)
fdleak:    at 0x2: grow_one (g.c:26) in /opt/victim
fdleak:
fdleak: 30 descriptors leaked at site 5 (created 30, closed 0):
fdleak:    fd 3  file  /w/growth.dat  (via open, age 1.6s)
fdleak:    at 0x1: hold_flat (g.c:19) in /opt/victim
"""


def text_cases():
    for name, body in (("summary", SUMMARY), ("blocks", BLOCKS)):
        ok, probs = lv.text_growing_first(body, "grow_one", ("hold_flat",))
        if not ok or probs:
            problems.append("text %s form: first=%r problems=%s" % (name, ok, probs))
    plain = SUMMARY.replace("fdleak: growing: site 6, grow_one (g.c:26) holds 10 open, +26996 "
                            "per hour\n", "")
    ok, probs = lv.text_growing_first(plain, "grow_one", ("hold_flat",))
    if ok or probs:
        problems.append("text without growing: first=%r problems=%s" % (ok, probs))
    late = SUMMARY.replace("fdleak: growing: site 6, grow_one (g.c:26) holds 10 open, +26996 "
                           "per hour\n", "") + "fdleak: growing: grow_one (g.c:26)\n"
    ok, _ = lv.text_growing_first(late, "grow_one", ("hold_flat",))
    if ok:
        problems.append("text: growing named after hold_flat's block counted as first")
    wrong = SUMMARY.replace("site 6, grow_one", "site 5, hold_flat")
    _, probs = lv.text_growing_first(wrong, "grow_one", ("hold_flat",))
    expect("text flat said growing", probs, True, "hold_flat")
    swapped = BLOCKS.replace("(created 10, closed 0), growing +26996 per hour:",
                             "(created 10, closed 0):").replace(
        "(created 30, closed 0):", "(created 30, closed 0), growing:")
    ok, probs = lv.text_growing_first(swapped, "grow_one", ("hold_flat",))
    expect("text flat block growing", probs, True, "hold_flat block")
    if ok:
        problems.append("text: grow_one counted first although not marked")


# ---------------------------------------------------------------------------- metrics

METRICS = """# HELP fdleak_open_descriptors Descriptors open now.
# TYPE fdleak_open_descriptors gauge
fdleak_open_descriptors{site="metric_files (m.c:45)",key="5f0c2a9e7b1d3346",kind="file",peer=""} 5
fdleak_open_descriptors{site="metric_connect (m.c:69)",key="a17e03bb9c2d4e10",kind="socket",peer="127.0.0.1:4000"} 1
fdleak_open_descriptors{site="metric_unix (m.c:70)",key="0c9d8e7f6a5b4c3d",kind="socket",peer="/w/a \\"b\\".sock"} 1
# HELP fdleak_created_total Created.
# TYPE fdleak_created_total counter
fdleak_created_total{site="metric_files (m.c:45)",key="5f0c2a9e7b1d3346"} 7
fdleak_created_total{site="metric_connect (m.c:69)",key="a17e03bb9c2d4e10"} 1
fdleak_created_total{site="metric_unix (m.c:70)",key="0c9d8e7f6a5b4c3d"} 1
# HELP fdleak_closed_total Closed.
# TYPE fdleak_closed_total counter
fdleak_closed_total{site="metric_files (m.c:45)",key="5f0c2a9e7b1d3346"} 2
fdleak_closed_total{site="metric_connect (m.c:69)",key="a17e03bb9c2d4e10"} 0
fdleak_closed_total{site="metric_unix (m.c:70)",key="0c9d8e7f6a5b4c3d"} 0
# HELP fdleak_limit Soft limit.
# TYPE fdleak_limit gauge
fdleak_limit 4096
# HELP fdleak_peak Peak.
# TYPE fdleak_peak gauge
fdleak_peak 12
"""


class FakeVictim:
    def __init__(self, lines, held):
        self.lines = lines
        self.history = lv.History()
        self.history.feed("mark metrics open=%d" % held)

    def find(self, word):
        return [l for l in self.lines if l.split()[:1] == [word]]


def metrics_cases():
    ctx = FakeCtx()
    samples, types, probs = lv.parse_metrics(METRICS)
    expect("metrics parse", probs, False)
    unix = [l for n, l, _ in samples if l.get("site", "").startswith("metric_unix")]
    if not unix or unix[0].get("peer") != '/w/a "b".sock':
        problems.append("metrics: escaped label parsed as %r" % (unix[:1],))
    lines = ["series metric_files file - 5", "series metric_connect socket 127.0.0.1:4000 1",
             "series metric_unix socket * 1", "total metric_files 7 2"]
    v = FakeVictim(lines, 10)
    expect("metrics good", lv.check_metrics_text(METRICS, v, ctx, False), False)
    muts = {
        "value": (METRICS.replace('peer=""} 5', 'peer=""} 4'), "metric_files kind=file"),
        "peer": (METRICS.replace("127.0.0.1:4000", "127.0.0.1:4001"), "peer=127.0.0.1:4000"),
        "created": (METRICS.replace('5f0c2a9e7b1d3346"} 7', '5f0c2a9e7b1d3346"} 6'), "fdleak_created_total"),
        "closed": (METRICS.replace('5f0c2a9e7b1d3346"} 2', '5f0c2a9e7b1d3346"} 1'), "fdleak_closed_total"),
        "limit": (METRICS.replace("fdleak_limit 4096", "fdleak_limit 1024"), "fdleak_limit"),
        "peak": (METRICS.replace("fdleak_peak 12", "fdleak_peak 9"), "fdleak_peak"),
        "type": (METRICS.replace("fdleak_peak gauge", "fdleak_peak counter"), "TYPE"),
        "no peak": (METRICS.replace("fdleak_peak 12\n", ""), "no fdleak_peak"),
        "labels": (METRICS.replace(',kind="file",peer=""} 5', '} 5'), "labels"),
        "torn": (METRICS[:-8], "newline"),
        "site label": (METRICS.replace("metric_files (m.c:45)", "metric_files at m.c"),
                       "function (file:line)"),
        "key": (METRICS.replace("a17e03bb9c2d4e10", "5f0c2a9e7b1d3346"), "keys"),
        "no key": (METRICS.replace(',key="0c9d8e7f6a5b4c3d"', ''), "labels"),
    }
    for name, (text, needle) in muts.items():
        expect("metrics " + name, lv.check_metrics_text(text, v, ctx, False), True, needle)
    expect("metrics sum", lv.check_metrics_text(METRICS, FakeVictim(lines, 20), ctx, False),
           True, "sum to")
    many = METRICS.replace("fdleak_open_descriptors{site=\"metric_files (m.c:45)\"", "".join(
        'fdleak_open_descriptors{site="many_%02d (m.c:%d)",key="%016x",kind="file",peer=""} 0\n' % (i, i, i)
        for i in range(21)) + "fdleak_open_descriptors{site=\"metric_files (m.c:45)\"")
    expect("metrics 24 sites, no other", lv.check_metrics_text(many, v, ctx, True), True,
           "other")


def main():
    sites_cases()
    growth_cases()
    state_cases()
    storm_cases()
    text_cases()
    metrics_cases()
    if problems:
        print("FAIL check_live.py self-test: %d problems" % len(problems))
        for p in problems:
            print("  " + p)
        return 1
    print("ok check_live.py self-test: good cases pass, every mutation caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
