"""sigterm_service.py on uvloop's loop: stopped by SIGTERM, its libuv loop, libuv's signal pipe,
uvloop's signal socketpair and its listener are the runtime's (suppressed), not leaks."""
import os
import runpy
import sys

sys.argv[1:] = ["uvloop"]
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "sigterm_service.py"), run_name="__main__")
