#!/usr/bin/python3
"""The Python start-up hook (scripts/python/sitecustomize.py) must be invisible: each scenario
runs a small program bare and through the launcher (scripts/fdleak, FDLEAK_LIBRARY=SHIM) and
compares what it prints and its exit status.

    check_pyhook.py --lib SHIM --interp PYTHON

Scenarios: sys.path and the sitecustomize module the program sees; asyncio imported from a zip
archive (its loader is shared with every module in the zip); an empty PYTHONPATH entry (the
current directory) with a module there; ctypes unavailable while asyncio creates tasks; the
modules loaded at start-up (the same but for atexit and _fdleak); the
-S (sys.path not compared: without site the hook cannot take its directory off), -I and -E
flags. Exit 0 when every scenario prints the same both ways, 1 otherwise (both
outputs shown), 77 when the interpreter is missing."""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from harness import clean_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROBE = r"""
import sys
print("path", [p for p in sys.path])
m = sys.modules.get("sitecustomize")
print("sitecustomize", getattr(m, "__file__", None))
import asyncio
async def child():
    await asyncio.sleep(0)
    return 7
async def main():
    return await asyncio.gather(asyncio.create_task(child()), asyncio.get_running_loop().create_task(child()))
print("tasks", asyncio.run(main()))
print("asyncio", asyncio.__file__.replace(TMP, "TMP"))
"""


def run(cmd, env, cwd):
    p = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--interp", required=True)
    a = ap.parse_args()
    if not os.path.exists(a.interp):
        print("SKIP: %s not found" % a.interp)
        return 77
    tmp = tempfile.mkdtemp(prefix="fdleak-pyhook-")
    failures = []
    try:
        stdlib = subprocess.run([a.interp, "-c", "import asyncio, os; print(os.path.dirname(asyncio.__file__))"],
                                capture_output=True, text=True, check=True).stdout.strip()
        zpath = os.path.join(tmp, "asyncio.zip")
        with zipfile.ZipFile(zpath, "w") as z:
            for name in sorted(os.listdir(stdlib)):
                if name.endswith(".py"):
                    z.write(os.path.join(stdlib, name), "asyncio/" + name)
        work = os.path.join(tmp, "work")
        os.mkdir(work)
        with open(os.path.join(work, "mymod.py"), "w") as f:
            f.write("VALUE = 42\n")
        probe = PROBE.replace("TMP", repr(tmp))
        scenarios = [
            ("plain", [a.interp, "-c", probe], {}),
            ("zipped asyncio", [a.interp, "-c", probe], {"PYTHONPATH": zpath}),
            ("empty PYTHONPATH entry", [a.interp, "-c", "import mymod, sys; print(mymod.VALUE, sys.path[:2])"],
             {"PYTHONPATH": ":" + os.path.join(tmp, "nowhere")}),
            ("no ctypes", [a.interp, "-c", "import sys; sys.modules['_ctypes'] = None\n" + probe], {}),
            # What the hook may import (docs/python.md: atexit for the exit report, the built-in _fdleak);
            # anything else (ctypes, importlib.util) would be start-up cost every program pays.
            ("modules", [a.interp, "-c", "import sys; print(sorted(set(sys.modules) - {'atexit', '_fdleak'}))"], {}),
            # -S: no site, so the hook never runs and its directory stays on sys.path (docs/python.md).
            ("-S", [a.interp, "-S", "-c", probe.replace('print("path", [p for p in sys.path])', 'print("path not compared")')], {}),
            ("-I", [a.interp, "-I", "-c", probe], {}),
            ("-E", [a.interp, "-E", "-c", probe], {}),
        ]
        base = clean_env(python=True)
        for name, cmd, extra in scenarios:
            env = dict(base, **extra)
            bare = run(cmd, env, work)
            under = run([os.path.join(ROOT, "scripts", "fdleak"), "-q", "--"] + cmd,
                        dict(env, FDLEAK_LIBRARY=os.path.abspath(a.lib)), work)
            if bare[0] != under[0] or bare[1] != under[1] or bare[0] != 0:
                failures.append("%s: bare status %d, stdout:\n%s\nstderr:\n%s\nunder fdleak status %d, stdout:\n%s\nstderr:\n%s"
                                % (name, bare[0], bare[1], bare[2][-2000:], under[0], under[1], under[2][-2000:]))
            else:
                print("ok  %s" % name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("FAIL:\n" + "\n".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
