#!/usr/bin/python3
"""Run a victim program under fdleak and check the JSON report against what the victim declares.

usage: check_leaks.py --lib PATH [--expect-exit N] [--timeout S] [--env K=V]... [--keep]
                      -- victim [args...]

The victim runs with LD_PRELOAD=PATH, FDLEAK_FORMAT=json, FDLEAK_OUTPUT=<tmp>/report.%p.json and
FDLEAK_TEST_DIR=<tmp>/work (its scratch directory), stdin from /dev/null and only descriptors
0, 1 and 2 open. It prints on stdout (see tests/victims/victim.h):

    pid <pid>                                                  (optional)
    leak <fd> <kind> <function> <desc> [<module>] [via=<call>] [cloexec=0|1] [tid=<tid>]

<kind> may be alternatives "a|b"; <desc> is "-" or substrings joined by "&", all of which must
occur in the report's desc; <module> is the basename of the object whose first frame in the
site's native stack must be <function> (default: the victim executable itself).

Checked: the victim exits with the expected status (not by a signal, not after the timeout);
exactly one report exists for its pid and parses; fdleak == 1, trigger == "exit", pid, exe and
argv match; the set of leaks[].fd equals the declared set; each leak's kind, desc, via, cloexec,
tid and site (first native frame in the module is the declared function; the site's counters
cover its leaks); no leaked fd is also listed as inherited or unattributed.
Exit status 0 when all checks pass, 1 otherwise (the temporary directory is then kept).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

MAX_DETAILS = 40  # per-leak failure lines printed before summarizing


class Spec:
    """One declared leak."""

    def __init__(self, line, fields):
        self.line = line
        self.fd = int(fields[1])
        self.kinds = fields[2].split("|")
        self.function = fields[3]
        self.desc = None if fields[4] == "-" else [p for p in fields[4].split("&") if p]
        self.module = None
        self.attrs = {}
        for tok in fields[5:]:
            if "=" in tok:
                k, v = tok.split("=", 1)
                if k not in ("via", "cloexec", "tid"):
                    raise ValueError("unknown attribute %r" % k)
                self.attrs[k] = v
            elif self.module is None:
                self.module = tok
            else:
                raise ValueError("unexpected field %r" % tok)
        if "cloexec" in self.attrs and self.attrs["cloexec"] not in ("0", "1"):
            raise ValueError("cloexec must be 0 or 1")
        if "tid" in self.attrs:
            int(self.attrs["tid"])


def parse_victim_output(text):
    """Returns (pid or None, {fd: Spec}, [problems])."""
    pid, specs, problems = None, {}, []
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        try:
            if fields[0] == "pid" and len(fields) == 2:
                pid = int(fields[1])
            elif fields[0] == "leak":
                if len(fields) < 5:
                    raise ValueError("too few fields")
                spec = Spec(line, fields)
                if spec.fd in specs:
                    raise ValueError("fd %d declared twice" % spec.fd)
                specs[spec.fd] = spec
        except ValueError as e:
            problems.append("bad victim line %r: %s" % (line, e))
    return pid, specs, problems


def fmt_set(fds):
    """Compact text for a set of numbers: 3-7,9,12."""
    fds = sorted(fds)
    parts, i = [], 0
    while i < len(fds):
        j = i
        while j + 1 < len(fds) and fds[j + 1] == fds[j] + 1:
            j += 1
        parts.append(str(fds[i]) if i == j else "%d-%d" % (fds[i], fds[j]))
        i = j + 1
    return "{" + ",".join(parts) + "}" if parts else "{}"


def fmt_frames(frames, limit=16):
    out = []
    for i, f in enumerate(frames[:limit]):
        out.append("      #%d %s %s+%s %s %s:%s" % (
            i, f.get("pc"), f.get("module"), f.get("offset"), f.get("function"),
            f.get("file"), f.get("line")))
    if len(frames) > limit:
        out.append("      ... %d more" % (len(frames) - limit))
    return "\n".join(out)


def same_module(frame_module, victim_real, want_basename):
    if not isinstance(frame_module, str) or not frame_module:
        return False
    real = os.path.realpath(frame_module)
    if want_basename is not None:
        return os.path.basename(real) == want_basename
    return real == victim_real


def check_report(rep, specs, pid, victim, argv):
    """Returns a list of failure messages (empty: all good)."""
    fails = []
    victim_real = os.path.realpath(victim)

    if not isinstance(rep, dict):
        return ["report is not a JSON object"]
    if rep.get("fdleak") != 1:
        fails.append("fdleak: expected 1, got %r" % rep.get("fdleak"))
    if rep.get("trigger") != "exit":
        fails.append("trigger: expected 'exit', got %r" % rep.get("trigger"))
    if rep.get("pid") != pid:
        fails.append("pid: expected %d, got %r" % (pid, rep.get("pid")))
    exe = rep.get("exe")
    if not isinstance(exe, str) or os.path.realpath(exe) != victim_real:
        fails.append("exe: expected %s, got %r" % (victim_real, exe))
    if rep.get("argv") != argv:
        fails.append("argv: expected %r, got %r" % (argv, rep.get("argv")))

    lists = {}
    for key in ("leaks", "inherited", "unattributed", "sites"):
        val = rep.get(key)
        if not isinstance(val, list) or not all(isinstance(x, dict) for x in val):
            fails.append("%s: expected a list of objects, got %r" % (key, val))
            val = []
        lists[key] = val
    if fails:
        return fails

    leaks = {}
    for entry in lists["leaks"]:
        fd = entry.get("fd")
        if not isinstance(fd, int):
            fails.append("leak without an integer fd: %r" % entry)
        elif fd in leaks:
            fails.append("fd %d listed twice in leaks" % fd)
        else:
            leaks[fd] = entry

    expected, actual = set(specs), set(leaks)
    if expected != actual:
        fails.append("set of leaked fds differs\n  expected %s\n  actual   %s\n"
                     "  missing  %s\n  extra    %s" % (
                         fmt_set(expected), fmt_set(actual),
                         fmt_set(expected - actual), fmt_set(actual - expected)))
        for fd in sorted(actual - expected)[:MAX_DETAILS]:
            fails.append("  extra leak: %s" % json.dumps(leaks[fd]))

    for key in ("inherited", "unattributed"):
        other = {e.get("fd") for e in lists[key]}
        both = other & actual
        if both:
            fails.append("fds both in leaks and in %s: %s" % (key, fmt_set(both)))
        hidden = other & (expected - actual)
        if hidden:
            fails.append("declared leaks listed as %s instead: %s" % (key, fmt_set(hidden)))

    sites = {}
    for s in lists["sites"]:
        sid = s.get("id")
        if sid in sites:
            fails.append("site id %r appears twice" % sid)
        sites[sid] = s

    per_site = {}
    details = []
    for fd in sorted(expected & actual):
        spec, got = specs[fd], leaks[fd]
        problems = []
        kind = got.get("kind")
        if kind not in spec.kinds:
            problems.append("kind %r, expected %s" % (kind, "|".join(spec.kinds)))
        desc = got.get("desc")
        if spec.desc is not None:
            if not isinstance(desc, str):
                problems.append("desc %r, expected a string containing %r" % (desc, spec.desc))
            else:
                missing = [p for p in spec.desc if p not in desc]
                if missing:
                    problems.append("desc %r lacks %r" % (desc, missing))
        if "via" in spec.attrs and got.get("via") != spec.attrs["via"]:
            problems.append("via %r, expected %r" % (got.get("via"), spec.attrs["via"]))
        if "cloexec" in spec.attrs and got.get("cloexec") is not (spec.attrs["cloexec"] == "1"):
            problems.append("cloexec %r, expected %s" % (
                got.get("cloexec"), "true" if spec.attrs["cloexec"] == "1" else "false"))
        if "tid" in spec.attrs and got.get("tid") != int(spec.attrs["tid"]):
            problems.append("tid %r, expected %s" % (got.get("tid"), spec.attrs["tid"]))

        sid = got.get("site")
        site = sites.get(sid) if sid is not None else None
        if site is None:
            problems.append("site %r not found in sites" % (sid,))
        else:
            per_site[sid] = per_site.get(sid, 0) + 1
            frames = site.get("native")
            if not isinstance(frames, list) or not frames:
                problems.append("site %r has no native frames" % (sid,))
            else:
                first = next((f for f in frames if isinstance(f, dict) and
                              same_module(f.get("module"), victim_real, spec.module)), None)
                where = spec.module or victim_real
                if first is None:
                    problems.append("site %r has no frame in %s; expected %s there\n%s" % (
                        sid, where, spec.function, fmt_frames(frames)))
                elif first.get("function") != spec.function:
                    problems.append("first frame in %s is %r, expected %s\n%s" % (
                        where, first.get("function"), spec.function, fmt_frames(frames)))
        if problems:
            details.append("fd %d (%s):\n    %s\n    report: %s" % (
                fd, spec.line, "\n    ".join(problems), json.dumps(got)))

    for sid, n in sorted(per_site.items(), key=lambda kv: str(kv[0])):
        s = sites[sid]
        opened, created = s.get("open"), s.get("created")
        if not isinstance(opened, int) or opened < n:
            details.append("site %r: open=%r but %d leaks point at it" % (sid, opened, n))
        elif not isinstance(created, int) or created < opened:
            details.append("site %r: created=%r < open=%r" % (sid, created, opened))

    if len(details) > MAX_DETAILS:
        fails.extend(details[:MAX_DETAILS])
        fails.append("... and %d more leak problems" % (len(details) - MAX_DETAILS))
    else:
        fails.extend(details)

    for key in ("open", "peak"):
        val = rep.get(key)
        if not isinstance(val, int) or val < len(actual):
            fails.append("%s: %r, but %d leaks are listed" % (key, val, len(actual)))
    if not isinstance(rep.get("limit"), int) or rep.get("limit") <= 0:
        fails.append("limit: %r" % rep.get("limit"))
    return fails


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lib", required=True, help="path to libfdleak.so")
    ap.add_argument("--expect-exit", type=int, default=0, metavar="N",
                    help="expected exit status of the victim (default 0)")
    ap.add_argument("--timeout", type=float, default=60.0, metavar="S",
                    help="seconds before the victim counts as hung (default 60)")
    ap.add_argument("--env", action="append", default=[], metavar="K=V",
                    help="extra environment for the victim (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("victim", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.victim[1:] if args.victim[:1] == ["--"] else args.victim
    if not cmd:
        ap.error("no victim given (after --)")
    lib = os.path.abspath(args.lib)
    if not os.path.isfile(lib):
        print("check_leaks: library %s does not exist" % lib)
        return 1
    victim = os.path.abspath(cmd[0])
    argv = [victim] + cmd[1:]

    tmp = tempfile.mkdtemp(prefix="fdleak-check-")
    work = os.path.join(tmp, "work")
    os.mkdir(work)
    env = {k: v for k, v in os.environ.items()
           if k != "LD_PRELOAD" and not k.startswith("FDLEAK_")}
    env.update(LD_PRELOAD=lib, FDLEAK_FORMAT="json",
               FDLEAK_OUTPUT=os.path.join(tmp, "report.%p.json"), FDLEAK_TEST_DIR=work)
    for kv in args.env:
        k, sep, v = kv.partition("=")
        if not sep or not k:
            ap.error("--env wants K=V, got %r" % kv)
        env[k] = v

    fails = []
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, close_fds=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        fails.append("victim did not finish within %gs (deadlock?); killed" % args.timeout)
    out = out.decode("utf-8", "replace")
    err = err.decode("utf-8", "replace")

    pid = proc.pid
    report_path = os.path.join(tmp, "report.%d.json" % pid)
    if not fails:
        rc = proc.returncode
        if rc < 0:
            fails.append("victim killed by signal %d (%s)" % (-rc, signal.Signals(-rc).name))
        elif rc != args.expect_exit:
            fails.append("victim exit status %d, expected %d" % (rc, args.expect_exit))

    declared_pid, specs, problems = parse_victim_output(out)
    fails.extend(problems)
    if declared_pid is not None and declared_pid != pid:
        fails.append("victim printed pid %d but was started as %d" % (declared_pid, pid))

    if not any("did not finish" in f or "killed by signal" in f for f in fails):
        if not os.path.exists(report_path):
            fails.append("no report %s; directory holds: %s" % (
                report_path, sorted(os.listdir(tmp))))
        else:
            try:
                with open(report_path, encoding="utf-8") as f:
                    rep = json.load(f)
            except (OSError, ValueError) as e:
                fails.append("report %s does not parse: %s" % (report_path, e))
            else:
                fails.extend(check_report(rep, specs, pid, victim, argv))
                if isinstance(rep, dict) and rep.get("errors"):
                    print("note: report lists errors: %s" % json.dumps(rep.get("errors")))

    name = os.path.basename(victim)
    if fails:
        print("FAIL %s: %d declared leaks" % (name, len(specs)))
        for f in fails:
            print("  " + f)
        print("raw report: %s" % report_path)
        print("other files: %s" % sorted(os.listdir(tmp)))
        print("--- victim stdout (first 60 lines) ---")
        print("\n".join(out.splitlines()[:60]))
        print("--- victim stderr ---")
        print(err.rstrip())
        return 1
    print("ok %s: %d leaks as declared (report %s)" % (name, len(specs), report_path))
    if err.strip():
        print("--- victim stderr ---")
        print(err.rstrip())
    if args.keep:
        print("kept %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
