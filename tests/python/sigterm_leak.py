"""sigterm_service.py (an asyncio service stopped by SIGTERM) with one descriptor the program
keeps on purpose: the signal's suppression of the event loop's descriptors must not hide it."""
import os
import runpy

kept = open(__file__)  # LEAK fn=<module>
print("kept: fd", kept.fileno(), flush=True)
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "sigterm_service.py"), run_name="__main__")
