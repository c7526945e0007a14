#!/usr/bin/env python3
"""check_layers.py — the include rule of src/: the recording layer includes nothing of the
layers above it.

The recording layer is what the wrappers tell and the reports read: the descriptor table, the
sites, the flows, the core, the reserve, the misuse log, stack capture (native and Python), the settings,
fdleak's messages and the small helpers — RECORDING below. Above it are the reports (report*,
findings, names, symbolize, suppress, describe, lineage) and the shim (wrappers, triggers,
lifecycle, the API). A recording file that included one of their headers (FORBIDDEN) would
make the core depend on what is built on it; the hooks in core.h (fdl_hooks) are the way up.

    check_layers.py SRC_DIR

Prints every offending `file:line: #include "header"` and exits 1; exits 0 when there is
none. A file of RECORDING that no longer exists is an error too (the list must follow a
rename).
"""
import os
import re
import sys

RECORDING = [
    "core.c", "core.h", "table.c", "table.h", "sites.c", "sites.h", "flows.c", "flows.h",
    "misuse.c", "misuse.h", "capture.c", "capture.h", "capture_python.c", "capture_python.h",
    "config.c", "config.h", "util.c", "util.h", "diag.c", "diag.h", "tls.h", "reserve.c", "reserve.h",
]

FORBIDDEN_EXACT = {
    "findings.h", "names.h", "symbolize.h", "suppress.h", "describe.h", "lineage.h",  # reports
    "trigger.h", "lifecycle.h", "wrap.h",                                            # the shim
}
FORBIDDEN_PREFIX = ("report",)  # report.h and any report_*.h

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def forbidden(header):
    name = os.path.basename(header)
    return name in FORBIDDEN_EXACT or (name.endswith(".h") and name.startswith(FORBIDDEN_PREFIX))


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: check_layers.py SRC_DIR\n")
        return 2
    src = sys.argv[1]
    bad = 0
    for name in RECORDING:
        path = os.path.join(src, name)
        if not os.path.exists(path):
            print("%s: listed as recording layer in check_layers.py but missing" % path)
            bad += 1
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if m and forbidden(m.group(1)):
                    print('%s:%d: #include "%s": the recording layer includes no report or shim header'
                          % (path, lineno, m.group(1)))
                    bad += 1
    if bad:
        print("check_layers: %d violation(s)" % bad)
        return 1
    print("check_layers: %d recording-layer files include no report or shim header" % len(RECORDING))
    return 0


if __name__ == "__main__":
    sys.exit(main())
