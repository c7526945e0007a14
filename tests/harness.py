"""What the Python checkers share (imported from tests/, the directory the checker runs from)."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading


def clean_env(python=False):
    """This process's environment without fdleak's settings and preload, so that a checker
    decides them; with python, also without PYTHON* variables (PYTHONPATH, PYTHONHOME…), which
    would change what a Python program under test loads."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("FDLEAK_") and k != "LD_PRELOAD" and not (python and k.startswith("PYTHON"))}


def finish(failures, tmp=None):
    """The checker's last words and exit status: every failure, or ok. tmp, a directory of
    reports: kept (and named) when something failed, removed otherwise."""
    keep_or_remove(tmp, failures)
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures))
        return 1
    print("ok")
    return 0


def keep_or_remove(tmp, failed):
    """A directory of reports: named and kept when something failed, removed otherwise."""
    if not tmp:
        return
    if failed:
        print("reports kept in", tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def tcp_sink(backlog=256):
    """A TCP server on 127.0.0.1 (an ephemeral port) that accepts every connection and reads
    it until its client closes it, each in a thread; returns the listening socket (close it to
    stop accepting)."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=backlog)

    def drain(c):
        with c:
            while c.recv(4096):
                pass

    def serve():
        while True:
            try:
                c, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=drain, args=(c,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener


SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "report.schema.json")
_validator = None


class ReportError(Exception):
    """A report that does not match docs/report.schema.json. Not a ValueError: a checker that
    handles a report that does not parse must not take this one for it, so it ends the checker
    (a failed test) unless the checker says otherwise."""


def _item_key(item):
    """What an array item is, exactly, as a set member: a flat object (a stack frame) as its
    (key, type, value) triples (True is not 1, 1.0 is not 1), anything else as sorted JSON."""
    if isinstance(item, dict) and not any(isinstance(v, (dict, list)) for v in item.values()):
        return tuple((k, type(v), v) for k, v in item.items())
    return json.dumps(item, sort_keys=True)


def report_validator():
    """The Draft 2020-12 validator of docs/report.schema.json, built once per process.

    Its `items` keyword remembers the array items it found valid, per subschema, and does not
    descend into an equal item again: whether an item matches a subschema depends on nothing
    else (the schema has no dynamic references), so the result is the same, but a report's
    thousands of stack frames are mostly the same few hundred, and a checker reading a
    service's interval reports sees the same sites in each (jsonschema costs ~0.7 s of CPU per
    1.5 MB report without this, ~0.3 s with it, and ~0.02 s for a report like one seen)."""
    global _validator
    if _validator is None:
        try:
            import jsonschema
            from jsonschema import _validators
        except ImportError as e:
            raise SystemExit("FAIL: cannot validate reports: install python3-jsonschema "
                             "(scripts/bootstrap) for %s (%s)" % (sys.executable, e))
        with open(SCHEMA, encoding="utf-8") as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schema)
        valid = set()

        def items(validator, subschema, instance, schema):
            if not validator.is_type(instance, "array") or "prefixItems" in schema or \
                    not isinstance(subschema, dict):
                yield from _validators.items(validator, subschema, instance, schema)
                return
            for index, item in enumerate(instance):
                key = (id(subschema), _item_key(item))
                if key in valid:
                    continue
                errors = list(validator.descend(item, subschema, path=index))
                if errors:
                    yield from errors
                else:
                    valid.add(key)

        _validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"items": items})(schema)
    return _validator


def schema_errors(rep):
    """Every way rep differs from the schema, as "JSON path: message", deepest path first."""
    errors = sorted(report_validator().iter_errors(rep), key=lambda e: (-len(e.path), list(map(str, e.path))))
    return ["%s: %s" % (e.json_path, e.message) for e in errors]


def load_report(source, what=None):
    """A library JSON report, parsed and validated against docs/report.schema.json: source is a
    path, or the report's text (str or bytes; what then names it in messages). A report that does
    not parse raises what json raises (ValueError), as json.load did; one that parses but does not
    match the schema raises ReportError naming the report, the JSON path and the message."""
    if isinstance(source, bytes) or what is not None:
        text, what = source, what or "report"
    else:
        with open(source, "rb") as f:
            text, what = f.read(), source
    rep = json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    errors = schema_errors(rep)
    if errors:
        raise ReportError("%s: not a report of docs/report.schema.json: %s%s"
                          % (what, errors[0], " (and %d more)" % (len(errors) - 1) if len(errors) > 1 else ""))
    return rep


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


def runtime_or_skip(interp):
    """(the runtime string fdleak must report, "3.N") for the CPython at interp; None after
    saying why the checker skips (no interpreter there, or it does not run)."""
    runtime = interp_version(interp) if os.access(interp, os.X_OK) else None
    if runtime is None:
        print("skipped: no CPython runs at %s" % interp)
        return None
    return runtime, ".".join(runtime.split()[1].split(".")[:2])


def check_runtime(rep, runtime, what, failures):
    """The report names exactly the interpreter that ran."""
    if rep.get("runtime") != runtime:
        failures.append("%s: runtime %r, expected %r (what the interpreter says it is)"
                        % (what, rep.get("runtime"), runtime))


# `# LEAK [xN | any] [fn=F] [calls=F,G] [origin] [via=KIND] [child]` on the line a leak's app frame points
# at (tests/check_python.py describes the words).
MARK = re.compile(r"#\s*LEAK\b(.*)$")


def parse_markers(paths):
    """{(real path, line): spec} for every marker in the given files."""
    marks = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                m = MARK.search(line)
                if not m:
                    continue
                spec = {"count": 1, "fn": None, "calls": [], "origin": False, "child": False, "via": None}
                # a FINDING marker (check_findings.py) may follow on the same line
                for tok in m.group(1).split("FINDING")[0].split():
                    if re.fullmatch(r"x\d+", tok):
                        spec["count"] = int(tok[1:])
                    elif tok == "any":
                        spec["count"] = None
                    elif tok.startswith("fn="):
                        spec["fn"] = tok[3:]
                    elif tok.startswith("via="):
                        spec["via"] = tok[4:]
                    elif tok.startswith("calls="):
                        spec["calls"] = tok[6:].split(",")
                    elif tok in ("origin", "child"):
                        spec[tok] = True
                    else:
                        raise SystemExit("%s:%d: unknown marker word %r" % (path, lineno, tok))
                marks[(os.path.realpath(path), lineno)] = spec
    return marks
