#!/usr/bin/python3
"""The CPython interpreters the Python tests run under (tests/meson.build asks at configure time).

    pythons.py list          one line per interpreter and per supported version without one
    pythons.py skip REASON   print "skipped: REASON" and exit 77 (meson's skip)

Looked for, in this order (the first of two paths to the same executable wins):
  /usr/bin/python3                              tag `system` (Debian's 3.11, a static executable)
  $PYENV_ROOT/versions/3.N.*/bin/python3        tag `3.N` for N in 10..13 (PYENV_ROOT defaults to
                                                ~/.pyenv; pyenv builds link a shared libpython);
                                                a second build of one minor: its directory name
  each path in $FDLEAK_TEST_PYTHONS (colon-separated)
                                                tag `3.N-extra` (`-extra2`, ... when taken)
Each candidate is asked for its version; only CPython 3.10 to 3.13 are kept (pyenv's 2.7, 3.6–3.9
are left out without a word; an FDLEAK_TEST_PYTHONS entry that is missing or not supported gets
a `warn` line). Output of `list`, one line each, fields separated by `|`:
  run|TAG|3.N|PATH|X.Y.Z    an interpreter to run every Python test under
  skip|3.N|REASON           a supported minor with no interpreter: its tests exit 77 with REASON
  warn|TEXT                 something meson should print (an unusable FDLEAK_TEST_PYTHONS entry)
Standard library only; run by /usr/bin/python3.
"""
import glob
import os
import re
import subprocess
import sys

SUPPORTED = [(3, 10), (3, 11), (3, 12), (3, 13)]
SYSTEM = "/usr/bin/python3"


def version(path):
    """(implementation, (major, minor, micro)) of the interpreter at path, or None."""
    try:
        p = subprocess.run([path, "-I", "-S", "-c",
                            "import sys; print(sys.implementation.name, *sys.version_info[:3])"],
                           capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.SubprocessError):
        return None
    f = p.stdout.split()
    if p.returncode != 0 or len(f) != 4:
        return None
    return f[0], tuple(int(x) for x in f[1:])


def vkey(name):
    """Sort key of a pyenv version directory name (3.12.10 after 3.12.9)."""
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", name)]


def discover():
    found = []     # (tag, (maj, min), path, version)
    warnings = []
    seen = set()
    tags = set()

    def add(tag, path, v):
        real = os.path.realpath(path)
        if real in seen:
            return
        seen.add(real)
        base, n = tag, 2
        while tag in tags:
            tag = "%s%d" % (base, n)
            n += 1
        tags.add(tag)
        found.append((tag, v[1][:2], path, v[1]))

    v = version(SYSTEM)
    if v and v[0] == "cpython":
        add("system", SYSTEM, v)

    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    for major, minor in SUPPORTED:
        dirs = sorted(glob.glob(os.path.join(root, "versions", "%d.%d.*" % (major, minor))),
                      key=lambda d: vkey(os.path.basename(d)), reverse=True)
        first = True
        for d in dirs:
            path = os.path.join(d, "bin", "python3")
            v = version(path)
            if not v or v[0] != "cpython" or v[1][:2] != (major, minor):
                continue
            add("%d.%d" % (major, minor) if first else os.path.basename(d), path, v)
            first = False

    for path in [p for p in os.environ.get("FDLEAK_TEST_PYTHONS", "").split(":") if p]:
        v = version(path)
        if not v:
            warnings.append("FDLEAK_TEST_PYTHONS: %s does not run; left out" % path)
        elif v[0] != "cpython" or v[1][:2] not in SUPPORTED:
            warnings.append("FDLEAK_TEST_PYTHONS: %s is %s %s, not CPython 3.10 to 3.13; left out"
                            % (path, v[0], ".".join(map(str, v[1]))))
        else:
            add("%d.%d-extra" % v[1][:2], os.path.abspath(path), v)

    missing = []
    have = {f[1] for f in found}
    for major, minor in SUPPORTED:
        if (major, minor) not in have:
            missing.append(("%d.%d" % (major, minor),
                            "no CPython %d.%d (looked for %s, %s/versions/%d.%d.*/bin/python3 and "
                            "FDLEAK_TEST_PYTHONS)" % (major, minor, SYSTEM, root, major, minor)))
    return found, missing, warnings


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "skip":
        print("skipped: " + sys.argv[2])
        return 77
    if sys.argv[1:] != ["list"]:
        sys.stderr.write(__doc__)
        return 2
    found, missing, warnings = discover()
    for tag, mm, path, v in found:
        print("run|%s|%d.%d|%s|%s" % (tag, mm[0], mm[1], path, ".".join(map(str, v))))
    for mm, reason in missing:
        print("skip|%s|%s" % (mm, reason))
    for w in warnings:
        print("warn|" + w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
