#!/usr/bin/python3
"""Interpreter finalization racing 16 churning daemon threads, many times over.

    check_pyrace.py --lib SHIM --interp PYTHON [--launcher PATH] [--runs 30] [--bare-runs 5]
                    [--jobs 4] [--timeout 20] [--crash-allow 2] [--bare-crash-runs 2000] [PROGRAM]

PROGRAM (default tests/python/finalize_race.py) starts 16 daemon threads that open and close
sockets and files in a loop, keeps a socket and a file from the main thread (printing
`kept <fd> <kind> <lineno>`) and returns from the module with the threads still running. The
program's lines carry check_python.py's markers (`# LEAK [xN|any] [fn=F]`). It is run bare
--bare-runs times (their exit statuses are what "as bare" means) and under fdleak (the
launcher, JSON) --runs times, --jobs at a time, each bounded by --timeout. Every run under
fdleak must: finish in time (else: which run, and its threads' states); exit with a status seen
bare (or, killed by a signal, see judge_crashes: CPython 3.10 crashes this program bare too,
now and then); leave exactly one exit report of its pid that parses, with "runtime" of this CPython
version, no misuse errors, and no fdleak stderr line other than the "Python frames
unavailable" notice; list the kept descriptors. With Python frames (no such notice), every
leak's app frame must be a marked line with its function, the marked counts exact (the churn
lines `any`), the kept fds at their declared lines: a descriptor a thread made after
finalization began is flagged late inside fdleak and must not be listed at all (the JSON has
no `late` field: src/report.c leaves such descriptors out of the exit report). Without Python
frames (the notice printed) only the kept fds, the kinds (a socket or the program file, at most
one of each per thread) and the counts are checked, and the mode is said in the output.
Exit 0 when all runs pass, 1 otherwise (each failing run named), 77 when the interpreter is
absent.
"""
import argparse
import concurrent.futures
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from harness import check_runtime, clean_env, finish, load_report, parse_markers, runtime_or_skip

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNAVAILABLE = "Python frames unavailable"
THREADS = 16


def thread_states(pgid):
    """State and wait channel of every thread of the processes in the group (for a hang)."""
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            pid = stat.split("/")[2]
            for task in sorted(glob.glob("/proc/%s/task/*" % pid)):
                with open(task + "/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
                try:
                    with open(task + "/wchan") as f:
                        wchan = f.read().strip()
                except OSError:
                    wchan = "?"
                try:
                    with open(task + "/syscall") as f:
                        sc = f.read().split()[0]
                except OSError:
                    sc = "?"
                out.append("pid %s tid %s state %s wchan %s syscall %s"
                           % (pid, os.path.basename(task), state, wchan, sc))
        except (OSError, IndexError, ValueError):
            continue
    return "\n      ".join(out) or "(no threads found)"


def allow_cores():
    """In the child: core dumps as large as the hard limit allows (they land in its working
    directory where the kernel's core_pattern is a plain file name)."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    except (ValueError, OSError):
        pass


def crash_backtrace(tmp, interp):
    """For a run killed by a signal: the crashing thread's innermost frames and whether any
    thread was inside libfdleak, from its core file (gdb); a sentence saying why not otherwise."""
    cores = glob.glob(os.path.join(tmp, "core*"))
    if not cores:
        try:
            with open("/proc/sys/kernel/core_pattern") as f:
                pattern = f.read().strip()
        except OSError:
            pattern = "?"
        return "no core file (core_pattern %r)" % pattern
    if not shutil.which("gdb"):
        return "core file %s kept (no gdb to read it)" % cores[0]
    p = subprocess.run(["gdb", "-q", "-batch", "-ex", "bt 10", "-ex", "thread apply all bt 30",
                        interp, cores[0]], capture_output=True, text=True, timeout=120)
    lines = p.stdout.splitlines()
    runs, run_ = [], []
    for l in lines + [""]:  # runs of frame lines: gdb's "#0" on loading, then "bt 10"
        if l.startswith("#"):
            run_.append(l[:200])
        elif run_:
            runs.append(run_)
            run_ = []
    crashing = next((r for r in runs if len(r) > 1), runs[0] if runs else [])
    ours = sorted({l.split(" in ")[1].split(" (")[0] for l in lines
                   if l.startswith("#") and ("libfdleak" in l or " fdl_" in l) and " in " in l})
    return ("crashing thread:\n        %s\n      fdleak frames on any thread: %s"
            % ("\n        ".join(crashing) or "(none read)", ", ".join(ours) or "none"))


def run(cmd, env, timeout, cwd=None):
    """(status, stdout, stderr, None) or (None, stdout, stderr, thread states) on a timeout."""
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, cwd=cwd, preexec_fn=allow_cores if cwd else None)
    try:
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out, err, None, p.pid
    except subprocess.TimeoutExpired:
        states = thread_states(p.pid)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = p.communicate()
        return None, out, err, states, p.pid


def status_text(rc):
    return "signal %s" % signal.Signals(-rc).name if rc is not None and rc < 0 else "status %s" % rc


def parse_kept(out):
    kept = {}
    for line in out.splitlines():
        w = line.split()
        if w[:1] == ["kept"] and len(w) == 4:
            kept[int(w[1])] = (w[2], int(w[3]))
    return kept


def check_run(i, a, marks, bare_statuses):
    """The failures of run i (a list) and a summary dict. A failing run's files are kept."""
    what = "run %d" % i
    summary = {"churn": 0, "mode": None}
    tmp = tempfile.mkdtemp(prefix="fdleak-pyrace-%d-" % i)
    env = clean_env(python=True)
    env.update(PYTHONDONTWRITEBYTECODE="1", FDLEAK_LIBRARY=os.path.abspath(a.lib))
    cmd = [a.launcher, "--format", "json", "-o", os.path.join(tmp, "r-%p.json"), "--",
           a.interp, a.program]
    start = time.monotonic()
    rc, out, err, states, pid = run(cmd, env, a.timeout, cwd=tmp)
    summary["secs"] = time.monotonic() - start
    failures = []
    if rc is None:
        failures.append("%s: did not finish in %ss (hang); its threads:\n      %s\n    stderr:\n%s"
                        % (what, a.timeout, states, err))
    else:
        failures += check_output(what, a, marks, bare_statuses, rc, out, err, tmp, pid,
                                 summary)
    if "crash" in summary:
        summary["kept"] = ["%s: %s; %s" % (what, status_text(rc), crash_backtrace(tmp, a.interp))]
    if failures or "crash" in summary:
        with open(os.path.join(tmp, "stdout"), "w") as f:
            f.write(out)
        with open(os.path.join(tmp, "stderr"), "w") as f:
            f.write(err)
        (failures if failures else summary.setdefault("kept", [])).append(
            "%s: its report, stdout and stderr kept in %s" % (what, tmp))
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return failures, summary


def check_output(what, a, marks, bare_statuses, rc, out, err, tmp, pid, summary):
    failures = []
    if rc not in bare_statuses and rc < 0:
        summary["crash"] = rc  # judged against bare runs (judge_crashes): CPython crashes bare too
    elif rc not in bare_statuses:
        failures.append("%s: %s under fdleak, bare: %s; stderr:\n%s"
                        % (what, status_text(rc),
                           ", ".join(sorted({status_text(s) for s in bare_statuses})), err))
    notices = [l for l in err.splitlines() if l.startswith("fdleak:")]
    strict = not any(UNAVAILABLE in l for l in notices)
    summary["mode"] = "frames" if strict else "native"
    for l in notices:
        if UNAVAILABLE not in l:
            failures.append("%s: unexpected fdleak line on stderr: %s" % (what, l))
    for l in err.splitlines():
        if ("Fatal Python error" in l or "Segmentation fault" in l) and "crash" not in summary:
            failures.append("%s: stderr says: %s" % (what, l))
    kept = parse_kept(out)
    if len(kept) != 2:
        failures.append("%s: the program printed %d kept fds (%s), expected 2; stdout:\n%s"
                        % (what, len(kept), kept, out))
    reports = []
    for path in sorted(glob.glob(os.path.join(tmp, "*.json"))):
        try:
            reports.append(load_report(path))
        except ValueError as e:
            with open(path, "rb") as f:
                data = f.read()
            failures.append("%s: %s does not parse: %s; its last bytes: %r"
                            % (what, os.path.basename(path), e, data[-300:]))
    return failures + check_report(what, a, marks, kept, reports, pid, strict, summary)


def check_report(what, a, marks, kept, reports, pid, strict, summary):
    failures = []
    exits = [r for r in reports if r.get("trigger") == "exit" and r.get("pid") == pid]
    if len(exits) != 1:
        failures.append("%s: %d exit reports from the program (reports: %s), expected 1"
                        % (what, len(exits), [(r.get("pid"), r.get("trigger")) for r in reports]))
        return failures
    rep = exits[0]
    check_runtime(rep, a.runtime, what, failures)
    for e in rep.get("errors", []):
        failures.append("%s: unexpected misuse error %s of fd %s" % (what, e.get("what"), e.get("fd")))
    sites = {s["id"]: s for s in rep["sites"]}
    leaks = {l["fd"]: l for l in rep["leaks"]}
    for fd, (kind, lineno) in sorted(kept.items()):
        if fd not in leaks:
            failures.append("%s: kept fd %d (%s, line %d) is not among the leaks %s"
                            % (what, fd, kind, lineno, sorted(leaks)))
    prog = os.path.realpath(a.program)
    got = {}
    by_kind = {}
    for fd, leak in sorted(leaks.items()):
        site = sites.get(leak.get("site"))
        app = site.get("app") if site else None
        desc = "fd %d (%s %s)" % (fd, leak.get("kind"), leak.get("desc"))
        if fd not in kept:
            k = "socket" if str(leak.get("kind", "")).startswith("socket") else leak.get("desc")
            by_kind[k] = by_kind.get(k, 0) + 1
            if k not in ("socket", prog, a.program):
                failures.append("%s: %s is neither kept nor something a churning thread makes"
                                % (what, desc))
        if not site or not site.get("native"):
            failures.append("%s: %s has no native frames" % (what, desc))
        if not strict:
            if app:
                failures.append("%s: %s has an app frame although fdleak said Python frames were "
                                "unavailable" % (what, desc))
            continue
        if not app:
            failures.append("%s: %s leaked from a site without Python frames (site %s)"
                            % (what, desc, leak.get("site")))
            continue
        line = app["line"] if os.path.realpath(app["file"]) == prog else None
        if line not in marks:
            failures.append("%s: %s attributed to %s:%s in %s, not a marked line"
                            % (what, desc, app["file"], app["line"], app["function"]))
            continue
        if marks[line]["fn"] and app["function"] != marks[line]["fn"]:
            failures.append("%s: %s at line %d: function %r, expected %r"
                            % (what, desc, line, app["function"], marks[line]["fn"]))
        if fd in kept and kept[fd][1] != line:
            failures.append("%s: kept %s is attributed to line %d, the program made it at line %d"
                            % (what, desc, line, kept[fd][1]))
        got[line] = got.get(line, 0) + 1
    if strict:
        for line, spec in sorted(marks.items()):
            if spec["count"] is not None and got.get(line, 0) != spec["count"]:
                failures.append("%s: line %d: %d leaks, expected %d"
                                % (what, line, got.get(line, 0), spec["count"]))
        summary["churn"] = sum(n for line, n in got.items() if marks[line]["count"] is None)
    else:
        summary["churn"] = sum(by_kind.values())
    for k, n in by_kind.items():
        if n > THREADS:
            failures.append("%s: %d leaks of %s besides the kept ones; the %d threads hold at most "
                            "one each" % (what, n, k, THREADS))
    if failures:
        failures.append("%s: report had %d leaks: %s" % (what, len(leaks), sorted(leaks)))
    return failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--interp", required=True)
    ap.add_argument("--launcher", default=os.path.join(ROOT, "scripts", "fdleak"))
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--bare-runs", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--crash-allow", type=int, default=2,
                    help="runs under fdleak that may die by a signal the program also dies by bare")
    ap.add_argument("--bare-crash-runs", type=int, default=2000,
                    help="bare runs at most to see such a crash bare")
    ap.add_argument("program", nargs="?",
                    default=os.path.join(ROOT, "tests", "python", "finalize_race.py"))
    a = ap.parse_args()
    found = runtime_or_skip(a.interp)
    if not found:
        return 77
    a.runtime, version = found
    marks = {line: spec for (_, line), spec in parse_markers([a.program]).items()}
    failures = []
    env = clean_env(python=True)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    bare_statuses = set()
    for i in range(a.bare_runs):
        rc, out, err, states, _ = run([a.interp, a.program], env, a.timeout)
        if rc is None:
            failures.append("bare run %d did not finish in %ss (the program or the interpreter "
                            "hangs without fdleak); its threads:\n      %s" % (i, a.timeout, states))
            continue
        bare_statuses.add(rc)
        if len(parse_kept(out)) != 2:
            failures.append("bare run %d printed %s, expected two kept lines" % (i, out))
    if bare_statuses != {0}:
        print("note: bare exit statuses %s" % sorted(bare_statuses))
    if not bare_statuses:
        return finish(failures)
    print("%s (CPython %s): %d runs of %s under fdleak, %d at a time"
          % (a.interp, version, a.runs, os.path.basename(a.program), a.jobs))
    start = time.monotonic()
    summaries = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        futures = [ex.submit(check_run, i, a, marks, bare_statuses)
                   for i in range(a.runs)]
        for f in futures:
            fails, summary = f.result()
            failures += fails
            summaries.append(summary)
    modes = sorted({s["mode"] for s in summaries if s["mode"]})
    churn = [s["churn"] for s in summaries]
    print("%.1fs; mode %s; descriptors held by churning threads at the exit report: min %d max "
          "%d total %d; slowest run %.1fs"
          % (time.monotonic() - start, "/".join(modes) or "?", min(churn), max(churn), sum(churn),
             max(s.get("secs", 0) for s in summaries)))
    if "native" in modes:
        print("note: Python frames unavailable under this interpreter: only kept fds, kinds and "
              "counts were checked")
    failures += judge_crashes(a, env, [s for s in summaries if "crash" in s])
    return finish(failures)


def judge_crashes(a, env, crashed):
    """CPython itself crashes this program now and then: a daemon thread waiting for the GIL
    wakes up in the freed interpreter (take_gil reading a freed thread state; 3.10 about 1 run
    in 120 bare, 3.12 about 1 in 600 bare under MALLOC_PERTURB_, which turns the stale read
    into a crash; on this project's machine), a rate --bare-runs cannot show. A run under
    fdleak killed by a signal is therefore accepted only when there are at most --crash-allow
    of them and the program, run bare up to --bare-crash-runs times (each with its own
    MALLOC_PERTURB_), dies by the same signal too: then the crash is the interpreter's own at
    about its own rate, and both counts are printed, with the crashed run's backtrace. More
    crashes than that, or none bare, fail."""
    if not crashed:
        return []
    signals = sorted({s["crash"] for s in crashed})
    kept = [k for s in crashed for k in s.get("kept", [])]
    head = "%d of %d runs under fdleak died by %s" % (len(crashed), a.runs,
                                                       ", ".join(status_text(rc) for rc in signals))
    if len(crashed) > a.crash_allow:
        return ["%s: more than --crash-allow %d, far above what the interpreter does bare"
                % (head, a.crash_allow)] + kept
    seen, done = set(), 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        while done < a.bare_crash_runs and not set(signals) <= seen:
            batch = [ex.submit(run, [a.interp, a.program],
                               dict(env, MALLOC_PERTURB_=str(1 + (done + k) * 37 % 255)), a.timeout)
                     for k in range(min(a.jobs * 8, a.bare_crash_runs - done))]
            for f in batch:
                rc = f.result()[0]
                if rc is not None and rc < 0:
                    seen.add(rc)
            done += len(batch)
    if set(signals) <= seen:
        print("note: %s; bare, the program died the same way within %d runs: the interpreter's "
              "own crash, not fdleak's" % (head, done))
        for k in kept:
            print("note: " + k)
        return []
    return ["%s; bare it did not, in %d runs" % (head, done)] + kept


if __name__ == "__main__":
    sys.exit(main())
