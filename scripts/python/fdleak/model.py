"""An fdleak JSON report (schema 1) as typed objects: read once, validated once, so that the
renderers read attributes instead of raw dicts and never fail halfway on a field of the wrong
type. Every field a tool reads is checked here; one that is absent or null reads as None (or an
empty list), since reports from older versions lack the newer fields.

The error messages name the file and the field ("sites[0].history is not a list of numbers")."""

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

SCHEMA = 1


class ToolError(Exception):
    """A problem with the input: one line on stderr, exit status 2."""


def is_int(value):
    # JSON true/false load as bool, which Python also counts as int
    return isinstance(value, int) and not isinstance(value, bool)


def is_num(value):
    return is_int(value) or isinstance(value, float)


def _is_str(value):
    return isinstance(value, str)


def _ints(v):
    return isinstance(v, list) and all(is_int(x) for x in v)


def _nums(v):
    return isinstance(v, list) and all(is_num(x) for x in v)


def _objects(v):
    return isinstance(v, list) and all(isinstance(x, dict) for x in v)


def _scalars(v):
    return isinstance(v, dict) and all(x is None or isinstance(x, (str, int, float))
                                       for x in v.values())


# (test, how a complaint names the type) for each type a field can have
_INT = (is_int, "an integer")
_NUM = (is_num, "a number")
_STR = (_is_str, "a string")
_OBJ = (lambda v: isinstance(v, dict), "an object")
_INTS = (_ints, "a list of integers")
_NUMS = (_nums, "a list of numbers")
_OBJECTS = (_objects, "a list of objects")
_SCALARS = (_scalars, "an object of numbers and strings")


class _Reader:
    """Reads the fields of one report's JSON objects, raising ToolError on the first that has
    the wrong type."""

    def __init__(self, path):
        self.path = path

    def need(self, ok, what):
        if not ok:
            raise ToolError("%s: malformed fdleak report: %s" % (self.path, what))

    def opt(self, obj, name, kind, where, default=None):
        """OBJ[NAME] when absent, null or of KIND; else the complaint."""
        test, said = kind
        value = obj.get(name)
        self.need(value is None or test(value), "%s.%s is not %s" % (where, name, said))
        return default if value is None else value

    def objects(self, value, where):
        self.need(_objects(value), "%s is not a list of objects" % where)
        return value


@dataclass(eq=True)
class Frame:
    """A native frame (pc, module, offset, function, file, line) or a Python frame (file, line,
    function; in an origin, how the work was handed off and level: how many hand-offs lie between
    it and the descriptor)."""
    pc: Optional[str] = None
    module: Optional[str] = None
    offset: Optional[str] = None
    function: Optional[str] = None
    file: Optional[str] = None
    line: Optional[int] = None
    origin: Optional[str] = None
    level: Optional[int] = None

    @classmethod
    def read(cls, r, obj, where):
        kw = {name: r.opt(obj, name, _INT, where) for name in ("line", "level")}
        kw.update({name: r.opt(obj, name, _STR, where)
                   for name in ("pc", "module", "offset", "function", "file", "origin")})
        return cls(**kw)


def _frames(r, value, where):
    return [Frame.read(r, f, "%s[%d]" % (where, k))
            for k, f in enumerate(r.objects(value, where))]


@dataclass
class Lifetime:
    """How long closed descriptors lived (sites[].lifetime, peers[].lifetime)."""
    count: Optional[int] = None
    sum_s: Optional[float] = None
    median_s: Optional[float] = None
    p90_s: Optional[float] = None
    hist: List[int] = field(default_factory=list)

    @classmethod
    def read(cls, r, obj, where):
        life = r.opt(obj, "lifetime", _OBJ, where, {})
        where += ".lifetime"
        return cls(count=r.opt(life, "count", _INT, where),
                   hist=r.opt(life, "hist", _INTS, where, []),
                   **{n: r.opt(life, n, _NUM, where) for n in ("sum_s", "median_s", "p90_s")})


@dataclass
class Peer:
    """One peer a site's sockets talked to."""
    peer: Optional[str]
    role: Optional[str]
    type: Optional[str]
    created: Optional[int]
    closed: Optional[int]
    open: Optional[int]
    lifetime: Lifetime

    @classmethod
    def read(cls, r, obj, where):
        return cls(**{n: r.opt(obj, n, _STR, where) for n in ("peer", "role", "type")},
                   **{n: r.opt(obj, n, _INT, where) for n in ("created", "closed", "open")},
                   lifetime=Lifetime.read(r, obj, where))

    def text(self):
        """"/run/x.sock (client, stream)" """
        extra = ", ".join(x for x in (self.role, self.type) if x)
        return "%s%s" % (self.peer or "?", " (%s)" % extra if extra else "")


@dataclass
class Site:
    """One stack that created descriptors, with its counts. `cwd` is the reporting process's
    working directory (the report's, None when the report does not say): what its Python paths
    are shown relative to."""
    id: int
    key: Optional[str]
    created: Optional[int]
    closed: Optional[int]
    open: Optional[int]
    leaks: Optional[int]
    growth_per_hour: Optional[float]
    growing: bool
    native: List[Frame]
    python: List[Frame]
    app: Optional[Frame]
    at: Optional[str]
    history: List[float]
    lifetime: Lifetime
    peers: List[Peer]
    cwd: Optional[str] = None

    @classmethod
    def read(cls, r, obj, where, cwd):
        r.need(is_int(obj.get("id")), "%s has no id" % where)
        app = r.opt(obj, "app", _OBJ, where)
        return cls(id=obj["id"],
                   key=r.opt(obj, "key", _STR, where),
                   growth_per_hour=r.opt(obj, "growth_per_hour", _NUM, where),
                   growing=bool(obj.get("growing")),
                   native=_frames(r, obj.get("native", []), where + ".native"),
                   python=_frames(r, obj.get("python", []), where + ".python"),
                   app=None if app is None else Frame.read(r, app, where + ".app"),
                   at=r.opt(obj, "at", _STR, where),
                   history=r.opt(obj, "history", _NUMS, where, []),
                   lifetime=Lifetime.read(r, obj, where),
                   peers=[Peer.read(r, p, "%s.peers[%d]" % (where, j))
                          for j, p in enumerate(r.opt(obj, "peers", _OBJECTS, where, []))],
                   cwd=cwd,
                   **{n: r.opt(obj, n, _INT, where)
                      for n in ("created", "closed", "open", "leaks")})


@dataclass
class Parent:
    """Where a parent process said an inherited descriptor was created."""
    via: Optional[str]
    function: Optional[str]
    file: Optional[str]
    line: Optional[int]


@dataclass
class Descriptor:
    """An entry of leaks[], inherited[] or unattributed[]."""
    fd: int
    kind: Optional[str]
    desc: Optional[str]
    via: Optional[str]
    age: Optional[float]
    site: Optional[int]
    parent: Optional[Parent]

    @classmethod
    def read(cls, r, obj, where, ids):
        r.need(is_int(obj.get("fd")), "%s has no fd" % where)
        r.need(obj.get("site") is None or obj["site"] in ids,
               "%s names site %r, which is not in sites" % (where, obj.get("site")))
        parent = r.opt(obj, "parent", _OBJ, where)
        if parent:
            w = where + ".parent"
            parent = Parent(line=r.opt(parent, "line", _INT, w),
                            **{n: r.opt(parent, n, _STR, w) for n in ("via", "function", "file")})
        return cls(fd=obj["fd"], age=r.opt(obj, "age", _NUM, where), site=obj.get("site"),
                   parent=parent or None,
                   **{n: r.opt(obj, n, _STR, where) for n in ("kind", "desc", "via")})


@dataclass
class Error:
    """A misuse the library saw (double-close, bad-close, crosses-exec, ...)."""
    what: Optional[str]
    fd: Optional[int]
    count: Optional[int]
    site: Optional[int]
    stack: List[Frame]
    first_close: List[Frame]

    @classmethod
    def read(cls, r, obj, where, ids):
        r.need(obj.get("site") is None or obj["site"] in ids,
               "%s names site %r, which is not in sites" % (where, obj.get("site")))
        return cls(what=r.opt(obj, "what", _STR, where), fd=r.opt(obj, "fd", _INT, where),
                   count=r.opt(obj, "count", _INT, where), site=obj.get("site"),
                   stack=_frames(r, obj.get("stack") or [], where + ".stack"),
                   first_close=_frames(r, obj.get("first_close") or [], where + ".first_close"))


@dataclass
class FindingSite:
    at: Optional[str]
    ids: List[int]
    holders: List[int]  # the ids that hold what the finding reports (older reports: all ids)
    open: Optional[int]
    created: Optional[int]
    closed: Optional[int]

    @classmethod
    def read(cls, r, obj, where):
        ids = r.opt(obj, "ids", _INTS, where, [])
        holders = r.opt(obj, "holders", _INTS, where, None)
        return cls(at=r.opt(obj, "at", _STR, where), ids=ids, holders=ids if holders is None else holders,
                   **{n: r.opt(obj, n, _INT, where) for n in ("open", "created", "closed")})


@dataclass
class Finding:
    """What to fix: a pattern (never-closed, growing, ...) at some sites, with its evidence."""
    pattern: Optional[str]
    title: Optional[str]
    peer: Optional[str]
    advice: Optional[str]
    evidence: Dict[str, Any]
    sites: List[FindingSite]

    @classmethod
    def read(cls, r, obj, where):
        return cls(evidence=r.opt(obj, "evidence", _SCALARS, where, {}),
                   sites=[FindingSite.read(r, s, "%s.sites[%d]" % (where, j))
                          for j, s in enumerate(r.opt(obj, "sites", _OBJECTS, where, []))],
                   **{n: r.opt(obj, n, _STR, where)
                      for n in ("pattern", "title", "peer", "advice")})


@dataclass
class Report:
    """One report of one process."""
    path: str
    pid: int
    ppid: Optional[int]
    argv: List[str]
    trigger: str
    label: Optional[str]
    signal: Optional[str]
    exe: Optional[str]
    cwd: Optional[str]          # newer reports: the process's working directory
    time: Optional[float]
    seq: Optional[int]
    open: Optional[int]
    limit: Optional[int]
    peak: Optional[int]
    errors_dropped: Optional[int]
    snapshot_times: List[float]
    findings: Optional[List[Finding]]   # None: a report from before findings
    sites: List[Site]
    leaks: List[Descriptor]
    inherited: List[Descriptor]
    unattributed: List[Descriptor]
    errors: List[Error]
    site_by_id: Dict[int, Site] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.site_by_id = {s.id: s for s in self.sites}

    def command(self):
        return " ".join(self.argv)

    def image(self):
        """What tells apart two programs one pid ran (an exec that succeeded)."""
        return (self.pid, self.exe, tuple(self.argv))

    @classmethod
    def read(cls, path, data):
        """DATA, a JSON object with "fdleak": 1, as a Report; ToolError when it lacks what the
        tools read or has it with another type."""
        r = _Reader(path)
        r.need(is_int(data.get("pid")), "no pid")
        r.need(isinstance(data.get("argv"), list) and all(_is_str(a) for a in data["argv"]),
               "argv is not a list of strings")
        r.need(_is_str(data.get("trigger")), "no trigger")
        r.need("leaks" in data and "sites" in data, "no leaks or sites")
        top = "report"
        cwd = r.opt(data, "cwd", _STR, top)
        sites = [Site.read(r, s, "sites[%d]" % k, cwd)
                 for k, s in enumerate(r.objects(data["sites"], "sites"))]
        ids = {s.id for s in sites}
        fds = {name: [Descriptor.read(r, e, "%s[%d]" % (name, k), ids)
                      for k, e in enumerate(r.objects(data.get(name, []), name))]
               for name in ("leaks", "inherited", "unattributed")}
        findings = r.opt(data, "findings", _OBJECTS, top)
        return cls(path=path, pid=data["pid"], argv=data["argv"], trigger=data["trigger"], cwd=cwd,
                   time=r.opt(data, "time", _NUM, top),
                   snapshot_times=r.opt(data, "snapshot_times", _NUMS, top, []),
                   findings=None if findings is None else
                   [Finding.read(r, f, "findings[%d]" % k) for k, f in enumerate(findings)],
                   sites=sites,
                   errors=[Error.read(r, e, "errors[%d]" % k, ids)
                           for k, e in enumerate(r.objects(data.get("errors", []), "errors"))],
                   **fds,
                   **{n: r.opt(data, n, _INT, top) for n in ("ppid", "errors_dropped", "seq",
                                                             "open", "limit", "peak")},
                   **{n: r.opt(data, n, _STR, top) for n in ("label", "signal", "exe")})

    def frames(self):
        """Every native stack in the report (sites, errors' stacks and first closes), for
        symbolizing."""
        stacks = [s.native for s in self.sites]
        for e in self.errors:
            stacks += [e.stack, e.first_close]
        return [f for stack in stacks for f in stack]


# ---------------------------------------------------------------- reading files

def read_json(path, what):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return json.load(f)
    except OSError as e:
        raise ToolError("cannot read %s %s: %s" % (what, path, e.strerror))
    except ValueError as e:
        raise ToolError("%s %s: not valid JSON (%s)" % (what, path, e))


def load_report(path, in_dir, command):
    """The report in PATH; None (after a line on stderr naming COMMAND) for a JSON file in a
    directory that is not an fdleak report. Raises ToolError for everything else that is
    wrong."""
    data = read_json(path, "report")
    if not isinstance(data, dict) or "fdleak" not in data:
        if in_dir:
            sys.stderr.write("fdleak %s: skipping %s: not an fdleak report\n" % (command, path))
            return None
        raise ToolError("%s: not an fdleak report (no \"fdleak\" field)" % path)
    if data["fdleak"] != SCHEMA or not is_int(data["fdleak"]):
        raise ToolError("%s: fdleak report schema %s is not supported (this tool reads schema 1)"
                        % (path, json.dumps(data["fdleak"])))
    return Report.read(path, data)


def load_reports(paths, command):
    """The reports in PATHS; a directory stands for every *.json in it, sorted by name."""
    reports = []
    for path in paths:
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.endswith(".json"))
            files = [os.path.join(path, n) for n in names]
            found = [r for r in (load_report(f, True, command) for f in files
                                 if os.path.isfile(f)) if r]
            if not found:
                raise ToolError("no fdleak reports in directory %s" % path)
            reports += found
        elif os.path.exists(path):
            reports.append(load_report(path, False, command))
        else:
            raise ToolError("%s: no such file or directory" % path)
    return reports


def site_key(report, site):
    """The key that matches a site across runs and processes (sites[].key: module or source
    file names and functions, never addresses or lines)."""
    if not site.key:
        raise ToolError("%s: site %d has no key (a report from an fdleak older than "
                        "sites[].key: run the program again)" % (report.path, site.id))
    return site.key


def counted(reports):
    """The reports whose leaks count. A process writes several reports of one program when it
    takes snapshots (interval, signal, threshold) or an exec fails after its exec report: the
    last one knows best, and adding them up would count each descriptor again. After an exec
    that succeeded, the same pid runs another program (exe or argv differ): its reports are
    another process's."""
    last = {}
    # equal times: the report number (seq, counted per process image) decides; an exec report
    # comes first, as the process goes on after it
    for r in sorted(reports, key=lambda r: (r.time or 0, r.seq or 0, r.trigger != "exec")):
        last[r.image()] = r
    keep = set(id(r) for r in last.values())
    return [r for r in reports if id(r) in keep]

