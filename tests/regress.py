#!/usr/bin/python3
"""Regression tests for defects found in code reviews (suite `regress`, see tests/README.md).

usage: regress.py SCENARIO --lib PATH [--timeout S] [-- program args...]

Each scenario runs its program bare and under LD_PRELOAD=PATH (reports to a private temporary
directory, never to the real /dev/null or the terminal), bounded by --timeout per run, and prints
what it expected next to what it got on failure. Exit status 0 when every check passes.

    unwpipe     regress_unwpipe under ulimit -n 1024: its data dup2()ed onto libunwind's moved
                validation pipe numbers stays intact, nothing extra reaches the peers
    fifo        FDLEAK_OUTPUT names a fifo (stand-in for /dev/null): still a fifo afterwards, and
                the reader got the JSON report
    datafd2     regress_datafd2: the data file that landed on fd 2 holds only "DATA\\n"
    closestd    regress_closestd closes stdout/stderr and sleeps 3 s: EOF within 1 s
    pool        regress_usepool: the library's log file (closed in its destructor) is not a leak;
                with FDLEAK_EXITCODE=3 the status is 3 and the destructor still ran
    sigint      regress_sigint before|after: read() fails with EINTR, same output as bare
    badutf      regress_badutf: the report is valid UTF-8 and the descs hold U+FFFD
    dlfork      regress_dlfork plug.so opener.so: the child exits 0, bare and preloaded
    seccomp     regress_seccomp: exit 0, and its exit report lists the leak
    smallstack  regress_smallstack: exit 0, a threshold report and the exit report written
    lineage     `env -i /usr/bin/env` prints nothing, bare and preloaded (no FDLEAK_LINEAGE)
"""

import argparse
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from harness import clean_env, load_report

FAILS = []


def fail(msg):
    FAILS.append(msg)
    print("FAIL " + msg)


def expect(what, got, want):
    """Records a failure printing both values unless got == want."""
    if got != want:
        fail("%s: got %r, expected %r" % (what, got, want))
        return False
    return True


class Run:
    def __init__(self, rc, out, err, elapsed, tmp):
        self.rc, self.out, self.err, self.elapsed, self.tmp = rc, out, err, elapsed, tmp

    def reports(self):
        """[(name, parsed json)] of report.*.json in the output directory, in the order they
        were written: report.PID.json first, then report.PID.2.json, .3 ... (pid, then number)."""
        def order(name):
            parts = name.split(".")  # report, PID, [N,] json
            return (parts[1], int(parts[2]) if len(parts) == 4 and parts[2].isdigit() else 1)
        reps = []
        for f in sorted((f for f in os.listdir(self.tmp) if f.count(".") in (2, 3)), key=order):
            if f.startswith("report.") and f.endswith(".json"):
                with open(os.path.join(self.tmp, f), "rb") as fh:
                    raw = fh.read()
                try:
                    reps.append((f, load_report(raw, os.path.join(self.tmp, f))))
                except ValueError as e:
                    fail("report %s is not valid UTF-8 JSON: %s; first bytes %r" % (f, e, raw[:300]))
        return reps

    def describe(self):
        return "status %r after %.2fs\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            self.rc, self.elapsed, self.out.decode("utf-8", "replace").rstrip(),
            self.err.decode("utf-8", "replace").rstrip())


def mktmp():
    tmp = tempfile.mkdtemp(prefix="fdleak-regress-")
    TMPS.append(tmp)
    return tmp


def run(args, cmd, preload, env=None, nofile=None, keep_env=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE):
    tmp = tempfile.mkdtemp(prefix="fdleak-regress-")
    TMPS.append(tmp)
    e = clean_env() if keep_env else {}
    if preload:
        e.update(LD_PRELOAD=args.lib, FDLEAK_FORMAT="json",
                 FDLEAK_OUTPUT=os.path.join(tmp, "report.%p.json"))
    e.update(env or {})

    def pre():
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=e,
                         close_fds=True, start_new_session=True, preexec_fn=pre)
    try:
        out, err = p.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        fail("%s%s did not finish within %gs; killed" % (
            " ".join(cmd), " (preloaded)" if preload else "", args.timeout))
    return Run(p.returncode, out or b"", err or b"", time.monotonic() - t0, tmp)


def both(args, cmd, **kw):
    """Runs cmd bare and preloaded; both must exit 0. Returns (bare, preloaded)."""
    res = []
    for preload in (False, True):
        r = run(args, cmd, preload, **kw)
        if r.rc != 0:
            fail("%s%s: exit status %r, expected 0\n%s" % (
                " ".join(cmd), " (preloaded)" if preload else " (bare)", r.rc, r.describe()))
        res.append(r)
    return res


def leak_fds(r):
    return sorted(int(l.split()[1]) for l in r.out.decode().splitlines() if l.startswith("leak "))


def exit_report(r):
    reps = [rep for _, rep in r.reports() if rep.get("trigger") == "exit"]
    if len(reps) != 1:
        fail("expected one exit report, found %d; files: %s" % (len(reps), os.listdir(r.tmp)))
        return None
    return reps[0]


def reported(rep):
    return sorted(l.get("fd") for l in rep.get("leaks", []))


def sc_unwpipe(args):
    bare, pre = both(args, args.cmd, nofile=1024)
    first = pre.out.decode().splitlines()[:1]
    if not first or not first[0].startswith("targets ") or first[0].split()[1] in ("0", "0:"):
        fail("preloaded: no libunwind pipe (pipe: link at >= 1000) found, so nothing was tested; "
             "got first line %r, expected 'targets N: ...' with N >= 1\n%s" % (
                 first, pre.describe()))


def sc_fifo(args):
    d = tempfile.mkdtemp(prefix="fdleak-regress-fifo-")
    TMPS.append(d)
    path = os.path.join(d, "device")
    os.mkfifo(path, 0o600)
    rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    got, stop = [], threading.Event()

    def reader():
        while True:
            try:
                b = os.read(rfd, 65536)
            except BlockingIOError:
                b = None
            if b:
                got.append(b)
            elif stop.is_set():
                return
            else:
                time.sleep(0.02)
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    r = run(args, args.cmd, True, env={"FDLEAK_OUTPUT": path})
    stop.set()
    t.join(5)
    os.close(rfd)
    st = os.lstat(path)
    if not stat.S_ISFIFO(st.st_mode):
        fail("FDLEAK_OUTPUT target is no longer a fifo: mode %o, expected a fifo (%o)" % (
            st.st_mode, stat.S_IFIFO | 0o600))
    expect("files next to the fifo", sorted(os.listdir(d)), ["device"])
    data = b"".join(got)
    try:
        rep = load_report(data, "the report read from the fifo")
        expect("report trigger read from the fifo", rep.get("trigger"), "exit")
        if not rep.get("leaks"):
            fail("report read from the fifo lists no leaks; victim: %s" % r.describe())
    except ValueError as e:
        fail("the fifo's reader did not get a JSON report (%s): got %r\n%s" % (
            e, data[:300], r.describe()))


def sc_datafd2(args):
    for preload in (False, True):
        data = os.path.join(mktmp(), "data.bin")
        r = run(args, args.cmd + [data], preload, env={"FDLEAK_OUTPUT": "-"} if preload else None)
        with open(data, "rb") as f:
            body = f.read()
        name = "data file%s" % (" (preloaded, report to stderr)" if preload else " (bare)")
        expect(name, body, b"DATA\n") and expect(name + ": exit status", r.rc, 0)
    # and with the default output (no FDLEAK_OUTPUT at all)
    data = os.path.join(mktmp(), "data.bin")
    r = run(args, args.cmd + [data], True, env={"FDLEAK_OUTPUT": ""})
    with open(data, "rb") as f:
        expect("data file (preloaded, FDLEAK_OUTPUT empty)", f.read(), b"DATA\n")


def sc_closestd(args):
    for preload in (False, True):
        tmp = tempfile.mkdtemp(prefix="fdleak-regress-")
        TMPS.append(tmp)
        e = clean_env()
        if preload:
            # Reports to stderr (the default): that is when fdleak considers keeping a copy of a
            # stderr the program closes, which for a pipe would withhold EOF from its reader.
            e.update(LD_PRELOAD=args.lib)
        t0 = time.monotonic()
        p = subprocess.Popen(args.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=e, start_new_session=True)
        out = p.stdout.read()  # EOF when the child closed fd 1 (and nobody else holds it)
        t_out = time.monotonic() - t0
        err = p.stderr.read()
        t_err = time.monotonic() - t0
        try:
            rc = p.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            rc = p.wait()
        what = "preloaded" if preload else "bare"
        if t_out > 1.0 or t_err > 1.0:
            fail("%s: EOF on stdout after %.2fs, on stderr after %.2fs; expected both within "
                 "1 s (the child sleeps 3 s after closing them); stderr %r" % (
                     what, t_out, t_err, err[:300]))
        expect(what + ": exit status", rc, 0)
        expect(what + ": stdout", out, b"")


def sc_pool(args):
    for extra, want_rc in (({}, 0), ({"FDLEAK_EXITCODE": "3"}, 3)):
        log = os.path.join(mktmp(), "pool.log")
        r = run(args, args.cmd + [log], True, env=extra)
        what = "preloaded %s" % (extra or "")
        expect(what + ": exit status", r.rc, want_rc)
        out = dict(l.split() for l in r.out.decode().splitlines() if l.split()[:1] in
                   (["pool"], ["leak"]))
        rep = exit_report(r)
        if rep is not None and "leak" in out:
            expect(what + ": reported leaks (fds; pool's log fd %s closed by its destructor)" %
                   out.get("pool"), reported(rep), [int(out["leak"])])
        try:
            with open(log, "rb") as f:
                body = f.read()
        except OSError as e:
            body = repr(e)
        expect(what + ": pool.log (destructor writes '!\\n')", body, b"x!\n")


def sc_sigint(args):
    bare, pre = both(args, args.cmd)
    expect("preloaded output vs bare", pre.out, bare.out)


def sc_badutf(args):
    work = mktmp()
    r = run(args, args.cmd + [work], True)
    expect("exit status", r.rc, 0)
    fds = leak_fds(r)
    expect("leaks printed by the victim", len(fds), 3)
    rep = exit_report(r)
    if rep is None:
        return
    expect("reported leak fds", reported(rep), fds)
    for l in rep.get("leaks", []):
        desc = l.get("desc", "")
        if "badutf_" in desc and "\ufffd" not in desc:
            fail("fd %s desc %r: expected U+FFFD for the invalid bytes" % (l.get("fd"), desc))
    expect("descs naming badutf_", sum("badutf_" in l.get("desc", "") for l in
                                       rep.get("leaks", [])), 3)


def sc_dlfork(args):
    both(args, args.cmd)


def sc_seccomp(args):
    bare, pre = both(args, args.cmd)
    rep = exit_report(pre)
    if rep is not None:
        expect("reported leaks", reported(rep), leak_fds(pre))


def sc_smallstack(args):
    bare, pre = both(args, args.cmd)
    trig = [rep.get("trigger") for _, rep in pre.reports()]
    expect("report triggers", trig, ["threshold", "exit"])


def sc_lineage(args):
    cmd = ["/usr/bin/env", "-i", "/usr/bin/env"]
    for preload in (False, True):
        r = run(args, cmd, preload)
        expect("%s: exit status" % ("preloaded" if preload else "bare"), r.rc, 0)
        expect("%s: environment printed by `env -i /usr/bin/env`" % (
            "preloaded" if preload else "bare"), r.out, b"")


SCENARIOS = {k[3:]: v for k, v in globals().items() if k.startswith("sc_")}
TMPS = []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--lib", required=True)
    ap.add_argument("--timeout", type=float, default=20.0)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = ap.parse_args(argv[:cut])
    args.cmd = argv[cut + 1:]
    if args.cmd:
        args.cmd[0] = os.path.abspath(args.cmd[0])
    args.lib = os.path.abspath(args.lib)
    if not os.path.isfile(args.lib):
        print("regress: library %s does not exist" % args.lib)
        return 1
    SCENARIOS[args.scenario](args)
    if FAILS:
        print("FAIL %s: %d problems; temporary directories kept: %s" % (
            args.scenario, len(FAILS), TMPS))
        return 1
    for t in TMPS:
        shutil.rmtree(t, ignore_errors=True)
    print("ok %s" % args.scenario)
    return 0


if __name__ == "__main__":
    sys.exit(main())
