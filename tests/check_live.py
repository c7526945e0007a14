#!/usr/bin/python3
"""Live reports (issue 4): run a victim under fdleak, ask it for reports while it runs and check
them: on a signal, at an interval (growing sites), at a threshold, on EMFILE, the metrics file,
the launcher's --pid and options.

usage: check_live.py SCENARIO --lib PATH [--launcher PATH] [--timeout S] [--env K=V]...
                     [--keep] [scenario options] -- victim [args...]

Scenarios (tests/meson.build runs each; tests/README.md has the table):
  signal            a signal to an idle victim (live_idle): a report within --prompt seconds
                    listing exactly what is open, a second one in a second file, the exit
                    report last; --aim thread sends with tgkill to a worker (live_idle threads)
  own               the victim installs its own handler for the report signal: exactly one
                    stderr line names the signal, the program's handler runs, no signal report
  own-late          a report first, then the program installs its handler: one report only
  own-other         FDLEAK_SIGNAL=SIGUSR2 (USR2, its number: --signal-form): SIGUSR1 is the
                    program's (no stderr line about it), SIGUSR2 reports
  signal-none       FDLEAK_SIGNAL=none: SIGUSR1 keeps its default action (the victim dies)
  storm             live_storm: --count report signals and --usr2 program signals in --duration
                    seconds while 8 threads churn; no deadlock, every report parses and is
                    consistent, a report after the storm and the exit report are exact
  interval          live_growth under FDLEAK_INTERVAL: `growing` exactly when the site's open
                    count rose over the last K interval reports (--growth K), growth_per_hour
                    plausible, flat and churning sites never growing
  interval-text     the same in text: growing sites first, marked with the word growing
  limits            live_limits under a lowered RLIMIT_NOFILE (--nofile): the threshold and
                    emfile reports given by --expect TRIGGER@MARK (in order), nothing else
  metrics           live_metrics with FDLEAK_METRICS: promtool, names, labels, values,
                    atomic replacement (--promtool-optional: skip, not fail, without promtool)
  launcher-pid      scripts/fdleak --pid PID (--launcher): the report's path, its stderr
                    variant, FDLEAK_SIGNAL from /proc/PID/environ, refusal for other processes
  launcher-options  scripts/fdleak --signal --interval --threshold --metrics, bad values

The victim prints declarations (tests/victims/victim.h) as it goes: `leak` lines, `unleak <fd>`
when it closes a declared leak, and `mark <name> [open=<n>]` when the declarations so far are
exactly what it holds. A report paired with a mark must list exactly those leaks (via
check_leaks.check_report: fds, kind, desc, via, cloexec, creating function, no errors); a
report written at a moment no mark names (an interval) must equal one of the states the
declarations went through, later reports later states. Other lines: `ready <what>`,
`thread <tid>`, `handled <n>`, `series ...`, `total ...`, `report-at-fail ...`.

Every report's sites[] must have id, created, closed, open, leaks, growing, native, python
(growth_per_hour a number when growing), closed <= created, leaks = the number of leaks[]
entries naming the site, and, when the program is quiescent, created = closed + open.

Exit status 0 when all checks pass, 77 when skipped (reason printed), 1 otherwise (the
temporary directory is then kept).
"""

import argparse
import ctypes
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_leaks as cl  # noqa: E402
from harness import clean_env, load_report

SITE_KEYS = ("id", "created", "closed", "open", "leaks", "growing", "native", "python")
SKIP = 77


class Fail(Exception):
    """Ends a scenario early (the message is one more failure)."""


def sig_name(sig):
    return signal.Signals(sig).name


def parse_sig(text):
    t = text.upper()
    if t.isdigit():
        return signal.Signals(int(t))
    return signal.Signals[t if t.startswith("SIG") else "SIG" + t]


# ------------------------------------------------------------------------------ declarations

class History:
    """What the victim declared it holds, in order: states[i] is {fd: check_leaks.Spec}."""

    def __init__(self):
        self.states = [{}]
        self.marks = {}  # name -> (state index, open count or None)
        self.problems = []

    def feed(self, line):
        f = line.split()
        if not f or f[0].startswith("@"):
            return
        try:
            if f[0] == "leak":
                if len(f) < 5:
                    raise ValueError("too few fields")
                spec = cl.Spec(line, f)
                cur = dict(self.states[-1])
                if spec.fd in cur:
                    raise ValueError("fd %d declared again without unleak" % spec.fd)
                cur[spec.fd] = spec
                self.states.append(cur)
            elif f[0] == "unleak":
                fd = int(f[1])
                cur = dict(self.states[-1])
                if fd not in cur:
                    raise ValueError("unleak of undeclared fd %d" % fd)
                del cur[fd]
                self.states.append(cur)
            elif f[0] == "mark":
                attrs = cl.parse_attrs(f[2:], ("open",))
                n = int(attrs["open"]) if "open" in attrs else None
                if f[1] in self.marks:
                    raise ValueError("mark %s twice" % f[1])
                self.marks[f[1]] = (len(self.states) - 1, n)
        except (ValueError, IndexError) as e:
            self.problems.append("bad victim line %r: %s" % (line, e))


def decl_for(pid, trigger, leaks, any_leaks=False):
    d = cl.ReportDecl(pid, trigger)
    d.leaks = dict(leaks)
    if any_leaks:
        d.attrs["leaks"] = "any"
    return d


# ------------------------------------------------------------------------------ the victim

def tgkill(pid, tid, sig):
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.tgkill(ctypes.c_int(pid), ctypes.c_int(tid), ctypes.c_int(sig)) != 0:
            return ctypes.get_errno()
        return 0
    except (AttributeError, OSError):
        os.kill(pid, sig)
        return 0


def task_states(pid):
    """{tid: state letter} of a process's threads ({} when it is gone)."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for t in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                stat = f.read()
            out[int(t)] = stat[stat.rindex(")") + 2]
        except (OSError, ValueError):
            pass
    return out


def thread_dump(pid):
    """Text describing where a (hung) process's threads are: state, wchan, syscall, and a gdb
    backtrace when gdb is installed."""
    lines = []
    for tid, st in sorted(task_states(pid).items()):
        info = []
        for what in ("comm", "wchan", "syscall"):
            try:
                with open("/proc/%d/task/%d/%s" % (pid, tid, what)) as f:
                    info.append("%s=%s" % (what, f.read().strip()[:80]))
            except OSError:
                pass
        lines.append("  thread %d state %s %s" % (tid, st, " ".join(info)))
    gdb = shutil.which("gdb")
    if gdb and lines:
        try:
            r = subprocess.run([gdb, "-p", str(pid), "-batch", "-nx", "-ex",
                                "thread apply all bt 30"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
            bt = [l for l in r.stdout.decode("utf-8", "replace").splitlines()
                  if l.startswith(("#", "Thread"))]
            lines.append("  gdb backtraces:")
            lines.extend("    " + l for l in bt[:300])
        except subprocess.TimeoutExpired:
            lines.append("  (gdb did not finish within 20 s)")
    return "\n".join(lines) if lines else "  (process gone)"


class Victim:
    """A victim started with a pipe on stdin, its stdout read line by line by a thread (and fed
    to a History), its stderr in a file."""

    def __init__(self, cmd, env, stderr_path, nofile=None, argv=None):
        self.cmd = cmd
        self.argv = argv or cmd  # what its reports' argv must say
        self.lines = []
        self.history = History()
        self.cond = threading.Condition()
        self.eof = False
        self.stderr_path = stderr_path
        self.errf = open(stderr_path, "wb")
        pre = None
        if nofile is not None:
            def pre():
                _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, max(hard, nofile)))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.errf, env=env, close_fds=True,
                                     start_new_session=True, preexec_fn=pre)
        self.pid = self.proc.pid
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                self.lines.append(line)
                self.history.feed(line)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait_line(self, pred, timeout, what):
        """The first line (from the start) satisfying pred; Fail after timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for l in self.lines:
                    if pred(l):
                        return l
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    raise Fail("victim did not print %s within %gs%s; its last lines: %s" % (
                        what, timeout, " (its stdout ended)" if self.eof else "",
                        self.lines[-8:]))
                self.cond.wait(min(left, 0.1))

    def wait_ready(self, name, timeout=20):
        return self.wait_line(lambda l: l == "ready " + name, timeout, "'ready %s'" % name)

    def find(self, prefix):
        with self.cond:
            return [l for l in self.lines if l.split()[:1] == [prefix]]

    def send(self, text):
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise Fail("cannot write %r to the victim's stdin: %s" % (text, e))

    def wait_idle(self, timeout=5.0):
        """Until every thread sleeps (twice in a row). False if that never happens."""
        deadline = time.monotonic() + timeout
        calm = 0
        while time.monotonic() < deadline:
            st = task_states(self.pid)
            if st and all(s in "S" for s in st.values()):
                calm += 1
                if calm >= 2:
                    return True
            else:
                calm = 0
            time.sleep(0.02)
        return False

    def finish(self, timeout, close_stdin=True):
        """Waits for the exit; Fail with a thread dump when it does not come."""
        if close_stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            dump = thread_dump(self.pid)
            self.kill()
            raise Fail("victim did not exit within %gs (deadlock?); killed. Its threads:\n%s" % (
                timeout, dump))
        finally:
            self.reader.join(10)
            self.errf.close()
        return self.proc.returncode

    def kill(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def stderr(self):
        try:
            with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""


# ------------------------------------------------------------------------------ reports

class Reports:
    """The report directory: files named by the pattern, parsed when complete."""

    def __init__(self, path, pattern, text=False):
        self.path = path
        self.naming = cl.Naming(pattern)
        self.text = text

    def names(self, pid=None):
        """{fname: (pid, n)} of the files that match the pattern."""
        out = {}
        for fname in os.listdir(self.path):
            p = self.naming.parse(fname)
            if p and (pid is None or p[0] == pid):
                out[fname] = p
        return out

    def load(self, fname):
        try:
            with open(os.path.join(self.path, fname), encoding="utf-8") as f:
                body = f.read()
            if self.text:
                return body if body.endswith("\n") else None
            return load_report(body, os.path.join(self.path, fname))
        except (OSError, ValueError):
            return None

    def wait(self, pid, count, timeout, what):
        """Until pid has at least count reports that all parse: [(n, fname, rep)] by n."""
        deadline = time.monotonic() + timeout
        while True:
            names = self.names(pid)
            if len(names) >= count:
                got = [(n, f, self.load(f)) for f, (_, n) in names.items()]
                if all(r is not None for _, _, r in got):
                    return sorted(got)
            if time.monotonic() >= deadline:
                raise Fail("%s: expected %d reports of pid %d within %gs, the directory holds "
                           "%s" % (what, count, pid, timeout, sorted(os.listdir(self.path))))
            time.sleep(0.01)

    def settle(self, pid, quiet, timeout):
        """Waits until no report of pid appears for `quiet` seconds; the count, or Fail."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            n = len(self.names(pid))
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return n
            time.sleep(0.02)
        raise Fail("reports of pid %d still appearing %gs later (%d so far)" % (
            pid, timeout, last))


def first_fn(frames, victim_real):
    f = cl.first_in_module(frames, victim_real)
    return f.get("function") if f else None


def sites_by_fn(rep, victim_real):
    """{function: [site]} by each site's first frame in the victim."""
    out = {}
    for s in rep.get("sites") or []:
        if isinstance(s, dict):
            out.setdefault(first_fn(s.get("native"), victim_real), []).append(s)
    return out


def check_sites(rep, quiescent):
    """The schema of sites[] and its counts (see the module doc)."""
    fails = []
    per_site = {}
    for e in rep.get("leaks") or []:
        if isinstance(e, dict):
            per_site[e.get("site")] = per_site.get(e.get("site"), 0) + 1
    sites = rep.get("sites")
    if not isinstance(sites, list):
        return ["sites: %r is not a list" % (sites,)]
    for s in sites:
        if not isinstance(s, dict):
            fails.append("site entry is not an object: %r" % (s,))
            continue
        sid = s.get("id")
        missing = [k for k in SITE_KEYS if k not in s]
        if missing:
            fails.append("site %r lacks %s: %s" % (sid, missing, json.dumps(
                {k: v for k, v in s.items() if k not in ("native", "python")})))
            continue
        c, d, o, lk, g = s["created"], s["closed"], s["open"], s["leaks"], s["growing"]
        if not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0
                   for x in (c, d, o, lk)):
            fails.append("site %r: created/closed/open/leaks not counts: %r %r %r %r" % (
                sid, c, d, o, lk))
            continue
        if not isinstance(g, bool):
            fails.append("site %r: growing %r is not a boolean" % (sid, g))
        elif g and not isinstance(s.get("growth_per_hour"), (int, float)):
            fails.append("site %r: growing but growth_per_hour is %r" % (
                sid, s.get("growth_per_hour")))
        if c < 1:
            fails.append("site %r listed with created=%d (a site is listed once it created "
                         "a descriptor)" % (sid, c))
        if d > c:
            fails.append("site %r: closed %d > created %d" % (sid, d, c))
        if lk != per_site.get(sid, 0):
            fails.append("site %r: leaks=%d but %d leaks[] entries name it" % (
                sid, lk, per_site.get(sid, 0)))
        if quiescent and c != d + o:
            fails.append("site %r: created %d != closed %d + open %d" % (sid, c, d, o))
        if quiescent and o != lk:
            fails.append("site %r: open %d but %d of its descriptors listed" % (sid, o, lk))
    return fails


def check_against(rep, decl, ctx, quiescent=True, trigger_signal=None, argv=None):
    """check_leaks.check_report plus check_sites. A signal report may name its signal in
    "signal" (or leave it out); any other value fails. argv: the victim's (default ctx.argv)."""
    r = dict(rep)
    if trigger_signal is not None and r.get("signal") in (None, trigger_signal):
        r.pop("signal", None)
    fails = cl.check_report(r, decl, ctx.victim_real, argv or ctx.argv)
    fails += check_sites(rep, quiescent)
    unatt = rep.get("unattributed")
    if quiescent and unatt:
        # the victims create descriptors with wrapped calls only, and fdleak's own (its
        # reserve, libunwind's) are not the program's
        fails.append("unattributed descriptors while the program is quiescent: %s" % (
            json.dumps(unatt)[:600],))
    return fails


def match_state(rep, hist, lo, ctx, trigger, argv=None):
    """The first state index >= lo whose leaks the report lists exactly: (index, []) or
    (None, failures)."""
    got = {e.get("fd") for e in rep.get("leaks") or [] if isinstance(e, dict)}
    tried = []
    for j in range(lo, len(hist.states)):
        if set(hist.states[j]) != got:
            continue
        fails = check_against(rep, decl_for(rep.get("pid"), trigger, hist.states[j]), ctx,
                              argv=argv)
        if not fails:
            return j, []
        tried.append((j, fails))
    if tried:
        j, fails = tried[0]
        return None, ["lists the fds of declared state %d but:" % j] + ["  " + f for f in fails]
    near = min(range(lo, len(hist.states)), key=lambda j: len(set(hist.states[j]) ^ got),
               default=None)
    msg = ["lists fds %s, which is none of the states the victim declared (from state %d "
           "on)" % (cl.fmt_set(got), lo)]
    if near is not None:
        msg.append("  nearest state %d: %s" % (near, cl.fmt_set(set(hist.states[near]))))
    return None, msg


# ------------------------------------------------------------------------------ context

class Ctx:
    def __init__(self, args, cmd):
        self.args = args
        self.lib = os.path.abspath(args.lib)
        self.cmd = cmd
        self.victim = os.path.abspath(cmd[0])
        self.victim_real = os.path.realpath(self.victim)
        self.argv = [self.victim] + cmd[1:]
        self.tmp = tempfile.mkdtemp(prefix="fdleak-live-")
        self.rdir = os.path.join(self.tmp, "reports")
        self.work = os.path.join(self.tmp, "work")
        os.mkdir(self.rdir)
        os.mkdir(self.work)
        self.fails = []
        self.notes = []
        self.pid = None
        self.victims = []

    def base_env(self):
        env = clean_env()
        env["FDLEAK_TEST_DIR"] = self.work
        return env

    def env(self, pattern="report.%p.json", fmt="json", extra=None):
        env = self.base_env()
        env.update(LD_PRELOAD=self.lib, FDLEAK_FORMAT=fmt,
                   FDLEAK_OUTPUT=os.path.join(self.rdir, pattern))
        env.update(extra or {})
        for kv in self.args.env:
            k, _, v = kv.partition("=")
            env[k] = v
        return env

    def start(self, env, cmd=None, nofile=None, name="victim", argv=None):
        v = Victim(cmd or self.argv, env, os.path.join(self.tmp, name + ".stderr"), nofile,
                   argv)
        self.victims.append(v)
        if self.pid is None:
            self.pid = v.pid
        return v

    def fail(self, msg):
        self.fails.append(msg)

    def check(self, what, fails):
        if fails:
            self.fails.append("%s:" % what)
            self.fails.extend("  " + f for f in fails)

    def expect_exit(self, v, rc, what="victim"):
        if rc < 0:
            self.fail("%s killed by %s" % (what, sig_name(-rc)))
        elif rc != 0:
            self.fail("%s exit status %d, expected 0 (its self-check; see its stderr)" % (
                what, rc))
        self.check("victim declarations", v.history.problems)

    def final_reports(self, v, reports, triggers):
        """All reports of the run: named right, parse, exit last; the pid's triggers in order
        must match `triggers` (a list of names, or a function of the list returning failures);
        the exit report must list exactly the final state."""
        by_pid, problems = cl.collect_reports(reports.path, reports.naming, reports.text)
        self.check("report files", problems)
        mine = by_pid.get(v.pid, [])
        got = ["exit" if reports.text else r.get("trigger") for _, _, r in mine]
        if callable(triggers):
            self.check("triggers of pid %d's reports" % v.pid, triggers(got))
        elif got != triggers:
            self.fail("pid %d's reports have triggers %s, expected %s (files %s)" % (
                v.pid, got, triggers, [f for _, f, _ in mine]))
        if mine and not reports.text and mine[-1][2].get("trigger") == "exit":
            _, fname, rep = mine[-1]
            self.check("exit report %s" % fname, check_against(
                rep, decl_for(v.pid, "exit", v.history.states[-1]), self, argv=v.argv))
        return mine


# ------------------------------------------------------------------------------ scenarios

def sc_signal(ctx):
    """A report per signal from an idle victim, the exit report last."""
    a = ctx.args
    sig = parse_sig(a.report_signal)
    reports = Reports(ctx.rdir, a.output_pattern or "report.%p.json")
    v = ctx.start(ctx.env(pattern=reports.naming.pattern))
    v.wait_ready("one")
    workers = []
    if a.aim == "thread":
        v.wait_line(lambda l: len(v.find("thread")) >= 3, 10, "3 'thread' lines")
        workers = [int(l.split()[1]) for l in v.find("thread")]
    got = []
    for k, mark in enumerate(("one", "two")):
        if k == 1:
            v.send("next\n")
            v.wait_ready("two")
        if not v.wait_idle():
            ctx.notes.append("victim threads not all sleeping before signal %d (%s)" % (
                k + 1, task_states(v.pid)))
        t0 = time.monotonic()
        if workers:
            err = tgkill(v.pid, workers[k % len(workers)], sig)
            if err:
                raise Fail("tgkill(%d, %d): errno %d" % (v.pid, workers[k], err))
        else:
            os.kill(v.pid, sig)
        reps = reports.wait(v.pid, k + 1, a.prompt, "%s %d" % (sig_name(sig), k + 1))
        ctx.notes.append("report %d after %.3fs" % (k + 1, time.monotonic() - t0))
        if len(reps) != k + 1:
            ctx.fail("after signal %d: %d reports %s" % (k + 1, len(reps),
                                                         [f for _, f, _ in reps]))
        n, fname, rep = reps[-1]
        idx, want_open = v.history.marks[mark]
        ctx.check("report %s (signal %d, mark %s)" % (fname, k + 1, mark), check_against(
            rep, decl_for(v.pid, "signal", v.history.states[idx]), ctx,
            trigger_signal=sig_name(sig)))
        if want_open is not None and rep.get("open") != want_open:
            ctx.fail("report %s: open %r, victim holds %d" % (fname, rep.get("open"), want_open))
        # transient() opened and closed a descriptor, from one call line in phase one and
        # another in phase two: that many sites, which a live report counts, not lists (they
        # hold nothing and no finding names them)
        tr = sites_by_fn(rep, ctx.victim_real).get("transient", [])
        if tr or rep.get("sites_omitted", 0) < k + 1:
            ctx.fail("report %s: expected the %d site(s) `transient` counted in sites_omitted (%r), "
                     "not listed; listed: %s" % (fname, k + 1, rep.get("sites_omitted"),
                                                 [{k2: s.get(k2) for k2 in SITE_KEYS[:5]} for s in tr]))
        got.append((fname, json.dumps(rep, sort_keys=True)))
    if got[0][0] == got[1][0]:
        ctx.fail("both signal reports in one file %s" % got[0][0])
    again = reports.load(got[0][0])
    if again is None or json.dumps(again, sort_keys=True) != got[0][1]:
        ctx.fail("the first signal report %s changed or vanished after the second" % got[0][0])
    v.send("end\n")
    ctx.expect_exit(v, v.finish(a.timeout))
    ctx.final_reports(v, reports, ["signal", "signal", "exit"])


def stderr_mentions(text, word):
    return [l for l in text.splitlines() if word in l]


def sc_own(ctx, late=False, other=False):
    """The program's own handler for the report signal (or, other=True, for SIGUSR1 while
    FDLEAK_SIGNAL names SIGUSR2)."""
    a = ctx.args
    reports = Reports(ctx.rdir, "report.%p.json")
    forms = {"name": "USR2", "sig": "SIGUSR2", "number": str(int(signal.SIGUSR2))}
    v = ctx.start(ctx.env(extra={"FDLEAK_SIGNAL": forms[a.signal_form]} if other else None))
    v.wait_ready("one")
    expect = []
    if late:
        v.wait_idle()
        os.kill(v.pid, signal.SIGUSR1)
        reports.wait(v.pid, 1, a.prompt, "SIGUSR1 before the program's handler")
        expect.append("signal")
        v.send("install\n")
        v.wait_ready("installed")
    if other:
        v.wait_idle()
        os.kill(v.pid, signal.SIGUSR2)
        reports.wait(v.pid, 1, a.prompt, "SIGUSR2 (FDLEAK_SIGNAL)")
        expect.append("signal")
    for k in (1, 2):
        v.wait_idle()
        os.kill(v.pid, signal.SIGUSR1)
        v.wait_line(lambda l, k=k: l == "handled %d" % k, a.prompt,
                    "'handled %d' (the program's SIGUSR1 handler ran)" % k)
    time.sleep(0.3)  # a wrongly written report would have time to appear
    v.send("end\n")
    ctx.expect_exit(v, v.finish(a.timeout))
    total = v.find("handled-total")
    if total != ["handled-total 2"]:
        ctx.fail("the program's handler ran %s times, expected 2" % (
            total[0].split()[1] if total else "?"))
    ctx.final_reports(v, reports, expect + ["exit"])
    said = stderr_mentions(v.stderr(), "SIGUSR1")
    want = 0 if other else 1
    if len(said) != want:
        ctx.fail("stderr lines naming SIGUSR1: %d, expected %d:\n    %s" % (
            len(said), want, "\n    ".join(said) or "(none)"))


def sc_signal_none(ctx):
    a = ctx.args
    reports = Reports(ctx.rdir, "report.%p.json")
    v = ctx.start(ctx.env(extra={"FDLEAK_SIGNAL": "none"}))
    v.wait_ready("one")
    v.wait_idle()
    os.kill(v.pid, signal.SIGUSR1)
    rc = v.finish(a.prompt, close_stdin=False)
    if rc != -signal.SIGUSR1:
        ctx.fail("with FDLEAK_SIGNAL=none SIGUSR1 must keep its default action (death); the "
                 "victim %s" % ("exited %d" % rc if rc >= 0 else "died by " + sig_name(-rc)))

    def no_signal(trigs):
        return ["a report with trigger %r" % t for t in trigs if t != "exit"]
    ctx.final_reports(v, reports, no_signal)


# --- storm

STORM_TRANSIENT = {  # function: (kinds, most descriptors open at once)
    "churn_open": ({"file"}, 8),
    "churn_socket": ({"socket"}, 8),
    "churn_pipe": ({"pipe"}, 16),
    "on_usr2": ({"file", "pipe"}, 9 * 3 + 1),
}


def check_storm_report(rep, pre, ctx):
    """A report written during the storm: the pre-storm leaks exact, everything else a
    descriptor a churn thread or the handler could hold."""
    fails = check_against(rep, decl_for(ctx.pid, "signal", pre, any_leaks=True), ctx,
                          quiescent=False, trigger_signal="SIGUSR1")
    sites = {s.get("id"): s for s in rep.get("sites") or [] if isinstance(s, dict)}
    count = {}
    for e in rep.get("leaks") or []:
        if not isinstance(e, dict) or e.get("fd") in pre:
            continue
        sid = e.get("site")
        fn = "on_usr2" if sid is None else first_fn(sites.get(sid, {}).get("native"),
                                                    ctx.victim_real)
        if fn not in STORM_TRANSIENT:
            fails.append("fd %r from %s (site %r) cannot be open during the storm: %s" % (
                e.get("fd"), fn, sid, json.dumps(e)))
            continue
        kinds, _ = STORM_TRANSIENT[fn]
        if e.get("kind") not in kinds:
            fails.append("fd %r from %s is a %r, expected %s" % (
                e.get("fd"), fn, e.get("kind"), "|".join(sorted(kinds))))
        count[fn] = count.get(fn, 0) + 1
    unatt = [e for e in rep.get("unattributed") or [] if isinstance(e, dict)]
    # a descriptor a churn thread or the handler is making right now may be open before fdleak
    # records it: unattributed, but only of those kinds and at most that many
    bad = [e for e in unatt if e.get("kind") not in ("file", "socket", "pipe") or
           e.get("fd") in pre]
    if bad:
        fails.append("unattributed descriptors no thread could be making: %s" % json.dumps(bad))
    most = sum(n for _, n in STORM_TRANSIENT.values())
    if len(unatt) + sum(count.values()) > most:
        fails.append("%d descriptors besides the pre-storm ones (%d unattributed), at most %d "
                     "can be open at once" % (len(unatt) + sum(count.values()), len(unatt),
                                              most))
    for fn, n in count.items():
        if n > STORM_TRANSIENT[fn][1]:
            fails.append("%d descriptors from %s listed, at most %d can be open at once" % (
                n, fn, STORM_TRANSIENT[fn][1]))
    for fn in ("pre_file", "pre_pipe", "pre_socket"):
        ss = sites_by_fn(rep, ctx.victim_real).get(fn, [])
        want = 2 if fn == "pre_pipe" else 1
        if len(ss) != 1 or [ss[0].get(k) for k in ("created", "closed", "open")] != [want, 0,
                                                                                     want]:
            fails.append("site %s: expected created=open=%d closed=0, got %s" % (
                fn, want, [{k: s.get(k) for k in SITE_KEYS[:5]} for s in ss]))
    for fn in ("churn_open", "churn_socket", "churn_pipe"):
        for s in sites_by_fn(rep, ctx.victim_real).get(fn, []):
            c, d, o = s.get("created"), s.get("closed"), s.get("open")
            if all(isinstance(x, int) for x in (c, d, o)) and abs(c - d - o) > 9:
                fails.append("site %r (%s): created %d - closed %d = %d, open %d (more than "
                             "the 9 calls that can be in flight apart)" % (
                                 s.get("id"), fn, c, d, c - d, o))
    return fails


def sc_storm(ctx):
    a = ctx.args
    reports = Reports(ctx.rdir, "report.%p.json")
    v = ctx.start(ctx.env())
    v.wait_ready("storm", 30)
    pre = v.history.states[v.history.marks["pre"][0]]
    v.wait_line(lambda l: len(v.find("thread")) >= 8, 10, "8 'thread' lines")
    sent = {signal.SIGUSR1: 0, signal.SIGUSR2: 0}
    aimed = 0
    total = a.count + a.usr2
    t_start = time.monotonic()
    tids = list(task_states(v.pid))
    for i in range(total):
        if v.proc.poll() is not None:
            rc = v.proc.returncode
            raise Fail("victim ended during the storm after %d signals: %s" % (
                i, "killed by %s" % sig_name(-rc) if rc < 0 else "exit status %d" % rc))
        # spread the program's signals evenly among the report signals
        sig = signal.SIGUSR2 if a.usr2 and i % max(1, total // a.usr2) == 0 else signal.SIGUSR1
        if sent[signal.SIGUSR2] >= a.usr2:
            sig = signal.SIGUSR1
        if sent[signal.SIGUSR1] >= a.count:
            sig = signal.SIGUSR2
        if i % 100 == 0:
            tids = list(task_states(v.pid)) or tids
        if i % 3 == 0 and tids:
            if tgkill(v.pid, tids[i % len(tids)], sig) == 0:
                aimed += 1
        else:
            os.kill(v.pid, sig)
        sent[sig] += 1
        # pace: total signals over the duration
        ahead = t_start + a.duration * (i + 1) / total - time.monotonic()
        if ahead > 0.001:
            time.sleep(ahead)
    storm_s = time.monotonic() - t_start
    ctx.notes.append("sent %d SIGUSR1 and %d SIGUSR2 (%d with tgkill) in %.2fs" % (
        sent[signal.SIGUSR1], sent[signal.SIGUSR2], aimed, storm_s))
    v.send("stop\n")
    v.wait_ready("post", 90)
    n_storm = reports.settle(v.pid, 1.0, 120)
    ctx.notes.append("%d reports during the storm" % n_storm)
    if n_storm < 1:
        ctx.fail("no report written during the storm of %d SIGUSR1" % sent[signal.SIGUSR1])
    v.wait_idle()
    os.kill(v.pid, signal.SIGUSR1)
    reps = reports.wait(v.pid, n_storm + 1, a.prompt, "SIGUSR1 after the storm")
    n, fname, rep = reps[-1]
    post = v.history.states[v.history.marks["post"][0]]
    ctx.check("report %s (after the storm)" % fname, check_against(
        rep, decl_for(v.pid, "signal", post), ctx, trigger_signal="SIGUSR1"))
    handled = v.find("usr2-handled")
    if not handled or int(handled[0].split()[1]) < min(10, a.usr2):
        ctx.fail("the program's SIGUSR2 handler ran %s times; the storm proves little" % (
            handled[0].split()[1] if handled else "?"))
    v.send("end\n")
    ctx.expect_exit(v, v.finish(a.timeout))

    def triggers(trigs):
        bad = [t for t in trigs[:-1] if t != "signal"]
        return (["triggers other than signal: %s" % sorted(set(bad))] if bad else []) + \
            ([] if trigs[-1:] == ["exit"] else ["last report is %r, not exit" % trigs[-1:]])
    mine = ctx.final_reports(v, reports, triggers)
    details = []
    last_peak, last_created = None, {}
    for n, fname, rep in mine[:n_storm]:
        sub = check_storm_report(rep, pre, ctx)
        if sub:
            details.append("report %s:" % fname)
            details.extend("  " + s for s in sub)
        peak = rep.get("peak")
        if isinstance(peak, int) and last_peak is not None and peak < last_peak:
            details.append("report %s: peak %d < %d in the report before it" % (
                fname, peak, last_peak))
        if isinstance(peak, int):
            last_peak = peak
        for s in rep.get("sites") or []:
            sid, c = s.get("id"), s.get("created")
            if isinstance(c, int) and c < last_created.get(sid, 0):
                details.append("report %s: site %r created %d < %d in an earlier report" % (
                    fname, sid, c, last_created[sid]))
            if isinstance(c, int):
                last_created[sid] = c
    if len(details) > cl.MAX_DETAILS:
        details = details[:cl.MAX_DETAILS] + ["... and %d more" % (len(details) -
                                                                   cl.MAX_DETAILS)]
    ctx.check("reports written during the storm", details)


# --- interval and growth

def growth_expectations(series, k):
    """For open counts series[0..m-1] (None: site not listed), whether the site is growing at
    each report: the last k values strictly increasing."""
    out = []
    for i in range(len(series)):
        w = series[i - k + 1:i + 1] if i >= k - 1 else []
        out.append(len(w) == k and None not in w and all(x < y for x, y in zip(w, w[1:])))
    return out


def check_growth(reps, k, rate, ctx, fns=("grow_one", "hold_flat", "churn_step")):
    """reps: interval reports in order. Returns failures; growing must be true exactly when
    the k last open counts rose; growth_per_hour within 4x of the rate."""
    fails = []
    series = {fn: [] for fn in fns}
    flags = {fn: [] for fn in fns}
    for _, fname, rep in reps:
        by = sites_by_fn(rep, ctx.victim_real)
        for fn in fns:
            ss = by.get(fn, [])
            if len(ss) > 1:
                fails.append("%s: %d sites for %s (one call site expected)" % (
                    fname, len(ss), fn))
            s = ss[0] if ss else None
            series[fn].append(s.get("open") if s else None)
            flags[fn].append(s)
    grew = 0
    for fn in fns:
        want = growth_expectations(series[fn], k)
        for i, (_, fname, rep) in enumerate(reps):
            s = flags[fn][i]
            if s is None:
                continue
            g = s.get("growing")
            window = series[fn][max(0, i - k + 1):i + 1]
            if g is not want[i]:
                fails.append("%s: site %s growing=%r, expected %r (open over the last %d "
                             "interval reports: %s)" % (fname, fn, g, want[i], k, window))
            elif g:
                if fn == "grow_one":
                    grew += 1
                gph = s.get("growth_per_hour")
                if not isinstance(gph, (int, float)) or not rate / 4 <= gph <= rate * 4:
                    fails.append("%s: site %s growth_per_hour %r, expected about %.0f (within "
                                 "4x)" % (fname, fn, gph, rate))
    if grew == 0:
        fails.append("grow_one never growing: its open counts over %d interval reports were "
                     "%s (K=%d)" % (len(reps), series["grow_one"], k))
    if "hold_flat" in fns and any(want for want in growth_expectations(series["hold_flat"], k)):
        fails.append("hold_flat's open counts rose: %s (the victim is broken)" %
                     series["hold_flat"])
    return fails, series


def interval_env(ctx, fmt, pattern):
    a = ctx.args
    extra = {"FDLEAK_INTERVAL": a.interval}
    if a.growth is not None:
        extra["FDLEAK_GROWTH"] = str(a.growth)
    return ctx.env(pattern=pattern, fmt=fmt, extra=extra)


def victim_number(v, word):
    got = v.find(word)
    if not got:
        raise Fail("victim printed no '%s' line" % word)
    return float(got[0].split()[1])


def check_interval_timing(reps, interval, duration, ctx):
    times = [r.get("time") for _, _, r in reps]
    if not all(isinstance(t, (int, float)) for t in times):
        ctx.fail("interval reports' times: %r" % times)
        return
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    if gaps:
        med = gaps[len(gaps) // 2]
        if not interval / 2 <= med <= interval * 2:
            ctx.fail("median gap between interval reports %.3fs, FDLEAK_INTERVAL=%g" % (
                med, interval))
    want = duration / interval / 2
    if len(reps) < want:
        ctx.fail("%d interval reports in a %.1fs run at FDLEAK_INTERVAL=%g, expected at least "
                 "%d" % (len(reps), duration, interval, want))


def sc_interval(ctx):
    a = ctx.args
    k = a.growth if a.growth is not None else 3
    reports = Reports(ctx.rdir, "report.%p.json")
    v = ctx.start(interval_env(ctx, "json", reports.naming.pattern))
    ctx.expect_exit(v, v.finish(a.timeout))
    rate = victim_number(v, "growth-rate")
    duration = victim_number(v, "duration")

    def triggers(trigs):
        bad = [t for t in trigs[:-1] if t != "interval"]
        return ["a report with trigger %r" % t for t in bad] + \
            ([] if trigs[-1:] == ["exit"] else ["last report %r, not exit" % trigs[-1:]])
    mine = ctx.final_reports(v, reports, triggers)
    reps = [r for r in mine if r[2].get("trigger") == "interval"]
    if len(reps) < k + 2:
        raise Fail("only %d interval reports; need at least K+2 = %d" % (len(reps), k + 2))
    check_interval_timing(reps, float(a.interval), duration, ctx)
    lo = 0
    for n, fname, rep in reps:
        j, fails = match_state(rep, v.history, lo, ctx, "interval")
        ctx.check("interval report %s" % fname, fails)
        if j is not None:
            lo = j
    fails, series = check_growth(reps, k, rate, ctx)
    ctx.check("growth over %d interval reports (K=%d)" % (len(reps), k), fails)
    ctx.notes.append("grow_one open counts: %s" % series["grow_one"])
    # the churning site: created goes up, open stays 0; a live report counts it, not lists it
    last = sites_by_fn(reps[-1][2], ctx.victim_real).get("churn_step", [])
    if last or reps[-1][2].get("sites_omitted", 0) < 1:
        ctx.fail("last interval report: expected the churning site churn_step counted in "
                 "sites_omitted (%r), not listed; listed: %s" % (
                     reps[-1][2].get("sites_omitted"), [{x: s.get(x) for x in SITE_KEYS[:5]} for s in last]))


TEXT_HEAD = re.compile(r"^fdleak: (\d+) descriptors? leaked (?:at site|where)")
TEXT_FRAME = re.compile(r"^fdleak:\s+(?:at|by) 0x[0-9a-fA-F]+: (\S+)")
TEXT_FD = re.compile(r"^fdleak:\s+fd \d+\s")


def text_blocks(body, fns):
    """[(function, leaked count, says growing)] for the leak blocks of a text report, in order;
    function is the first frame among fns (None if none)."""
    out = []
    cur = None
    for line in body.splitlines():
        m = TEXT_HEAD.match(line)
        if m:
            cur = [None, int(m.group(1)), False]
            out.append(cur)
        elif line.strip() == "fdleak:":
            cur = None
        if cur is None:
            continue
        f = TEXT_FRAME.match(line)
        if f:
            if cur[0] is None and f.group(1) in fns:
                cur[0] = f.group(1)
        elif not TEXT_FD.match(line) and re.search(r"\bgrowing\b", line):
            cur[2] = True
    return [tuple(b) for b in out]


def text_growing_first(body, grower, others):
    """(listed first, problems) for one text report: the grower is "listed first with the word
    growing" either on a line saying growing that names it before any line names another site's
    function (a summary), or as the first leak block, whose headline says growing; no line or
    block says growing about another site."""
    lines = body.splitlines()
    problems = []
    first_other = next((i for i, l in enumerate(lines)
                        if any(re.search(r"\b%s\b" % o, l) for o in others)), len(lines))
    says = [i for i, l in enumerate(lines) if re.search(r"\bgrowing\b", l)
            and not TEXT_FD.match(l)]
    for i in says:
        bad = [o for o in others if re.search(r"\b%s\b" % o, lines[i])]
        if bad:
            problems.append("line %d says growing about %s: %r" % (i + 1, bad, lines[i]))
    summary = any(i < first_other and re.search(r"\b%s\b" % grower, lines[i]) for i in says)
    blocks = text_blocks(body, (grower,) + tuple(others))
    for fn, cnt, g in blocks:
        if g and fn != grower:
            problems.append("the %s block (%d leaks) says growing" % (fn, cnt))
    flags = [b[2] for b in blocks]
    if any(flags) and flags != sorted(flags, reverse=True):
        problems.append("a block marked growing comes after one that is not: %s" % blocks)
    block = bool(blocks) and blocks[0][0] == grower and blocks[0][2]
    return summary or block, problems


def sc_interval_text(ctx):
    a = ctx.args
    reports = Reports(ctx.rdir, "report.%p.txt", text=True)
    v = ctx.start(interval_env(ctx, "text", reports.naming.pattern))
    ctx.expect_exit(v, v.finish(a.timeout))
    mine = ctx.final_reports(v, reports, lambda trigs: [])
    first = 0
    details = []
    ninterval = 0
    for n, fname, body in mine:
        head = body.splitlines()[0] if body else ""
        if "[interval" not in head:
            continue
        ninterval += 1
        ok, problems = text_growing_first(body, "grow_one", ("hold_flat",))
        details.extend("%s: %s" % (fname, p) for p in problems)
        # hold_flat holds more (30) than grow_one ever does (20): "most leaks first" alone
        # would list it first, so listing grow_one first is the growth's doing
        first += ok
    if ninterval == 0:
        details.append("no text report with [interval] in its first line among %s" % (
            [f for _, f, _ in mine]))
    if not first:
        details.append("no interval report lists grow_one first with the word growing (before "
                       "hold_flat, which holds more)")
    ctx.check("text interval reports", details)
    ctx.notes.append("%d of %d interval reports list grow_one first as growing" % (
        first, ninterval))


# --- threshold and EMFILE

def sc_limits(ctx):
    a = ctx.args
    reports = Reports(ctx.rdir, "report.%p.json")
    v = ctx.start(ctx.env(), nofile=a.nofile)
    ctx.expect_exit(v, v.finish(a.timeout))
    expect = []
    for e in a.expect:
        trig, _, mark = e.partition("@")
        if not mark:
            raise Fail("--expect wants TRIGGER@MARK, got %r" % e)
        expect.append((trig, mark))
    mine = ctx.final_reports(v, reports, [t for t, _ in expect] + ["exit"])
    live = [r for r in mine if r[2].get("trigger") != "exit"]
    for (trig, mark), (n, fname, rep) in zip(expect, live):
        if mark not in v.history.marks:
            ctx.fail("the victim printed no mark %s" % mark)
            continue
        idx, want_open = v.history.marks[mark]
        ctx.check("%s report %s (mark %s)" % (trig, fname, mark), check_against(
            rep, decl_for(v.pid, trig, v.history.states[idx]), ctx))
        if want_open is not None and rep.get("open") != want_open:
            ctx.fail("%s report %s: open %r, the victim held %d" % (
                trig, fname, rep.get("open"), want_open))
        if rep.get("limit") != a.nofile:
            ctx.fail("%s report %s: limit %r, RLIMIT_NOFILE is %d" % (
                trig, fname, rep.get("limit"), a.nofile))
    for line in v.find("report-at-fail"):
        f = line.split()
        if len(f) != 4 or f[2] != "1" or int(f[3]) <= 0:
            ctx.fail("when open() failed with EMFILE the report was not there yet: %r "
                     "(report-at-fail PATH EXISTS SIZE)" % line)
    if any(t == "emfile" for t, _ in expect) and not v.find("report-at-fail"):
        ctx.fail("the victim did not look for the emfile report (no report-at-fail line)")


# --- metrics

METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?$")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse_metrics(text):
    """(samples [(name, {label: value}, float)], types {name: type}, problems)."""
    samples, types, problems = [], {}, []
    if text and not text.endswith("\n"):
        problems.append("does not end with a newline")
    for ln, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            f = line.split(None, 3)
            if len(f) >= 4 and f[1] == "TYPE":
                types[f[2]] = f[3].strip()
            continue
        m = METRIC_LINE.match(line)
        if not m:
            problems.append("line %d not a sample: %r" % (ln, line))
            continue
        labels, rest = {}, m.group(2) or ""
        pos = 0
        while pos < len(rest):
            lm = LABEL.match(rest, pos)
            if not lm:
                problems.append("line %d: bad labels %r" % (ln, rest))
                break
            labels[lm.group(1)] = re.sub(r"\\(.)", lambda x: {"n": "\n"}.get(x.group(1),
                                                                            x.group(1)),
                                         lm.group(2))
            pos = lm.end()
        try:
            val = float(m.group(3))
        except ValueError:
            problems.append("line %d: value %r" % (ln, m.group(3)))
            continue
        samples.append((m.group(1), labels, val))
    return samples, types, problems


def label_fn(site):
    """The function part of a site label: "fn (file:line)" or "fn"."""
    return site.split(" (", 1)[0]


def promtool(path, ctx):
    tool = shutil.which("promtool")
    if tool is None:
        return None
    with open(path, "rb") as f:
        r = subprocess.run([tool, "check", "metrics"], stdin=f, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
    if r.returncode != 0:
        ctx.fail("promtool check metrics < %s: status %d\n%s" % (
            path, r.returncode, r.stdout.decode("utf-8", "replace").rstrip()))
    return True


def check_metrics_text(text, v, ctx, many):
    samples, types, problems = parse_metrics(text)
    fails = list(problems)
    want_types = {"fdleak_open_descriptors": "gauge", "fdleak_created_total": "counter",
                  "fdleak_closed_total": "counter", "fdleak_limit": "gauge",
                  "fdleak_peak": "gauge"}
    for name, typ in want_types.items():
        got = types.get(name, types.get(name[:-6] if name.endswith("_total") else name))
        if got != typ:
            fails.append("# TYPE of %s: %r, expected %s" % (name, got, typ))
        if not any(s[0] == name for s in samples):
            fails.append("no %s sample" % name)
    want_labels = {"fdleak_open_descriptors": {"site", "key", "kind", "peer"},
                   "fdleak_created_total": {"site", "key"}, "fdleak_closed_total": {"site", "key"},
                   "fdleak_limit": set(), "fdleak_peak": set()}
    for name, labels, _ in samples:
        if name in want_labels and set(labels) != want_labels[name]:
            fails.append("%s has labels %s, expected %s" % (name, sorted(labels),
                                                            sorted(want_labels[name])))
    open_s = [(l, x) for n, l, x in samples if n == "fdleak_open_descriptors"]
    mark_idx, held = v.history.marks["metrics"]
    total = sum(x for _, x in open_s)
    if total not in (held, held - 3):
        fails.append("fdleak_open_descriptors sum to %g; the victim holds %d (%d without "
                     "0, 1, 2)" % (total, held, held - 3))
    limit = [x for n, _, x in samples if n == "fdleak_limit"]
    if limit != [ctx.args.nofile]:
        fails.append("fdleak_limit %s, RLIMIT_NOFILE is %d" % (limit, ctx.args.nofile))
    peak = [x for n, _, x in samples if n == "fdleak_peak"]
    if len(peak) != 1 or peak[0] < held:
        fails.append("fdleak_peak %s, the victim holds %d now" % (peak, held))
    for name in ("fdleak_open_descriptors", "fdleak_created_total", "fdleak_closed_total"):
        sites = {l.get("site") for n, l, _ in samples if n == name}
        # the stable key: one per site label, 16 hex digits ("other" for the rest)
        keys = {(l.get("site"), l.get("key")) for n, l, _ in samples if n == name}
        bad = [k for k in keys if (k[1] != "other") if k[0] == "other" or not re.fullmatch(r"[0-9a-f]{16}", k[1] or "")]
        if bad or len({k for _, k in keys}) != len(sites):
            fails.append("%s: keys %s, expected one 16-hex key per site label" % (name, sorted(keys)[:6]))
        named = {s for s in sites if s != "other"}
        if len(named) > 20:
            fails.append("%s: %d site series besides other, at most 20" % (name, len(named)))
        if many and "other" not in sites:
            fails.append("%s: more than 20 sites but no site=\"other\"" % name)
        # the site's place: its innermost own frame and the one that called it
        frame = r"[A-Za-z_][\w.]*( \([^():]+:\d+\))?"
        bad = [s for s in named if not re.fullmatch(r"%s( from %s)?" % (frame, frame), s)]
        if bad:
            fails.append("%s: site labels not `function (file:line) [from function (file:line)]`: %s"
                         % (name, bad[:5]))
        if name == "fdleak_open_descriptors" and many:
            fns = {label_fn(s) for s in named}
            if len(fns) != len(named) or len(named) < 20:
                fails.append("34 sites (25 of them many_NN), but %d site series with %d "
                             "functions besides other: %s" % (len(named), len(fns),
                                                              sorted(named)))
    if many:
        return fails
    for line in v.find("series"):
        _, fn, kind, peer, count = line.split()
        got = [(l, x) for l, x in open_s if label_fn(l.get("site", "")) == fn and
               l.get("kind") == kind and (peer == "*" or l.get("peer") == ("" if peer == "-"
                                                                              else peer))]
        if sum(x for _, x in got) != int(count):
            fails.append("open descriptors of %s kind=%s peer=%s: %s, the victim holds %s" % (
                fn, kind, peer, [(l, x) for l, x in got] or "no series", count))
    for line in v.find("total"):
        _, fn, created, closed = line.split()
        for name, want in (("fdleak_created_total", created), ("fdleak_closed_total", closed)):
            got = sum(x for n, l, x in samples if n == name and
                      label_fn(l.get("site", "")) == fn)
            if got != int(want):
                fails.append("%s for %s: %g, expected %s" % (name, fn, got, want))
    return fails


def sc_metrics(ctx):
    a = ctx.args
    many = "many" in ctx.cmd[1:]
    mdir = os.path.join(ctx.tmp, "metrics")
    os.mkdir(mdir)
    mpath = os.path.join(mdir, "fdleak.prom")
    reports = Reports(ctx.rdir, "report.%p.json")
    v = ctx.start(ctx.env(extra={"FDLEAK_INTERVAL": a.interval, "FDLEAK_METRICS": mpath}),
                  nofile=a.nofile)
    v.wait_ready("metrics", 30)

    def ident():
        try:
            st = os.stat(mpath)
            return (st.st_ino, st.st_mtime_ns)
        except OSError:
            return None
    # two rewrites after the mark: the file describes what the victim holds now
    seen, deadline = [ident()], time.monotonic() + 10 * float(a.interval) + 5
    while len(set(seen)) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
        i = ident()
        if i != seen[-1]:
            seen.append(i)
    if len([s for s in set(seen) if s]) < 2:
        raise Fail("%s rewritten %d times in %.1fs after the victim was ready (interval %s)" % (
            mpath, len(set(seen)) - 1, 10 * float(a.interval) + 5, a.interval))
    with open(mpath, encoding="utf-8") as f:
        text = f.read()
    ctx.check("metrics file %s" % mpath, check_metrics_text(text, v, ctx, many))
    have_promtool = promtool(mpath, ctx)
    if ctx.fails:
        ctx.fails.append("--- metrics file ---\n" + text)

    # atomic replacement: while the victim churns, every read is a whole file, and a change of
    # content comes with a new inode (a temporary file renamed over the old one)
    v.send("churn\n")
    reads = changes = in_place = torn = 0
    last = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            fd = os.open(mpath, os.O_RDONLY)
            try:
                ino = os.fstat(fd).st_ino
                body = b""
                while True:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    body += chunk
            finally:
                os.close(fd)
        except FileNotFoundError:
            torn += 1
            ctx.fail("%s missing for a moment (replaced by unlink+create, not rename)" % mpath)
            break
        reads += 1
        body = body.decode("utf-8", "replace")
        s, _, probs = parse_metrics(body)
        if probs or not any(n == "fdleak_peak" for n, _, _ in s):
            torn += 1
            if torn <= 3:
                ctx.fail("a read of %s saw an incomplete file: %s\n%r" % (
                    mpath, probs[:3], body[-200:]))
        if last is not None and body != last[1]:
            changes += 1
            if ino == last[0]:
                in_place += 1
        last = (ino, body)
        with v.cond:
            if "ready churned" in v.lines:
                break
        time.sleep(0.002)
    ctx.notes.append("%d reads of the metrics file while churning, %d changes" % (
        reads, changes))
    if changes < 2:
        ctx.fail("the metrics file changed %d times while the victim churned for about 1.5s "
                 "(interval %s)" % (changes, a.interval))
    if in_place:
        ctx.fail("%d of %d changes of the metrics file kept its inode: rewritten in place, "
                 "not replaced atomically" % (in_place, changes))
    v.send("end\n")
    ctx.expect_exit(v, v.finish(a.timeout))

    def triggers(trigs):
        bad = [t for t in trigs[:-1] if t != "interval"]
        return ["a report with trigger %r" % t for t in bad] + \
            ([] if trigs[-1:] == ["exit"] else ["last report %r, not exit" % trigs[-1:]])
    ctx.final_reports(v, reports, triggers)
    left = sorted(os.listdir(mdir))
    if left != ["fdleak.prom"]:
        ctx.fail("the metrics directory holds %s after the exit, expected only fdleak.prom "
                 "(temporary files left behind?)" % left)
    if have_promtool is None:
        why = "promtool not found (Debian package prometheus)"
        if os.environ.get("CI") == "true":
            ctx.fail(why + "; CI=true: the test environment must have it")
        elif not ctx.fails:
            return why
    return None


# --- launcher

def run_launcher(ctx, argv, timeout=30, env=None):
    e = env if env is not None else ctx.base_env()
    e["FDLEAK_LIBRARY"] = ctx.lib
    try:
        r = subprocess.run([ctx.args.launcher] + argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail("fdleak %s did not finish within %ds" % (" ".join(argv), timeout))
    return (r.returncode, r.stdout.decode("utf-8", "replace"),
            r.stderr.decode("utf-8", "replace"))


def launched(ctx, opts, vargs, name):
    """A victim started by the launcher (which execs it: same pid)."""
    env = ctx.base_env()
    env["FDLEAK_LIBRARY"] = ctx.lib
    v = ctx.start(env, cmd=[ctx.args.launcher] + opts + ["--", ctx.victim] + vargs, name=name,
                  argv=[ctx.victim] + vargs)
    try:
        v.wait_ready("one")
    except Fail as e:
        raise Fail("%s\n(fdleak %s: stderr %r)" % (e, " ".join(opts), v.stderr()[-1500:]))
    pid = int(v.wait_line(lambda l: l.startswith("pid "), 5, "its pid").split()[1])
    if pid != v.pid:
        ctx.fail("the launcher ran the command as pid %d, not in its own process %d" % (
            pid, v.pid))
    v.wait_idle()
    return v


def sc_launcher_pid(ctx):
    a = ctx.args
    reports = Reports(ctx.rdir, "r.%p.json")
    # 1. report to a file: --pid prints its path
    v = launched(ctx, ["-o", os.path.join(ctx.rdir, "r.%p.json"), "--format", "json"],
                 ["poll"], "file")
    rc, out, err = run_launcher(ctx, ["--pid", str(v.pid)])
    want = os.path.join(ctx.rdir, "r.%d.json" % v.pid)
    if rc != 0:
        ctx.fail("fdleak --pid %d: status %d\nstdout: %s\nstderr: %s" % (v.pid, rc, out, err))
    if want not in out:
        ctx.fail("fdleak --pid %d printed %r, which does not name the report %s" % (
            v.pid, out.strip(), want))
    if not os.path.isfile(want):
        ctx.fail("fdleak --pid %d returned but %s does not exist: %s" % (
            v.pid, want, sorted(os.listdir(ctx.rdir))))
    else:
        reps = reports.wait(v.pid, 1, a.prompt, "the report fdleak --pid asked for")
        idx, _ = v.history.marks["one"]
        ctx.check("report %s" % want, check_against(
            reps[0][2], decl_for(v.pid, "signal", v.history.states[idx]), ctx,
            trigger_signal="SIGUSR1", argv=v.argv))
    v.send("end\n")
    ctx.expect_exit(v, v.finish(a.timeout), "victim (report to a file)")
    ctx.final_reports(v, reports, ["signal", "exit"])

    # 2. FDLEAK_SIGNAL=USR2 from the launcher, the program's own SIGUSR1 handler, the report
    #    on stderr: --pid reads the signal from /proc/PID/environ and says where the report went
    v = launched(ctx, ["--signal", "USR2"], ["poll", "--own", "SIGUSR1:sigaction"], "stderr")
    rc, out, err = run_launcher(ctx, ["--pid", str(v.pid)])
    if rc != 0:
        ctx.fail("fdleak --pid %d (report on stderr): status %d\nstdout: %s\nstderr: %s" % (
            v.pid, rc, out, err))
    if "stderr" not in out + err:
        ctx.fail("fdleak --pid %d: the report went to the process's stderr, but the launcher "
                 "said %r / %r" % (v.pid, out.strip(), err.strip()))
    deadline = time.monotonic() + a.prompt
    while "[signal" not in v.stderr() and time.monotonic() < deadline:
        time.sleep(0.02)
    if "[signal" not in v.stderr():
        ctx.fail("no text report with [signal] on the victim's stderr within %gs:\n%s" % (
            a.prompt, v.stderr()[-2000:]))
    v.send("end\n")
    ctx.expect_exit(v, v.finish(a.timeout), "victim (report on stderr)")
    if v.find("handled-total") != ["handled-total 0"]:
        ctx.fail("fdleak --pid sent SIGUSR1 (the program's handler ran: %s) although the "
                 "process was started with FDLEAK_SIGNAL=USR2" % v.find("handled-total"))

    # 3. a process without fdleak: refused, and not signalled (SIGUSR1 would kill it)
    env = ctx.base_env()
    bare = ctx.start(env, cmd=[ctx.victim, "poll"], name="bare")
    bare.wait_ready("one")
    rc, out, err = run_launcher(ctx, ["--pid", str(bare.pid)])
    if rc == 0 or not err.strip():
        ctx.fail("fdleak --pid of a process without fdleak: status %d, stderr %r (expected "
                 "non-zero and a message)" % (rc, err.strip()))
    time.sleep(0.3)
    if bare.proc.poll() is not None:
        ctx.fail("fdleak --pid signalled a process without fdleak: it died (%r)" %
                 bare.proc.returncode)
    else:
        bare.send("end\n")
        ctx.expect_exit(bare, bare.finish(a.timeout), "bare victim")

    # 4. no such process
    gone = subprocess.Popen(["/bin/true"])
    gone.wait()
    rc, out, err = run_launcher(ctx, ["--pid", str(gone.pid)])
    if rc == 0 or not err.strip():
        ctx.fail("fdleak --pid of a finished process %d: status %d, stderr %r (expected "
                 "non-zero and a message)" % (gone.pid, rc, err.strip()))


def sc_launcher_options(ctx):
    a = ctx.args
    reports = Reports(ctx.rdir, "r.%p.json")
    mpath = os.path.join(ctx.tmp, "launched.prom")
    v = launched(ctx, ["--signal", "SIGUSR2", "--interval", "0.2", "--threshold", "5",
                       "--metrics", mpath, "-o", os.path.join(ctx.rdir, "r.%p.json"),
                       "--format", "json"], ["poll"], "options")
    deadline = time.monotonic() + 10

    def count(trig):
        return sum(1 for f in reports.names(v.pid)
                   if (reports.load(f) or {}).get("trigger") == trig)
    while count("interval") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    before = len(reports.names(v.pid))
    os.kill(v.pid, signal.SIGUSR2)
    reports.wait(v.pid, before + 1, a.prompt, "SIGUSR2 (--signal SIGUSR2)")
    v.send("end\n")
    ctx.expect_exit(v, v.finish(a.timeout))

    def triggers(trigs):
        fails = []
        for t, lo in (("interval", 2), ("signal", 1), ("threshold", 1)):
            n = trigs.count(t)
            if n < lo or (t != "interval" and n != lo):
                fails.append("%d %s reports, expected %s%d" % (n, t, "at least " if
                                                               t == "interval" else "", lo))
        if trigs[-1:] != ["exit"]:
            fails.append("last report %r, not exit" % trigs[-1:])
        return fails
    mine = ctx.final_reports(v, reports, triggers)
    lo = 0
    for n, fname, rep in mine:
        if rep.get("trigger") == "threshold":
            j, fails = match_state(rep, v.history, 0, ctx, "threshold", argv=v.argv)
            ctx.check("threshold report %s (--threshold 5)" % fname, fails)
            if isinstance(rep.get("open"), int) and rep["open"] < 5:
                ctx.fail("threshold report %s: open %d < 5" % (fname, rep["open"]))
    if not os.path.isfile(mpath):
        ctx.fail("--metrics %s: no file" % mpath)
    else:
        with open(mpath, encoding="utf-8") as f:
            _, _, probs = parse_metrics(f.read())
        ctx.check("metrics file from --metrics", probs)

    # bad values: a usage error, and the command does not run
    marker = os.path.join(ctx.tmp, "ran")
    for opts in (["--interval", "abc"], ["--interval", "-1"], ["--threshold", "12x"],
                 ["--threshold", "-5"], ["--signal", "NOSUCHSIG"], ["--signal"]):
        rc, out, err = run_launcher(ctx, opts + ["--", "/bin/sh", "-c", "touch " + marker])
        if rc == 0 or not err.strip() or os.path.exists(marker):
            ctx.fail("fdleak %s: status %d, stderr %r, command ran: %s (expected a usage "
                     "error)" % (" ".join(opts), rc, err.strip(), os.path.exists(marker)))
        if os.path.exists(marker):
            os.unlink(marker)
    del lo


SCENARIOS = {
    "signal": sc_signal,
    "own": sc_own,
    "own-late": lambda ctx: sc_own(ctx, late=True),
    "own-other": lambda ctx: sc_own(ctx, other=True),
    "signal-none": sc_signal_none,
    "storm": sc_storm,
    "interval": sc_interval,
    "interval-text": sc_interval_text,
    "limits": sc_limits,
    "metrics": sc_metrics,
    "launcher-pid": sc_launcher_pid,
    "launcher-options": sc_launcher_options,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--lib", required=True, help="path to libfdleak.so")
    ap.add_argument("--launcher", help="path to scripts/fdleak (launcher-* scenarios)")
    ap.add_argument("--timeout", type=float, default=60.0, metavar="S",
                    help="seconds the victim may take to exit once asked (default 60)")
    ap.add_argument("--prompt", type=float, default=5.0, metavar="S",
                    help="seconds within which a report must follow its signal (default 5)")
    ap.add_argument("--env", action="append", default=[], metavar="K=V")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--report-signal", default="SIGUSR1", help="signal: the signal to send")
    ap.add_argument("--aim", choices=("process", "thread"), default="process",
                    help="signal: kill the process, or tgkill a worker thread")
    ap.add_argument("--output-pattern", help="signal: FDLEAK_OUTPUT file name pattern")
    ap.add_argument("--signal-form", choices=("name", "sig", "number"), default="sig",
                    help="own-other: FDLEAK_SIGNAL as USR2, SIGUSR2 or its number")
    ap.add_argument("--count", type=int, default=2000, help="storm: SIGUSR1 to send")
    ap.add_argument("--usr2", type=int, default=500, help="storm: SIGUSR2 to send")
    ap.add_argument("--duration", type=float, default=2.5, help="storm: seconds to send in")
    ap.add_argument("--interval", default="0.2", help="interval/metrics: FDLEAK_INTERVAL")
    ap.add_argument("--growth", type=int, help="interval: FDLEAK_GROWTH (default: unset, K=3)")
    ap.add_argument("--nofile", type=int, default=4096, help="limits/metrics: RLIMIT_NOFILE")
    ap.add_argument("--expect", action="append", default=[], metavar="TRIGGER@MARK",
                    help="limits: the live reports, in order, each paired with a mark")
    argv = sys.argv[1:]
    if "--" not in argv:
        ap.error("no victim given (after --)")
    cmd = argv[argv.index("--") + 1:]
    a = ap.parse_args(argv[:argv.index("--")])
    if not cmd:
        ap.error("no victim given (after --)")
    if a.scenario.startswith("launcher") and not a.launcher:
        ap.error("%s needs --launcher" % a.scenario)
    if not os.path.isfile(a.lib):
        print("check_live: library %s does not exist" % a.lib)
        return 1
    ctx = Ctx(a, cmd)
    skip = None
    try:
        skip = SCENARIOS[a.scenario](ctx)
    except Fail as e:
        ctx.fail(str(e))
        for v in ctx.victims:  # stuck? show where before killing it
            if v.proc.poll() is None:
                ctx.fail("pid %d still running; its threads:\n%s" % (v.pid, thread_dump(v.pid)))
    except Exception:  # a bug here, or a report so malformed the checks tripped over it
        import traceback
        ctx.fail("check_live crashed:\n" + traceback.format_exc())
    finally:
        for v in ctx.victims:
            if v.proc.poll() is None:
                v.kill()
    title = "%s %s" % (a.scenario, " ".join(os.path.basename(c) if i == 0 else c
                                           for i, c in enumerate(cmd)))
    if ctx.fails:
        print("FAIL %s" % title)
        for f in ctx.fails:
            print("  " + f.replace("\n", "\n  "))
        for n in ctx.notes:
            print("  note: " + n)
        print("output directory: %s" % ctx.tmp)
        print("reports: %s" % sorted(os.listdir(ctx.rdir)))
        for v in ctx.victims:
            print("--- %s (pid %d) stdout, last 40 lines ---" % (" ".join(v.cmd[:3]), v.pid))
            print("\n".join(v.lines[-40:]))
            print("--- its stderr (last 3000 characters) ---")
            print(v.stderr()[-3000:].rstrip())
        return 1
    if skip:
        print("SKIP %s: %s (all other checks passed)" % (title, skip))
        shutil.rmtree(ctx.tmp, ignore_errors=True)
        return SKIP
    print("ok %s" % title)
    for n in ctx.notes:
        print("  note: " + n)
    if a.keep:
        print("kept %s" % ctx.tmp)
    else:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
