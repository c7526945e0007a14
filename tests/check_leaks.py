#!/usr/bin/python3
"""Run a victim program under fdleak and check its reports against what the victim declares.

usage: check_leaks.py --lib PATH [--expect-exit N | --expect-signal NAME] [--timeout S]
                      [--env K=V]... [--output-pattern NAME] [--format json|text]
                      [--no-exit-report] [--expect-output TEXT] [--bare] [--keep]
                      -- victim [args...]

The victim runs with LD_PRELOAD=PATH, FDLEAK_FORMAT=json, FDLEAK_OUTPUT=<tmp>/<pattern> (default
pattern report.%p.json) and FDLEAK_TEST_DIR=<tmp>/work (its scratch directory), stdin from
/dev/null and only descriptors 0, 1 and 2 open. It prints declarations on stdout (see
tests/victims/victim.h); other lines are ignored:

    pid <pid>
    [@tag] report [exe=<path|basename>] [signal=<NAME>] [leaks=exact|any] [inherited=exact|some]
                  [optional]
    [@tag] leak <fd> <kind> <function> <desc> [<module>] [via=<call>] [cloexec=0|1] [tid=<tid>]
    [@tag] inherited <fd> <kind> <desc> [via=<call>] [cloexec=0|1] [site=<function>]
                     [parent.function=<function>] [parent.via=<call>] [parent.pid=<pid>[|<pid>]]
    [@tag] error <what> <fd> <function> [site=<function>|null] [first_close=<function>]
                 [count=<n>] [optional]
    [@tag] unleak <fd>      (a declared leak was closed again: no longer expected)

A tag `@<pid>` or `@<pid>/<trigger>` says which report the line is about: the exit report of
another process (a fork child, or the program a child exec'd: same pid), or a report with another
trigger (`exec`); untagged lines are about the exit report of the victim itself, which is always
expected (unless --no-exit-report). A `report` line declares a report that must exist even if no
other line names it, with its attributes (default: exe is the victim, no "signal" field, exact
leaks, inherited not exhaustive; `optional`: may be absent). <kind> and via= may list
alternatives "a|b"; <desc> is "-" or substrings joined by "&" that must all occur in the report's
desc; <function> is the first frame of the site's native stack that lies in the victim
executable (or <module>, a basename, for leaks), "-" for not checked. An `error` line's
<function> is that first frame of the error's `stack` (the function that made the bad call);
site=/first_close= name the creating site's and the first close's function the same way.

Reports: every *.json (or, with a %n-less text pattern, the pattern's extension) in <tmp> is
read; reports are grouped by their pid. The k reports of one pid must be named as the pattern
says (without %n: report.P.json, report.P.2.json, ...; with %n: the sequence 1..k), and an exit
report is the last of its pid. Each declared report must match exactly one report of its pid and
trigger; a declared pid may have no undeclared report. Checked in each declared report: fdleak,
trigger, pid, exe, argv (for the victim's own pid), signal, the exact set of leaks[].fd with
kind, desc, via, cloexec, tid and site; the declared inherited entries (with site / parent);
errors[] exactly as declared (a program that declares none must have none); open/peak/limit.
Undeclared processes' reports (e.g. /bin/true run by the victim) must parse and be named right.

--format text checks the victim's text exit report instead: each declared error (what and fd)
appears before the first leak block, each declared leak's fd is listed. --bare runs without the
library and checks only the exit status (the victim's self-check). Exit status 0 when all
checks pass, 1 otherwise (the temporary directory is then kept).
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from harness import clean_env, load_report

MAX_DETAILS = 40  # per-report failure lines printed before summarizing
ERROR_KINDS = ("crosses-exec", "double-close", "bad-close", "close-owned")


def parse_attrs(tokens, allowed, flags=()):
    """key=value tokens (and bare flag words) -> dict; raises ValueError on unknown ones."""
    attrs = {}
    for tok in tokens:
        if "=" in tok:
            k, v = tok.split("=", 1)
            if k not in allowed:
                raise ValueError("unknown attribute %r" % k)
            attrs[k] = v
        elif tok in flags:
            attrs[tok] = True
        else:
            raise ValueError("unexpected field %r" % tok)
    return attrs


class Spec:
    """One declared leak."""

    def __init__(self, line, fields):
        self.line = line
        self.fd = int(fields[1])
        self.kinds = fields[2].split("|")
        self.function = fields[3]
        self.desc = None if fields[4] == "-" else [p for p in fields[4].split("&") if p]
        self.module = None
        rest = fields[5:]
        if rest and "=" not in rest[0]:
            self.module = rest[0]
            rest = rest[1:]
        self.attrs = parse_attrs(rest, ("via", "cloexec", "tid"))
        if "cloexec" in self.attrs and self.attrs["cloexec"] not in ("0", "1"):
            raise ValueError("cloexec must be 0 or 1")
        if "tid" in self.attrs:
            int(self.attrs["tid"])


class InhSpec:
    """One declared inherited descriptor."""

    def __init__(self, line, fields):
        if len(fields) < 4:
            raise ValueError("too few fields")
        self.line = line
        self.fd = int(fields[1])
        self.kinds = fields[2].split("|")
        self.desc = None if fields[3] == "-" else [p for p in fields[3].split("&") if p]
        self.attrs = parse_attrs(fields[4:], ("via", "cloexec", "site", "parent.function",
                                              "parent.via", "parent.pid"))
        if "cloexec" in self.attrs and self.attrs["cloexec"] not in ("0", "1"):
            raise ValueError("cloexec must be 0 or 1")
        if "parent.pid" in self.attrs:
            [int(p) for p in self.attrs["parent.pid"].split("|")]


class ErrSpec:
    """One declared misuse error."""

    def __init__(self, line, fields):
        if len(fields) < 4:
            raise ValueError("too few fields")
        self.line = line
        self.what = fields[1]
        if self.what not in ERROR_KINDS:
            raise ValueError("unknown error kind %r" % self.what)
        self.fd = int(fields[2])
        self.function = fields[3]
        self.attrs = parse_attrs(fields[4:], ("site", "first_close", "count"), ("optional",))
        self.count = int(self.attrs.get("count", "1"))
        self.optional = bool(self.attrs.get("optional"))


class ReportDecl:
    """What one report (pid, trigger) must contain."""

    def __init__(self, pid, trigger):
        self.pid, self.trigger = pid, trigger
        self.attrs = {}
        self.leaks, self.inherited, self.errors = {}, {}, []
        self.optional = False

    def name(self):
        return "report of pid %d, trigger %s" % (self.pid, self.trigger)


def parse_victim_output(text, main_pid):
    """Returns (declared pid or None, {(pid, trigger): ReportDecl}, [problems]).

    Untagged lines belong to (main_pid, "exit")."""
    pid, decls, problems = None, {}, []

    def decl(p, t):
        if (p, t) not in decls:
            decls[(p, t)] = ReportDecl(p, t)
        return decls[(p, t)]

    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        try:
            tag = None
            if fields[0].startswith("@"):
                m = re.fullmatch(r"@(\d+)(?:/([a-z]+))?", fields[0])
                if not m:
                    raise ValueError("bad tag")
                tag = (int(m.group(1)), m.group(2) or "exit")
                fields = fields[1:]
                if not fields:
                    raise ValueError("tag without declaration")
            where = tag or (main_pid, "exit")
            word = fields[0]
            if word == "pid" and len(fields) == 2 and tag is None:
                pid = int(fields[1])
            elif word == "report":
                d = decl(*where)
                d.attrs.update(parse_attrs(fields[1:], ("exe", "signal", "leaks", "inherited"),
                                           ("optional",)))
                d.optional = bool(d.attrs.get("optional"))
                if d.attrs.get("leaks", "exact") not in ("exact", "any"):
                    raise ValueError("leaks= wants exact or any")
                if d.attrs.get("inherited", "some") not in ("exact", "some"):
                    raise ValueError("inherited= wants exact or some")
            elif word == "leak":
                if len(fields) < 5:
                    raise ValueError("too few fields")
                spec = Spec(line, fields)
                d = decl(*where)
                if spec.fd in d.leaks:
                    raise ValueError("fd %d declared twice" % spec.fd)
                d.leaks[spec.fd] = spec
            elif word == "unleak":
                # a declared leak closed again (live reports: tests/check_live.py)
                d = decl(*where)
                fd = int(fields[1])
                if fd not in d.leaks:
                    raise ValueError("unleak of undeclared fd %d" % fd)
                del d.leaks[fd]
            elif word == "inherited":
                spec = InhSpec(line, fields)
                d = decl(*where)
                if spec.fd in d.inherited:
                    raise ValueError("fd %d declared inherited twice" % spec.fd)
                d.inherited[spec.fd] = spec
            elif word == "error":
                decl(*where).errors.append(ErrSpec(line, fields))
        except ValueError as e:
            problems.append("bad victim line %r: %s" % (line, e))
    return pid, decls, problems


def fmt_set(fds):
    """Compact text for a set of numbers: 3-7,9,12."""
    fds = sorted(fds)
    parts, i = [], 0
    while i < len(fds):
        j = i
        while j + 1 < len(fds) and fds[j + 1] == fds[j] + 1:
            j += 1
        parts.append(str(fds[i]) if i == j else "%d-%d" % (fds[i], fds[j]))
        i = j + 1
    return "{" + ",".join(parts) + "}" if parts else "{}"


def fmt_frames(frames, limit=16):
    if not isinstance(frames, list):
        return "      (not a list: %r)" % (frames,)
    if not frames:
        return "      (empty stack)"
    out = []
    for i, f in enumerate(frames[:limit]):
        if not isinstance(f, dict):
            out.append("      #%d %r" % (i, f))
            continue
        out.append("      #%d %s %s+%s %s %s:%s" % (
            i, f.get("pc"), f.get("module"), f.get("offset"), f.get("function"),
            f.get("file"), f.get("line")))
    if len(frames) > limit:
        out.append("      ... %d more" % (len(frames) - limit))
    return "\n".join(out)


def same_module(frame_module, victim_real, want_basename):
    if not isinstance(frame_module, str) or not frame_module:
        return False
    real = os.path.realpath(frame_module)
    if want_basename is not None:
        return os.path.basename(real) == want_basename
    return real == victim_real


def first_in_module(frames, victim_real, module=None):
    """The first frame of a stack in the victim (or module): a dict, or None."""
    if not isinstance(frames, list):
        return None
    return next((f for f in frames if isinstance(f, dict) and
                 same_module(f.get("module"), victim_real, module)), None)


def check_stack(frames, function, victim_real, what, module=None):
    """Problems (list) when the stack's first frame in the victim is not `function`."""
    if not isinstance(frames, list) or not frames:
        return ["%s: no native frames (%r)" % (what, frames)]
    if function == "-":
        return []
    first = first_in_module(frames, victim_real, module)
    where = module or victim_real
    if first is None:
        return ["%s has no frame in %s; expected %s there\n%s" % (
            what, where, function, fmt_frames(frames))]
    if first.get("function") != function:
        return ["%s: first frame in %s is %r, expected %s\n%s" % (
            what, where, first.get("function"), function, fmt_frames(frames))]
    return []


def check_site_fn(sites, sid, function, victim_real, what, module=None):
    """Problems when site id sid is missing or its first frame is not `function`."""
    site = sites.get(sid) if sid is not None else None
    if site is None:
        return ["%s: site %r not found in sites" % (what, sid)]
    return check_stack(site.get("native"), function, victim_real,
                       "%s: site %r" % (what, sid), module)


def exe_matches(exe, want, default_real):
    if not isinstance(exe, str):
        return False
    real = os.path.realpath(exe)
    if want is None:
        return real == default_real
    if "/" in want:
        return real == os.path.realpath(want)
    return os.path.basename(real) == want


def check_errors(rep_errors, decl, sites, victim_real):
    """errors[] against the declarations: every declared (non-optional) one present, no others."""
    fails = []
    entries = []
    for e in rep_errors:
        if not isinstance(e, dict):
            fails.append("errors[] entry is not an object: %r" % (e,))
            continue
        entries.append(e)
    used = set()
    for spec in decl.errors:
        cands = [i for i, e in enumerate(entries) if i not in used and
                 e.get("what") == spec.what and e.get("fd") == spec.fd]
        match = None
        for i in cands:
            first = first_in_module(entries[i].get("stack"), victim_real)
            if spec.function == "-" or (first is not None and
                                        first.get("function") == spec.function):
                match = i
                break
        if match is None:
            if spec.optional:
                continue
            msg = "declared error missing: %s" % spec.line
            if cands:
                msg += ("\n    entries with that what and fd whose stack's first frame in the "
                        "victim is not %s:" % spec.function)
                for i in cands:
                    msg += "\n    %s\n%s" % (json.dumps({k: v for k, v in entries[i].items()
                                                         if k not in ("stack", "first_close")}),
                                             fmt_frames(entries[i].get("stack")))
            fails.append(msg)
            continue
        used.add(match)
        e = entries[match]
        problems = []
        problems += check_stack(e.get("stack"), spec.function, victim_real, "stack")
        site_want = spec.attrs.get("site")
        if site_want == "null":
            if e.get("site") is not None:
                problems.append("site %r, expected null" % (e.get("site"),))
        elif site_want is not None:
            problems += check_site_fn(sites, e.get("site"), site_want, victim_real, "site")
        elif "site" not in e:
            problems.append("no \"site\" key (expected an id or null)")
        if spec.what == "double-close" or "first_close" in spec.attrs:
            fc = e.get("first_close")
            if "first_close" in spec.attrs:
                problems += check_stack(fc, spec.attrs["first_close"], victim_real, "first_close")
            elif not isinstance(fc, list):
                problems.append("double-close without a first_close stack: %r" % (fc,))
        count = e.get("count")
        if count != spec.count:
            problems.append("count %r, expected %d" % (count, spec.count))
        if problems:
            fails.append("error %s (%s):\n    %s\n    report: %s" % (
                spec.what, spec.line, "\n    ".join(problems),
                json.dumps({k: v for k, v in e.items() if k not in ("stack", "first_close")})))
    for i, e in enumerate(entries):
        if i not in used:
            fails.append("unexpected error: %s\n%s" % (
                json.dumps({k: v for k, v in e.items() if k not in ("stack", "first_close")}),
                fmt_frames(e.get("stack"))))
    return fails


def check_inherited(entries, decl, sites, victim_real):
    fails = []
    by_fd = {}
    for e in entries:
        by_fd.setdefault(e.get("fd"), []).append(e)
    for fd, es in by_fd.items():
        if len(es) > 1:
            fails.append("fd %r listed %d times in inherited" % (fd, len(es)))
    if decl.attrs.get("inherited") == "exact":
        actual = {fd for fd in by_fd if isinstance(fd, int) and fd > 2}
        expected = set(decl.inherited)
        if actual != expected:
            fails.append("set of inherited fds > 2 differs\n  expected %s\n  actual   %s" % (
                fmt_set(expected), fmt_set(actual)))
            for fd in sorted(actual - expected):
                fails.append("  extra inherited: %s" % json.dumps(by_fd[fd][0]))
    for fd in sorted(decl.inherited):
        spec = decl.inherited[fd]
        if fd not in by_fd:
            fails.append("declared inherited fd %d missing from inherited[] (%s)" % (
                fd, spec.line))
            continue
        got = by_fd[fd][0]
        problems = []
        if got.get("kind") not in spec.kinds:
            problems.append("kind %r, expected %s" % (got.get("kind"), "|".join(spec.kinds)))
        desc = got.get("desc")
        if spec.desc is not None:
            if not isinstance(desc, str):
                problems.append("desc %r, expected a string containing %r" % (desc, spec.desc))
            else:
                missing = [p for p in spec.desc if p not in desc]
                if missing:
                    problems.append("desc %r lacks %r" % (desc, missing))
        a = spec.attrs
        if "via" in a and got.get("via") not in a["via"].split("|"):
            problems.append("via %r, expected %s" % (got.get("via"), a["via"]))
        if "cloexec" in a and got.get("cloexec") is not (a["cloexec"] == "1"):
            problems.append("cloexec %r, expected %s" % (
                got.get("cloexec"), "true" if a["cloexec"] == "1" else "false"))
        if "site" in a:
            problems += check_site_fn(sites, got.get("site"), a["site"], victim_real, "site")
        if any(k.startswith("parent.") for k in a):
            par = got.get("parent")
            if not isinstance(par, dict):
                problems.append("no \"parent\" object (got %r)" % (par,))
            else:
                if "parent.function" in a:
                    if par.get("function") != a["parent.function"]:
                        problems.append("parent.function %r, expected %s" % (
                            par.get("function"), a["parent.function"]))
                    if not same_module(par.get("module"), victim_real, None):
                        problems.append("parent.module %r, expected %s" % (
                            par.get("module"), victim_real))
                if "parent.via" in a and par.get("via") not in a["parent.via"].split("|"):
                    problems.append("parent.via %r, expected %s" % (
                        par.get("via"), a["parent.via"]))
                if "parent.pid" in a:
                    pids = [int(p) for p in a["parent.pid"].split("|")]
                    if par.get("pid") not in pids:
                        problems.append("parent.pid %r, expected %s" % (
                            par.get("pid"), " or ".join(map(str, pids))))
        if problems:
            fails.append("inherited fd %d (%s):\n    %s\n    report: %s" % (
                fd, spec.line, "\n    ".join(problems), json.dumps(got)))
    return fails


def check_report(rep, decl, victim_real, argv):
    """Returns a list of failure messages (empty: all good). argv None: not checked."""
    fails = []

    if not isinstance(rep, dict):
        return ["report is not a JSON object"]
    if rep.get("fdleak") != 1:
        fails.append("fdleak: expected 1, got %r" % rep.get("fdleak"))
    if rep.get("trigger") != decl.trigger:
        fails.append("trigger: expected %r, got %r" % (decl.trigger, rep.get("trigger")))
    if rep.get("pid") != decl.pid:
        fails.append("pid: expected %d, got %r" % (decl.pid, rep.get("pid")))
    exe = rep.get("exe")
    if not exe_matches(exe, decl.attrs.get("exe"), victim_real):
        fails.append("exe: expected %s, got %r" % (decl.attrs.get("exe") or victim_real, exe))
    if argv is not None and rep.get("argv") != argv:
        fails.append("argv: expected %r, got %r" % (argv, rep.get("argv")))
    want_sig = decl.attrs.get("signal")
    if rep.get("signal") != want_sig:
        fails.append("signal: expected %r, got %r" % (want_sig, rep.get("signal")))

    lists = {}
    for key in ("leaks", "inherited", "unattributed", "sites", "errors"):
        val = rep.get(key)
        if not isinstance(val, list) or (key != "errors" and
                                         not all(isinstance(x, dict) for x in val)):
            fails.append("%s: expected a list of objects, got %r" % (key, val))
            val = []
        lists[key] = val
    if fails:
        return fails

    leaks = {}
    for entry in lists["leaks"]:
        fd = entry.get("fd")
        if not isinstance(fd, int):
            fails.append("leak without an integer fd: %r" % entry)
        elif fd in leaks:
            fails.append("fd %d listed twice in leaks" % fd)
        else:
            leaks[fd] = entry

    specs = decl.leaks
    expected, actual = set(specs), set(leaks)
    if decl.attrs.get("leaks", "exact") == "any":
        if expected - actual:
            fails.append("declared leaks missing: %s (listed: %s)" % (
                fmt_set(expected - actual), fmt_set(actual)))
    elif expected != actual:
        fails.append("set of leaked fds differs\n  expected %s\n  actual   %s\n"
                     "  missing  %s\n  extra    %s" % (
                         fmt_set(expected), fmt_set(actual),
                         fmt_set(expected - actual), fmt_set(actual - expected)))
        for fd in sorted(actual - expected)[:MAX_DETAILS]:
            fails.append("  extra leak: %s" % json.dumps(leaks[fd]))

    for key in ("inherited", "unattributed"):
        other = {e.get("fd") for e in lists[key]}
        both = other & actual
        if both:
            fails.append("fds both in leaks and in %s: %s" % (key, fmt_set(both)))
        hidden = other & (expected - actual)
        if hidden:
            fails.append("declared leaks listed as %s instead: %s" % (key, fmt_set(hidden)))
    hidden = set(decl.inherited) & actual
    if hidden:
        fails.append("declared inherited fds listed as leaks: %s" % fmt_set(hidden))

    sites = {}
    for s in lists["sites"]:
        sid = s.get("id")
        if sid in sites:
            fails.append("site id %r appears twice" % sid)
        sites[sid] = s

    per_site = {}
    details = []
    for fd in sorted(expected & actual):
        spec, got = specs[fd], leaks[fd]
        problems = []
        kind = got.get("kind")
        if kind not in spec.kinds:
            problems.append("kind %r, expected %s" % (kind, "|".join(spec.kinds)))
        desc = got.get("desc")
        if spec.desc is not None:
            if not isinstance(desc, str):
                problems.append("desc %r, expected a string containing %r" % (desc, spec.desc))
            else:
                missing = [p for p in spec.desc if p not in desc]
                if missing:
                    problems.append("desc %r lacks %r" % (desc, missing))
        if "via" in spec.attrs and got.get("via") not in spec.attrs["via"].split("|"):
            problems.append("via %r, expected %s" % (got.get("via"), spec.attrs["via"]))
        if "cloexec" in spec.attrs and got.get("cloexec") is not (spec.attrs["cloexec"] == "1"):
            problems.append("cloexec %r, expected %s" % (
                got.get("cloexec"), "true" if spec.attrs["cloexec"] == "1" else "false"))
        if "tid" in spec.attrs and got.get("tid") != int(spec.attrs["tid"]):
            problems.append("tid %r, expected %s" % (got.get("tid"), spec.attrs["tid"]))

        sid = got.get("site")
        if sites.get(sid) is not None:
            per_site[sid] = per_site.get(sid, 0) + 1
        problems += check_site_fn(sites, sid, spec.function, victim_real, "site", spec.module)
        if problems:
            details.append("fd %d (%s):\n    %s\n    report: %s" % (
                fd, spec.line, "\n    ".join(problems), json.dumps(got)))

    for sid, n in sorted(per_site.items(), key=lambda kv: str(kv[0])):
        s = sites[sid]
        opened, created = s.get("open"), s.get("created")
        if not isinstance(opened, int) or opened < n:
            details.append("site %r: open=%r but %d leaks point at it" % (sid, opened, n))
        elif not isinstance(created, int) or created < opened:
            details.append("site %r: created=%r < open=%r" % (sid, created, opened))

    details += check_inherited(lists["inherited"], decl, sites, victim_real)
    details += check_errors(lists["errors"], decl, sites, victim_real)

    if len(details) > MAX_DETAILS:
        fails.extend(details[:MAX_DETAILS])
        fails.append("... and %d more problems" % (len(details) - MAX_DETAILS))
    else:
        fails.extend(details)

    for key in ("open", "peak"):
        val = rep.get(key)
        if not isinstance(val, int) or val < len(actual):
            fails.append("%s: %r, but %d leaks are listed" % (key, val, len(actual)))
    if not isinstance(rep.get("limit"), int) or rep.get("limit") <= 0:
        fails.append("limit: %r" % rep.get("limit"))
    return fails


class Naming:
    """Report file names from an FDLEAK_OUTPUT pattern (a file name: %p, %n, %%)."""

    def __init__(self, pattern):
        if "/" in pattern:
            raise ValueError("the output pattern is a file name, without a directory")
        self.pattern = pattern
        self.has_n = "%n" in pattern
        rx, i = "", 0
        while i < len(pattern):
            two = pattern[i:i + 2]
            if two == "%p":
                rx += r"(?P<pid>\d+)"
                i += 2
            elif two == "%n":
                rx += r"(?P<n>\d+)"
                i += 2
            elif two == "%%":
                rx += "%"
                i += 2
            else:
                rx += re.escape(pattern[i])
                i += 1
        if not self.has_n:
            # the 2nd, 3rd... report of a pid: ".2", ".3"... before the extension
            m = re.search(r"(\\\.[^.]*)$", rx) if "." in pattern else None
            if m and "%p" not in pattern[pattern.rfind("."):]:
                rx = rx[:m.start()] + r"(?:\.(?P<n>\d+))?" + rx[m.start():]
            else:
                rx += r"(?:\.(?P<n>\d+))?"
        self.rx = re.compile(rx)

    def name(self, pid, n):
        s = self.pattern.replace("%%", "\0").replace("%p", str(pid))
        if self.has_n:
            s = s.replace("%n", str(n))
        elif n > 1:
            dot = s.rfind(".")
            s = s[:dot] + ".%d" % n + s[dot:] if dot > 0 else s + ".%d" % n
        return s.replace("\0", "%")

    def parse(self, fname):
        """(pid, n) or None."""
        m = self.rx.fullmatch(fname)
        if not m:
            return None
        return int(m.group("pid")), int(m.group("n") or 1)


def collect_reports(tmp, naming, text, validate=True):
    """Returns ({pid: [(n, fname, rep-or-text)] sorted by n}, [problems]). A JSON report is
    validated against docs/report.schema.json (harness.load_report) unless validate is false
    (this checker's self-test, whose synthetic reports are not the library's)."""
    by_pid, problems = {}, []
    for fname in sorted(os.listdir(tmp)):
        path = os.path.join(tmp, fname)
        if fname == "work" and os.path.isdir(path):
            continue
        parsed = naming.parse(fname)
        if parsed is None:
            problems.append("unexpected file %s in the output directory (pattern %s)" % (
                fname, naming.pattern))
            continue
        pid, n = parsed
        try:
            with open(path, encoding="utf-8") as f:
                body = f.read()
            rep = body if text else load_report(body, path) if validate else json.loads(body)
        except (OSError, ValueError) as e:
            problems.append("report %s does not parse: %s" % (fname, e))
            continue
        if not text:
            if not isinstance(rep, dict):
                problems.append("report %s is not a JSON object" % fname)
                continue
            if rep.get("pid") != pid:
                problems.append("report %s says pid %r" % (fname, rep.get("pid")))
        by_pid.setdefault(pid, []).append((n, fname, rep))
    for pid, reps in by_pid.items():
        reps.sort()
        want = [naming.name(pid, i + 1) for i in range(len(reps))]
        got = [fname for _, fname, _ in reps]
        if want != got:
            problems.append("pid %d: %d reports named %s, expected %s" % (
                pid, len(reps), got, want))
        if not text:
            trig = [r.get("trigger") for _, _, r in reps]
            if "exit" in trig[:-1]:
                problems.append("pid %d: an exit report is not the last one: triggers %s in "
                                "%s" % (pid, trig, got))
    return by_pid, problems


def check_text(body, decl):
    """The text exit report: errors (what and fd) before the first leak block, leaks listed."""
    fails = []
    lines = body.splitlines()
    if not lines or not lines[0].startswith("fdleak: "):
        fails.append("text report does not start with 'fdleak: ': %r" % (lines[:1],))
    first_leak = next((i for i, l in enumerate(lines) if "leaked at site" in l or
                       "leaked where no stack" in l), None)
    err_lines = [i for i, l in enumerate(lines) if any(w in l for w in ERROR_KINDS)]
    for spec in decl.errors:
        rx = re.compile(r"\b%s\b.*(?<![\w-])%d\b|(?<![\w-])%d\b.*\b%s\b" % (
            re.escape(spec.what), spec.fd, spec.fd, re.escape(spec.what)))
        hits = [i for i, l in enumerate(lines) if rx.search(l)]
        if not hits:
            if not spec.optional:
                fails.append("no line names error %s on fd %d (%s)" % (
                    spec.what, spec.fd, spec.line))
            continue
        if first_leak is not None and hits[0] > first_leak:
            fails.append("error %s fd %d first named on line %d, after the first leak block "
                         "(line %d): errors must come before leaks" % (
                             spec.what, spec.fd, hits[0] + 1, first_leak + 1))
    if not decl.errors and err_lines:
        fails.append("no errors declared, but the report names some:\n    %s" % "\n    ".join(
            lines[i] for i in err_lines[:10]))
    if decl.leaks and first_leak is None:
        fails.append("%d leaks declared but no leak block ('leaked at site')" % len(decl.leaks))
    for fd in sorted(decl.leaks):
        if not any(re.search(r"\bfd %d\b" % fd, l) for l in lines):
            fails.append("declared leak fd %d not listed ('fd %d')" % (fd, fd))
    return fails


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lib", required=True, help="path to libfdleak.so")
    ap.add_argument("--expect-exit", type=int, default=0, metavar="N",
                    help="expected exit status of the victim (default 0)")
    ap.add_argument("--expect-signal", metavar="NAME",
                    help="the victim must die by this signal (e.g. SIGTERM) instead")
    ap.add_argument("--timeout", type=float, default=60.0, metavar="S",
                    help="seconds before the victim counts as hung (default 60)")
    ap.add_argument("--env", action="append", default=[], metavar="K=V",
                    help="extra environment for the victim (repeatable)")
    ap.add_argument("--output-pattern", metavar="NAME",
                    help="file name pattern for FDLEAK_OUTPUT (default report.%%p.json, "
                         "report.%%p.txt with --format text)")
    ap.add_argument("--format", choices=("json", "text"), default="json")
    ap.add_argument("--no-exit-report", action="store_true",
                    help="the victim's own reports are neither required nor checked")
    ap.add_argument("--expect-output", action="append", default=[], metavar="TEXT",
                    help="TEXT must appear in the victim's stderr or in an output file")
    ap.add_argument("--bare", action="store_true",
                    help="run without the library; check only the exit status")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("victim", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.victim[1:] if args.victim[:1] == ["--"] else args.victim
    if not cmd:
        ap.error("no victim given (after --)")
    lib = os.path.abspath(args.lib)
    if not args.bare and not os.path.isfile(lib):
        print("check_leaks: library %s does not exist" % lib)
        return 1
    want_sig = None
    if args.expect_signal:
        try:
            want_sig = signal.Signals[args.expect_signal]
        except KeyError:
            ap.error("unknown signal %r" % args.expect_signal)
    text = args.format == "text"
    pattern = args.output_pattern or ("report.%p.txt" if text else "report.%p.json")
    try:
        naming = Naming(pattern)
    except ValueError as e:
        ap.error(str(e))
    victim = os.path.abspath(cmd[0])
    victim_real = os.path.realpath(victim)
    argv = [victim] + cmd[1:]

    tmp = tempfile.mkdtemp(prefix="fdleak-check-")
    work = os.path.join(tmp, "work")
    os.mkdir(work)
    env = clean_env()
    env.update(FDLEAK_TEST_DIR=work)
    if not args.bare:
        env.update(LD_PRELOAD=lib, FDLEAK_FORMAT=args.format,
                   FDLEAK_OUTPUT=os.path.join(tmp, pattern))
    for kv in args.env:
        k, sep, v = kv.partition("=")
        if not sep or not k:
            ap.error("--env wants K=V, got %r" % kv)
        env[k] = v

    fails = []
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, close_fds=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        fails.append("victim did not finish within %gs (deadlock?); killed" % args.timeout)
    out = out.decode("utf-8", "replace")
    err = err.decode("utf-8", "replace")

    pid = proc.pid
    ended_badly = bool(fails)
    if not fails:
        rc = proc.returncode
        if want_sig is not None:
            if rc != -want_sig:
                fails.append("victim %s, expected death by %s (returncode %d)" % (
                    "exit status %d" % rc if rc >= 0 else
                    "killed by %s" % signal.Signals(-rc).name, want_sig.name, -want_sig))
                ended_badly = rc < 0
        elif rc < 0:
            fails.append("victim killed by signal %d (%s)" % (-rc, signal.Signals(-rc).name))
            ended_badly = True
        elif rc != args.expect_exit:
            fails.append("victim exit status %d, expected %d" % (rc, args.expect_exit))

    declared_pid, decls, problems = parse_victim_output(out, pid)
    fails.extend(problems)
    if declared_pid is not None and declared_pid != pid:
        fails.append("victim printed pid %d but was started as %d" % (declared_pid, pid))
    if args.no_exit_report:
        decls = {k: d for k, d in decls.items() if k[0] != pid}
    elif (pid, "exit") not in decls:
        decls[(pid, "exit")] = ReportDecl(pid, "exit")

    for needle in args.expect_output:
        found = needle in err
        for fname in os.listdir(tmp):
            p = os.path.join(tmp, fname)
            if not found and os.path.isfile(p):
                with open(p, encoding="utf-8", errors="replace") as f:
                    found = needle in f.read()
        if not found:
            fails.append("%r appears neither in stderr nor in an output file" % needle)

    nreports = 0
    if args.bare:
        if any(n != "work" for n in os.listdir(tmp)):
            fails.append("bare run left files: %s" % sorted(os.listdir(tmp)))
    elif not ended_badly:
        by_pid, problems = collect_reports(tmp, naming, text)
        if args.no_exit_report:
            by_pid.pop(pid, None)
            problems = [p for p in problems if not p.startswith("pid %d:" % pid)]
        fails.extend(problems)
        declared_pids = {p for p, _ in decls}
        for p in sorted(declared_pids):
            for n, fname, rep in by_pid.get(p, []):
                trig = "exit" if text else rep.get("trigger")
                if (p, trig) not in decls:
                    fails.append("unexpected report %s (pid %d, trigger %r)" % (fname, p, trig))
        for key in sorted(decls):
            d = decls[key]
            if text and d.trigger != "exit":
                continue
            found = [(fname, rep) for _, fname, rep in by_pid.get(d.pid, [])
                     if text or rep.get("trigger") == d.trigger]
            if text:
                found = found[-1:]
            if len(found) != 1:
                if found or not d.optional:
                    fails.append("%s: expected %s report, found %d %s; directory holds: %s" % (
                        d.name(), "at most one" if d.optional else "one", len(found),
                        [f for f, _ in found], sorted(os.listdir(tmp))))
                continue
            fname, rep = found[0]
            nreports += 1
            sub = (check_text(rep, d) if text else
                   check_report(rep, d, victim_real, argv if d.pid == pid else None))
            if sub:
                fails.append("%s (%s):" % (d.name(), fname))
                fails.extend("  " + s for s in sub)

    name = os.path.basename(victim)
    nleaks = sum(len(d.leaks) for d in decls.values())
    nerrors = sum(len(d.errors) for d in decls.values())
    if fails:
        print("FAIL %s %s: %d declared leaks, %d declared errors, %d declared reports" % (
            name, " ".join(cmd[1:]), nleaks, nerrors, len(decls)))
        for f in fails:
            print("  " + f)
        print("output directory: %s" % tmp)
        print("files: %s" % sorted(os.listdir(tmp)))
        print("--- victim stdout (first 80 lines) ---")
        print("\n".join(out.splitlines()[:80]))
        print("--- victim stderr ---")
        print(err.rstrip())
        return 1
    if args.bare:
        print("ok %s %s (bare): %s" % (name, " ".join(cmd[1:]),
                                       "killed by %s as expected" % want_sig.name if want_sig
                                       else "exit status %d" % args.expect_exit))
    else:
        print("ok %s %s: %d reports, %d leaks and %d errors as declared" % (
            name, " ".join(cmd[1:]), nreports, nleaks, nerrors))
    if err.strip():
        print("--- victim stderr ---")
        print(err.rstrip())
    if args.keep:
        print("kept %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
