"""`fdleak report --symbolize`: fill in function, file and line of native frames that lack
file:line, with addr2line (binutils), one run per module with all of its offsets."""

import os
import shutil
import subprocess
import sys


def symbolize(reports):
    """Completes the frames of REPORTS in place; says on stderr what it could not do."""
    frames = {}     # module -> {offset: [frames]}
    for r in reports:
        for f in r.frames():
            if (f.file is None or f.line is None) and f.module and f.offset:
                frames.setdefault(f.module, {}).setdefault(f.offset, []).append(f)
    if not frames:
        return
    tool = shutil.which("addr2line")
    if tool is None:
        sys.stderr.write("fdleak report: addr2line not found (it is in binutils); native frames "
                         "stay without file:line\n")
        return
    # Not traced by an LD_PRELOAD of ours, and no debuginfod download that could stall.
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "DEBUGINFOD_URLS")}
    for module in sorted(frames):
        by_offset = frames[module]
        if not os.path.isfile(module):
            sys.stderr.write("fdleak report: cannot symbolize %s: no such file here\n" % module)
            continue
        offsets = []
        for text in sorted(by_offset):
            try:
                offsets.append((text, int(text, 16)))
            except ValueError:
                continue
        # A frame's pc is a return address, the instruction after the call: ask for the byte
        # before it, or the line shown could be the next statement (the library does the same).
        args = [tool, "-f", "-C", "-e", module] + ["%#x" % max(o - 1, 0) for _, o in offsets]
        try:
            answer = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, timeout=120, check=False,
                                    env=env)
        except (OSError, subprocess.TimeoutExpired) as e:
            sys.stderr.write("fdleak report: addr2line failed on %s: %s\n" % (module, e))
            continue
        lines = answer.stdout.decode("utf-8", "replace").splitlines()
        if answer.returncode != 0 or len(lines) != 2 * len(offsets):
            sys.stderr.write("fdleak report: addr2line could not read %s\n" % module)
            continue
        for k, (text, _) in enumerate(offsets):
            function, location = lines[2 * k], lines[2 * k + 1]
            file, _, line = location.partition(" ")[0].rpartition(":")
            for f in by_offset[text]:
                if function != "??" and not f.function:
                    f.function = function
                if file and file != "??" and line.isdigit() and int(line) > 0:
                    f.file = file
                    f.line = int(line)
