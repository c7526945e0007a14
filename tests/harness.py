"""What the Python checkers share (imported from tests/, the directory the checker runs from)."""
import os


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
