"""What the Python checkers share (imported from tests/, the directory the checker runs from)."""
import os
import subprocess


def clean_env(python=False):
    """This process's environment without fdleak's settings and preload, so that a checker
    decides them; with python, also without PYTHON* variables (PYTHONPATH, PYTHONHOME…), which
    would change what a Python program under test loads."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("FDLEAK_") and k != "LD_PRELOAD" and not (python and k.startswith("PYTHON"))}


def finish(failures):
    """The checker's last words and exit status: every failure, or ok."""
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures))
        return 1
    print("ok")
    return 0


SYSTEM_PYTHON = "/usr/bin/python3"
DIST_PACKAGES = "/usr/lib/python3/dist-packages"


def interp_version(interp):
    """The runtime string fdleak must report for the CPython at interp ("cpython 3.12.1",
    "cpython 3.13.0rc2": Py_Version's form), asked of the interpreter itself; None when it
    does not run."""
    try:
        p = subprocess.run([interp, "-I", "-S", "-c",
                            "import sys; v = sys.version_info; print(sys.implementation.name,"
                            " '%d.%d.%d%s' % (v[:3] + ({'alpha': 'a', 'beta': 'b', 'candidate':"
                            " 'rc'}.get(v[3], '') + (str(v[4]) if v[3] != 'final' else ''),)))"],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return p.stdout.strip() if p.returncode == 0 and p.stdout.strip() else None


def missing_modules(interp, modules, pythonpath=""):
    """What `import M` says for each of modules that interp cannot import with this PYTHONPATH
    (e.g. Debian's dist-packages, whose compiled extensions are built for 3.11 only):
    [(module, last line of the error)]."""
    env = clean_env(python=True)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = []
    for m in modules:
        p = subprocess.run([interp, "-c", "import " + m], env=env, capture_output=True, text=True,
                           timeout=60)
        if p.returncode != 0:
            lines = (p.stderr or p.stdout).strip().splitlines()
            out.append((m, lines[-1] if lines else "status %d" % p.returncode))
    return out


def skip_or_fail_missing(interp, modules, pythonpath=""):
    """None when interp imports every module; otherwise the checker's exit status after saying
    why: 77 (skipped) for another interpreter given Debian's packages, 1 (failed) for
    /usr/bin/python3 itself, whose packages scripts/bootstrap installs."""
    missing = missing_modules(interp, modules, pythonpath)
    if not missing:
        return None
    why = "; ".join("import %s: %s" % m for m in missing)
    if os.path.realpath(interp) == os.path.realpath(SYSTEM_PYTHON):
        print("FAIL: %s cannot import what the test needs (scripts/bootstrap installs it): %s"
              % (interp, why))
        return 1
    print("skipped: %s%s cannot import what the test needs: %s"
          % (interp, " with PYTHONPATH=" + pythonpath if pythonpath else "", why))
    return 77
