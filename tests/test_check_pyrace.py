#!/usr/bin/python3
"""Self-test of check_pyrace.py's crash judgement (judge_crashes): a run under fdleak killed by a
signal passes only when the program dies the same way bare, and no more often than
--crash-allow. Programs here are tiny shell scripts (no library, no interpreter needed): one
that always dies by SIGSEGV, one that never does, one that dies by SIGABRT. Each case prints
what it expected and what the judgement said. Exit status 0 when every case behaves, 1
otherwise."""

import os
import signal
import sys
import tempfile
import types

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_pyrace as pr  # noqa: E402

SEGV, ABRT = -signal.SIGSEGV, -signal.SIGABRT


def main():
    problems = []
    with tempfile.TemporaryDirectory(prefix="fdleak-pyrace-selftest-") as tmp:
        programs = {}
        for name, body in (("segv", "kill -SEGV $$"), ("clean", "exit 0"), ("abrt", "kill -ABRT $$")):
            programs[name] = os.path.join(tmp, name + ".sh")
            with open(programs[name], "w") as f:
                f.write(body + "\n")

        def judge(program, crashes, allow=2):
            a = types.SimpleNamespace(interp="/bin/sh", program=programs[program], runs=30, jobs=2,
                                      timeout=10, crash_allow=allow, bare_crash_runs=12)
            return pr.judge_crashes(a, dict(os.environ), [{"crash": rc} for rc in crashes])

        cases = [
            ("no crash under fdleak", "clean", [], None),
            ("one SIGSEGV, bare dies by SIGSEGV too", "segv", [SEGV], None),
            ("two SIGSEGV, bare too", "segv", [SEGV, SEGV], None),
            ("one SIGSEGV, never bare", "clean", [SEGV], "bare it did not, in 12 runs"),
            ("one SIGSEGV, bare dies by SIGABRT", "abrt", [SEGV], "bare it did not"),
            ("three SIGSEGV, above --crash-allow 2", "segv", [SEGV] * 3, "more than --crash-allow 2"),
        ]
        for what, program, crashes, expect in cases:
            got = judge(program, crashes)
            ok = not got if expect is None else any(expect in line for line in got)
            print("%s  %s: expected %s, got %s" % ("ok  " if ok else "FAIL", what,
                                                   "a pass" if expect is None else repr(expect),
                                                   got or "a pass"))
            if not ok:
                problems.append(what)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
