"""The text report, as the library writes it: this module mirrors src/report_text.c (and the
helpers it uses from src/findings.c and src/capture_python.c), so that `fdleak report` of a JSON
report prints what FDLEAK_FORMAT=text would have printed. A change to the library's text format
is made in both places; tests/test_report_tool.py compares the two on real reports."""

import os

FDS_SHOWN = 8        # descriptors listed per site, as in the library's text report
FINDINGS_SHOWN = 20  # findings listed, as in the library's text report
COMMAND_SHOWN = 201  # the library cuts the command line there


def plural(n, one, many):
    return "%d %s" % (n, one if n == 1 else many)


def base_name(path):
    return path.rsplit("/", 1)[-1]


def where(function, file, line):
    """"function (file.c:12)", the file by its base name (put_where)."""
    text = function or "???"
    if file:
        text += " (%s:%d)" % (base_name(file), line or 0)
    return text


def frame_where(f):
    return where(f.function, f.file, f.line)


def pyfile(file, cwd):
    """A Python file as its user knows it: relative to the reporting process's working
    directory CWD when under it (fdl_report_pyfile in findings.c). A report without cwd (from
    before the field) falls back on this process's working directory."""
    if file is None:
        return "?"
    if cwd is None:
        cwd = os.getcwd()
    if len(cwd) > 1 and file.startswith(cwd + "/"):
        return file[len(cwd) + 1:]
    return file


def pyframe(f, cwd):
    """"handlers/poll.py:18 in handle_poll" """
    text = pyfile(f.file, cwd)
    if f.line:
        text += ":%d" % f.line
    return text + " in " + (f.function or "???")


def library_file(file):
    """Standard library (…/lib/python3.X/…, frozen modules) or installed packages: the same
    test as fdl_py_library_file() in capture_python.c."""
    if file.startswith("<frozen ") or "/site-packages/" in file or "/dist-packages/" in file:
        return True
    p = file.find("/lib")
    while p >= 0:
        q = p + 4
        if file.startswith("64", q):
            q += 2
        if file.startswith("/python", q):
            q += 7
            if q < len(file) and file[q].isdigit():
                while q < len(file) and (file[q].isdigit() or file[q] == "."):
                    q += 1
                if file.startswith("/", q):
                    return True
        p = file.find("/lib", p + 1)
    return False


def package(file):
    """The package a library file belongs to: "asyncio", "httpx", "importlib" (frozen)
    (put_package)."""
    if file.startswith("<frozen "):
        rest = file[8:]
    elif "-packages/" in file:
        rest = file[file.find("-packages/") + 10:]
    else:
        p = file.find("/python")
        q = file.find("/", p + 1) if p >= 0 else -1
        rest = file[q + 1:] if q >= 0 else file
    end = 0
    while end < len(rest) and rest[end] not in "/.>":
        end += 1
    return rest[:end]


def interpreter_frame(f):
    module = base_name(f.module or "")
    return module.startswith("python") or module.startswith("libpython")


def native_shown(site):
    """How many native frames a site shows: all, or for a Python site only those down to the
    interpreter's own (a C extension's)."""
    if not site.python:
        return len(site.native)
    return next((k for k, f in enumerate(site.native) if interpreter_frame(f)), len(site.native))


# How each kind of origin reads (capture_python.c fdl_py_origin_text).
ORIGIN_TEXT = {"task": "in a task created", "thread": "in a thread started", "work": "in work submitted",
               "callback": "in a callback scheduled", "listener": "accepted on a listener created"}


def app_index(site):
    """Which Python frame is the app frame (the one equal to sites[].app); -1 when there is
    none: no frame of the program's code."""
    for i, f in enumerate(site.python):
        if f == site.app:
            return i
    return -1


def headline(site):
    """What a site is called: its Python app frame, else its innermost native frame."""
    if site is None:
        return "an unknown site"
    if site.python:  # the app frame, else the innermost (the library's call)
        return pyframe(site.python[max(app_index(site), 0)], site.cwd)
    if site.native:
        return frame_where(site.native[0])
    return "an unknown site"


def site_headline(site):
    """The library's name for a site in the growing, error and inherited lines."""
    if site is None or not (site.python or site.native):
        return "an unknown site"
    return "site %d, %s" % (site.id, headline(site))


def frame_line(f, first):
    text = "fdleak:    %s %s: %s" % ("at" if first else "by", f.pc or "0x0", frame_where(f))
    if f.module:
        text += " in " + f.module
    return text


def frame_lines(frames):
    return [frame_line(f, k == 0) for k, f in enumerate(frames)]


def fd_line(e, with_age, extra=""):
    text = "fdleak:    fd %d  %s  %s" % (e.fd, e.kind or "?", e.desc or "?")
    if with_age:
        text += "  (via %s, age %.1fs%s)" % (e.via or "?", e.age or 0, extra)
    return text


def fd_lines(leaks, extra=lambda leak: ""):
    """The first FDS_SHOWN leaks, then how many more."""
    out = [fd_line(e, True, extra(e)) for e in leaks[:FDS_SHOWN]]
    if len(leaks) > FDS_SHOWN:
        out.append("fdleak:    … and %d more" % (len(leaks) - FDS_SHOWN))
    return out


def stack_lines(site):
    """Python frames innermost first, runs of three or more library frames folded to their ends
    and the packages between; then the native frames (for a Python site, only up to the
    interpreter's own) (python_frames)."""
    out = []
    py = site.python
    app = app_index(site) if py else -1

    def level_of(k):
        return py[k].level or 0

    def foldable(k, level):
        return (k < len(py) and k != app and level_of(k) == level
                and library_file(py[k].file or ""))

    level = 0
    i = 0
    while i < len(py):
        f = py[i]
        if level_of(i) != level:
            out.append("fdleak:    " + ORIGIN_TEXT.get(f.origin, "in a task created"))
            level = level_of(i)
        out.append("fdleak:    %s %s%s" % ("at" if i == 0 else "by", pyframe(f, site.cwd),
                                           "   <- app" if i == app else ""))
        end = i
        while foldable(end + 1, level) and foldable(i, level):
            end += 1
        if end >= i + 2:  # frames i+1 .. end-1 folded, end shown next
            names = []
            more = False
            for k in range(i + 1, end):
                name = package(py[k].file or "")
                if name in names:
                    continue
                if len(names) == 4:
                    more = True
                    break
                names.append(name)
            out.append("fdleak:       … %s in %s%s" % (plural(end - i - 1, "frame", "frames"),
                                                      ", ".join(names), ", …" if more else ""))
            i = end
        else:
            i += 1
    native = site.native
    shown = native_shown(site)
    if py and shown:
        out.append("fdleak:    native (before the interpreter):")
    out += frame_lines(native[:shown])
    if shown < len(native):
        out.append("fdleak:    %d%s native frames in the interpreter (in the JSON report)"
                   % (len(native) - shown, " more" if shown else ""))
    return out


def leak_groups(report):
    """[(site or None, [leaks])], the site with the most leaks first (ties: report order)."""
    groups = {}
    for leak in report.leaks:
        groups.setdefault(leak.site, []).append(leak)
    order = {s.id: k for k, s in enumerate(report.sites)}
    ids = sorted(groups, key=lambda sid: (-len(groups[sid]), sid is None, order.get(sid, 0)))
    return [(report.site_by_id.get(sid), groups[sid]) for sid in ids]


def render_report(report):
    """The lines of the library's text report of REPORT (fdl_report_write_text)."""
    groups = leak_groups(report)
    crossing = sum(1 for e in report.errors if e.what == "crosses-exec")
    if crossing:
        summary = plural(crossing, "descriptor crosses", "descriptors cross") + \
            " exec without close-on-exec"
    elif report.leaks:
        summary = "%s leaked from %s" % (plural(len(report.leaks), "descriptor", "descriptors"),
                                         plural(len(groups), "site", "sites"))
    else:
        summary = "no leaks"
    command = report.command()
    if len(command) > COMMAND_SHOWN:
        command = command[:COMMAND_SHOWN] + "…"
    head = "fdleak: %s (pid %d, %s)" % (summary, report.pid, command)
    if report.trigger != "exit":
        head += " [%s%s]" % (report.trigger, ": " + report.label if report.label else "")
    if report.signal:
        head += " [killed by %s]" % report.signal
    out = [head]

    # The findings name what to fix, most urgent first, as the library lists them; a report
    # from before findings has its growing sites instead.
    if report.findings is not None:
        for f in report.findings[:FINDINGS_SHOWN]:
            # the sites that hold what it reports; the places' other sites only counted
            ids = [str(i) for s in f.sites for i in s.holders]
            more = sum(len(s.ids) for s in f.sites) - len(ids)
            out.append("fdleak: finding: %s: %s" % (f.pattern, f.title))
            out.append("fdleak:    site%s %s%s; advice: %s" % (
                "s" if len(ids) > 1 else "", " ".join(ids),
                " and %d more site%s" % (more, "" if more == 1 else "s") if more else "", f.advice))
        if len(report.findings) > FINDINGS_SHOWN:
            out.append("fdleak: … and %d more findings (in the JSON report)"
                       % (len(report.findings) - FINDINGS_SHOWN))
    else:
        for s in report.sites:
            if s.growing:
                out.append("fdleak: growing: %s holds %d open, +%.0f per hour" % (
                    site_headline(s), s.open or 0, s.growth_per_hour or 0))

    for e in report.errors:
        line = "fdleak: error: %s of fd %s" % (e.what or "?", "?" if e.fd is None else e.fd)
        if (e.count or 1) > 1:
            line += " (%d times at this stack)" % e.count
        if e.site is not None:
            line += ", created at " + site_headline(report.site_by_id.get(e.site))
        out += ["fdleak:", line] + frame_lines(e.stack)
        if e.first_close:
            out += ["fdleak:  first closed:"] + frame_lines(e.first_close)
    if report.errors_dropped:
        out.append("fdleak: … and %d more errors (the log holds 256)" % report.errors_dropped)

    for site, leaks in groups:
        out.append("fdleak:")
        n = plural(len(leaks), "descriptor", "descriptors")
        if site is None:
            out.append("fdleak: %s leaked where no stack could be taken (created inside a signal "
                       "handler that interrupted fdleak, or the stack could not be unwound):" % n)
        else:
            line = "fdleak: %s leaked at site %d (created %d, closed %d)" % (
                n, site.id, site.created or 0, site.closed or 0)
            if site.python:
                line += ": " + headline(site)
            out.append(line + ":")
        out += fd_lines(leaks)
        if site is not None:
            out += stack_lines(site)

    if report.unattributed:
        out += ["fdleak:", "fdleak: %s open that fdleak did not see created (libc internals, raw "
                "syscalls):" % plural(len(report.unattributed), "descriptor is",
                                      "descriptors are")]
        out += [fd_line(e, False) for e in report.unattributed[:FDS_SHOWN]]

    inherited = report.inherited
    if inherited:
        fds = " ".join(str(e.fd) for e in inherited[:64])
        out += ["fdleak:", "fdleak: inherited (not leaks): " + fds + (" …" if len(inherited) > 64
                                                                      else "")]
        # Where a parent said (fork, or exec with FDLEAK_LINEAGE), name the creator.
        shown = [e for e in inherited if e.parent or e.site is not None]
        for e in shown[:FDS_SHOWN]:
            p = e.parent
            if p:
                at = where(p.function, p.file, p.line)
                via = p.via
            else:
                at = site_headline(report.site_by_id.get(e.site))
                via = e.via
            out.append(fd_line(e, False) + "  (from the parent: %s at %s)" % (via or "?", at))
    return out
