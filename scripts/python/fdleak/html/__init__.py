"""`fdleak report --html`: the reports as one self-contained HTML page, one function per section
(header, findings, sites, processes, charts). The style and the scripts are package files
(page.css, onerror.js, page.js) read next to this module.

Everything is inline, and a Content-Security-Policy forbids the browser any fetch: a page opened
from a CI artifact or a mail stays offline even if a later edit slipped in an external
reference. Scripts only sort and expand; the content is plain HTML, so the page reads the same
with JavaScript off.

Text from a report may hold anything a program put in a path or an argv. Markup is escaped by
default: h() escapes every argument that is not Markup, and only Markup (the page's own
templates) passes through unescaped."""

import html
import json
import math
import os
import re
import sys
import time

from ..merge import process_tree
from ..model import ToolError, counted, is_int, is_num
from ..text import ORIGIN_TEXT, app_index, base_name, frame_where, library_file, native_shown, plural, \
    pyfile, pyframe

SITES_SHOWN = 200      # rows of the sites table: the busiest sites
LEAKS_SHOWN = 50       # descriptors listed per site
CHART_SITES = 8        # lines per chart: more are unreadable
PEERS_SHOWN = 3        # peers in a table cell (the expanded row lists all)
COLORS = ("#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
          "#17becf")
PATTERNS = ("never-closed", "duplicate-clients", "pool-per-operation", "growing")


# ---------------------------------------------------------------- escaping

class Markup(str):
    """A str that is HTML already: h() and esc() pass it through unescaped."""


# C0 and C1 controls are invalid in HTML and can hide or fake text; lone surrogates (a JSON
# "\udc80" from a path that was not UTF-8) cannot be written as UTF-8 at all.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def esc(value):
    """VALUE safe in HTML text and in quoted attribute values; Markup as it is."""
    if isinstance(value, Markup):
        return value
    text = "" if value is None else str(value)
    text = _UNPRINTABLE.sub(lambda m: "\\x%02x" % ord(m.group()) if ord(m.group()) < 0x100
                            else "\ufffd", text)
    return Markup(html.escape(text, quote=True))


def h(template, *args):
    """TEMPLATE (the page's own markup) % ARGS, each argument escaped unless it is Markup;
    numbers stay numbers for %d and %.1f."""
    return Markup(template % tuple(a if is_num(a) else esc(a) for a in args))


def join(parts, sep=""):
    """PARTS, each escaped unless it is Markup, one after the other; SEP is markup."""
    return Markup(sep.join(esc(p) for p in parts))


def _package_file(name):
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), name),
              encoding="utf-8") as f:
        return Markup("\n" + f.read())


# ---------------------------------------------------------------- small pieces

def headline(site):
    """The place a site is known by: the library's own label (`at`), else the app frame, else
    the first native frame with a name, else module+offset."""
    if site.at:
        return site.at
    if site.app:
        return pyframe(site.app, site.cwd)
    for f in site.native:
        if f.function:
            return frame_where(f)
    if site.native:
        return "%s+%s" % (base_name(site.native[0].module or "?"), site.native[0].offset or "?")
    return "an unknown site"


def duration(s):
    """Seconds as people read them: 850 µs, 12 ms, 3.4 s, 5.2 min, 7.1 h."""
    if s is None:
        return ""
    if s < 1e-3:
        return "%.0f µs" % (s * 1e6)
    if s < 1:
        return "%.0f ms" % (s * 1e3)
    if s < 120:
        return "%.1f s" % s
    if s < 7200:
        return "%.1f min" % (s / 60)
    return "%.1f h" % (s / 3600)


def count(n, missing=""):
    """A count checked to be an integer, or MISSING when the report has none (null)."""
    return missing if n is None else str(n)


def when(t):
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)) if is_num(t) else "?"


def evidence(key, v):
    """An evidence value: a duration when its key says seconds (`_s`), else the number as
    written, floats to a readable precision."""
    if isinstance(v, bool) or v is None:
        return esc(json.dumps(v))
    if is_num(v) and key.endswith("_s"):
        return h('<span title="%s s">%s</span>', repr(v), duration(v))
    if is_int(v):
        return Markup(v)
    if isinstance(v, float):
        return Markup("%.0f" % v if abs(v) >= 100 else "%.3g" % v)
    return h("<code>%s</code>", v)


def badge(pattern):
    # the class comes from a fixed list, never from the report
    cls = "p-" + pattern if pattern in PATTERNS else "p-other"
    return h('<span class="badge %s">%s</span>', Markup(cls), pattern or "finding")


# ---------------------------------------------------------------- charts

def series(report, all_reports):
    """(times, {site id: [open counts]}, source) for a chart of REPORT's process, or None.
    The library's own growth snapshots (snapshot_times with each site's history) are finer
    than reports; without them, the interval reports of the same process image serve."""
    snaps = report.snapshot_times
    now = report.time
    if snaps:
        times = list(snaps)
        later = is_num(now) and now > snaps[-1]     # the report itself is one more point
        if later:
            times.append(now)
        lines = {}
        for s in report.sites:
            hist = list(s.history)[-len(snaps):]
            if not hist:
                continue
            # a history shorter than the snapshots: the site did not exist before
            values = [0] * (len(snaps) - len(hist)) + hist
            if later:
                values.append(s.open or 0)
            lines[s.id] = values
        if len(times) >= 2 and times[-1] > times[0] and lines:
            every = ((snaps[-1] - snaps[0]) / (len(snaps) - 1)) if len(snaps) > 1 else None
            return times, lines, ("growth snapshots every %s" % duration(every)
                                  if every else "a growth snapshot and the report")
    same = sorted((r for r in all_reports if r.image() == report.image() and is_num(r.time)),
                  key=lambda r: (r.time, r.seq or 0))
    if len(same) < 2 or same[-1].time <= same[0].time:
        return None
    lines = {}
    for i, r in enumerate(same):
        for s in r.sites:   # ids hold within a process; a site not yet in a report had 0 open
            lines.setdefault(s.id, [0] * len(same))[i] = s.open or 0
    return [r.time for r in same], lines, "%d reports" % len(same)


def nice_step(span, ticks):
    """A round step (1, 2 or 5 times a power of ten) giving about TICKS intervals."""
    raw = max(span / ticks, 1e-9)
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power


def chart(times, lines):
    """An SVG line chart: LINES [(label, values, color, width)] over TIMES (seconds since the
    first), counts from 0. Plain SVG, so it shows without scripts and prints."""
    W, H, L, R, T, B = 960, 280, 48, 16, 12, 38
    t0, span = times[0], max(times[-1] - times[0], 1e-6)
    top = max(max(v) for _, v, _, _ in lines)
    ystep = max(1, nice_step(top, 5))
    ytop = max(ystep, math.ceil(top / ystep) * ystep)
    xstep = nice_step(span, 8)

    def x(t):
        return L + (t - t0) / span * (W - L - R)

    def y(v):
        return T + (1 - v / ytop) * (H - T - B)

    out = [h('<svg class="chart" viewBox="0 0 %d %d" role="img" '
             'aria-label="open descriptors over time">', W, H)]
    v = 0
    while v <= ytop + 1e-9:
        out.append(h('<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>'
                     '<text class="tick" x="%d" y="%.1f" text-anchor="end">%g</text>',
                     L, W - R, y(v), y(v), L - 6, y(v) + 4, v))
        v += ystep
    k = 0
    while k * xstep <= span + 1e-9:
        tx = x(t0 + k * xstep)
        out.append(h('<line class="xtick" x1="%.1f" x2="%.1f" y1="%d" y2="%d"/>'
                     '<text class="tick" x="%.1f" y="%d" text-anchor="middle">%g</text>',
                     tx, tx, H - B, H - B + 4, tx, H - B + 16, round(k * xstep, 6)))
        k += 1
    out.append(h('<line class="axis" x1="%d" x2="%d" y1="%d" y2="%d"/>', L, W - R, H - B, H - B))
    out.append(h('<text class="label" x="%.1f" y="%d" text-anchor="middle">seconds since %s'
                 '</text>', (L + W - R) / 2, H - 4, when(t0)))
    out.append(h('<text class="label" transform="translate(12 %.1f) rotate(-90)" '
                 'text-anchor="middle">open descriptors</text>', (T + H - B) / 2))
    dots = len(times) <= 60    # points stay readable on short series only
    for label, values, color, width in reversed(lines):    # the biggest drawn last, on top
        points = " ".join("%.1f,%.1f" % (x(t), y(v)) for t, v in zip(times, values))
        out.append(h('<polyline class="series" points="%s" stroke="%s" stroke-width="%g">'
                     '<title>%s</title></polyline>', points, color, width, label))
        if dots:
            out += [h('<circle cx="%.1f" cy="%.1f" r="2.2" fill="%s"/>', x(t), y(v), color)
                    for t, v in zip(times, values)]
    out.append(Markup("</svg>"))
    return out


# ---------------------------------------------------------------- a site's detail

def frames_python(site):
    py = site.python
    if not py:
        return []
    app = app_index(site)
    out = [Markup('<div class="stack-title">Python stack</div><table class="frames"><tbody>')]
    level = 0
    for i, f in enumerate(py):
        if (f.level or 0) != level:
            level = f.level or 0
            out.append(h('<tr class="task"><td></td><td colspan="2">%s by%s</td>'
                         '</tr>', ORIGIN_TEXT.get(f.origin, "in a task created"),
                         " (level %d)" % level if level > 1 else ""))
        cls = "app" if i == app else ("lib" if library_file(f.file or "") else "")
        out.append(h('<tr class="%s"><td class="n">%d</td><td>%s%s</td><td>%s%s</td></tr>',
                     cls, i + 1, pyfile(f.file, site.cwd), ":%d" % f.line if f.line else "",
                     f.function or "???",
                     Markup(' <span class="tag">app</span>') if i == app else ""))
    out.append(Markup("</tbody></table>"))
    return out


def frames_native(site):
    native = site.native
    if not native:
        return []

    def row(k, f):
        loc = "%s:%s" % (f.file, f.line or "?") if f.file else ""
        return h('<tr><td class="n">%d</td><td>%s</td><td>%s</td><td class="mod">%s+%s</td></tr>',
                 k + 1, f.function or "???", loc, base_name(f.module or "?"), f.offset or "?")

    # A Python site's interpreter frames say little: folded, as the text report does.
    shown = native_shown(site)
    out = [Markup('<div class="stack-title">Native stack</div>')]
    if shown:
        out += [Markup('<table class="frames"><tbody>')] + [row(k, f) for k, f in
                                                             enumerate(native[:shown])]
        out.append(Markup("</tbody></table>"))
    if shown < len(native):
        out.append(h('<details class="more"><summary>%s in the interpreter</summary>'
                     '<table class="frames"><tbody>',
                     plural(len(native) - shown, "frame", "frames")))
        out += [row(k, f) for k, f in enumerate(native) if k >= shown]
        out.append(Markup("</tbody></table></details>"))
    return out


def site_detail(report, site, leaks):
    out = [Markup('<div class="detail">'),
           h('<div class="keyline">site %d%s in pid %d</div>', site.id,
             h(", key <code>%s</code>", site.key) if site.key else "", report.pid)]
    life = site.lifetime
    if life.count:
        out.append(h('<div class="keyline">lifetime of %s closed: median %s, 90%% under %s</div>',
                     life.count, duration(life.median_s) or "?", duration(life.p90_s) or "?"))
    if leaks:
        out.append(Markup('<div class="stack-title">Leaked descriptors</div><table class="leaks">'
                          '<thead><tr><th>fd</th><th>kind</th><th>description</th><th>via</th>'
                          '<th>age</th></tr></thead><tbody>'))
        for e in leaks[:LEAKS_SHOWN]:
            out.append(h('<tr><td class="num">%d</td><td>%s</td><td><code>%s</code></td>'
                         '<td>%s</td><td class="num">%s</td></tr>',
                         e.fd, e.kind or "?", e.desc or "", e.via or "", duration(e.age)))
        out.append(Markup("</tbody></table>"))
        if len(leaks) > LEAKS_SHOWN:
            out.append(h('<div class="muted">… and %d more</div>', len(leaks) - LEAKS_SHOWN))
    if site.peers:
        out.append(Markup('<div class="stack-title">Peers</div><table class="leaks"><thead><tr>'
                          '<th>peer</th><th>open</th><th>created</th><th>closed</th>'
                          '<th>median lifetime</th></tr></thead><tbody>'))
        for p in site.peers:
            out.append(h('<tr><td><code>%s</code></td><td class="num">%s</td><td class="num">%s'
                         '</td><td class="num">%s</td><td class="num">%s</td></tr>',
                         p.text(), count(p.open), count(p.created), count(p.closed),
                         duration(p.lifetime.median_s)))
        out.append(Markup("</tbody></table>"))
    out += frames_python(site) + frames_native(site)
    out.append(Markup("</div>"))
    return out


# ---------------------------------------------------------------- the page

class Page:
    """What the sections share: the counted reports in tree order, the site rows and their
    anchors, the charts."""

    def __init__(self, all_reports):
        self.all_reports = all_reports
        self.reports = counted(all_reports)
        self.tree = process_tree(self.reports)
        self.order = [r for _, r in self.tree]
        self.pids = sorted({r.pid for r in self.reports})
        self.several = len(self.pids) > 1
        self.root = self.order[0]
        # site rows: "s<k>-<id>", k the report's place in the tree (ids are per process)
        rows = []
        for k, r in enumerate(self.order):
            by_site = {}
            for leak in r.leaks:
                by_site.setdefault(leak.site, []).append(leak)
            for s in r.sites:
                leaks = by_site.get(s.id, [])
                if leaks or s.created or s.open:
                    rows.append((k, r, s, leaks))
        rows.sort(key=lambda x: (-(x[2].open or 0), -len(x[3]), -(x[2].created or 0),
                                 -(x[2].closed or 0), x[0], x[2].id))
        self.left_out = len(rows) - SITES_SHOWN
        self.rows = rows[:SITES_SHOWN]
        self.anchor = {(id(r), s.id): "s%d-%d" % (k, s.id) for k, r, s, _ in self.rows}
        # charts: the busiest sites of each process that has a time series
        self.charts = []
        for k, r in enumerate(self.order):
            got = series(r, all_reports)
            if not got:
                continue
            times, lines, source = got
            top = sorted((sid for sid in lines if max(lines[sid]) > 0),
                         key=lambda sid: (-max(lines[sid]), -lines[sid][-1], sid))
            top = top[:CHART_SITES]
            if top:
                self.charts.append((k, r, times, lines, source, top))

    def site_link(self, r, sid, content):
        """CONTENT (text or Markup) as a link to site SID of report R when it has a row."""
        name = self.anchor.get((id(r), sid))
        return h('<a href="#%s">%s</a>', name, content) if name else esc(content)


def header(page):
    reports, root, several = page.reports, page.root, page.several
    total_leaks = sum(len(r.leaks) for r in reports)
    leak_sites = sum(len({leak.site for leak in r.leaks}) for r in reports)
    out = [h('<header><h1>fdleak report</h1><div class="summary">%s</div><dl class="meta">',
             "%s leaked from %s%s" % (
                 plural(total_leaks, "descriptor", "descriptors"),
                 plural(leak_sites, "site", "sites"),
                 " in %s" % plural(len(page.pids), "process", "processes") if several else ""))]

    def meta(name, value):
        out.append(h("<dt>%s</dt><dd>%s</dd>", name, value))

    meta("Program", h("<code>%s</code>", root.command()))
    meta("PID" if not several else "PIDs", ", ".join(str(p) for p in page.pids[:20]) +
         (" …" if len(page.pids) > 20 else ""))
    meta("Trigger", join([", ".join(sorted({r.trigger for r in reports})),
                          h(" (%s)", root.label) if root.label else "",
                          h(" — killed by %s", root.signal) if root.signal else ""]))
    meta("Time", when(max((r.time or 0) for r in reports) or None))
    meta("Descriptors", "%s open · limit %s · peak %s%s" % (
        count(root.open, "?"), count(root.limit, "?"), count(root.peak, "?"),
        " (pid %d)" % root.pid if several else ""))
    snapshots = len(page.all_reports) - len(reports)
    meta("Reports", "%s%s" % (plural(len(page.all_reports), "report", "reports"),
                              "; the tables use the last of each process, %s left out" %
                              plural(snapshots, "earlier snapshot", "earlier snapshots")
                              if snapshots else ""))
    out.append(Markup("</dl>"))
    # the chart comes last but is what shows growth at a glance: one click away
    sections = [("findings", "Findings"), ("sites", "Sites")]
    sections += [("processes", "Process tree")] if several else []
    sections += [("chart", "Open descriptors over time")] if page.charts else []
    out.append(h('<nav class="toc">%s</nav></header>',
                 join(h('<a href="#%s">%s</a>', *s) for s in sections)))
    return out


def findings(page):
    out = [Markup('<section id="findings"><h2>Findings</h2>')]
    found = [(r, f) for r in page.order for f in (r.findings or [])]
    if not found:
        out.append(h('<p class="empty">No findings%s.</p>',
                     "" if any(r.findings is not None for r in page.reports) else
                     " (these reports predate findings)"))
    for r, f in found:
        out.append(h('<article class="finding"><div class="finding-head">%s <span class="ftitle">'
                     '%s</span>%s</div>', badge(f.pattern), f.title or "",
                     h(' <span class="muted">pid %d</span>', r.pid) if page.several else ""))
        if f.sites:
            out.append(Markup('<ul class="fsites">'))
            for s in f.sites:
                ids = s.ids
                text = h("<code>%s</code>", s.at or (
                    headline(r.site_by_id[ids[0]]) if ids and ids[0] in r.site_by_id else "?"))
                links = [page.site_link(r, sid, "site %d" % sid) for sid in ids[:8]]
                counts = " · ".join("%s %s" % (n, getattr(s, n))
                                    for n in ("open", "created", "closed")
                                    if getattr(s, n) is not None)
                first = next((sid for sid in ids if (id(r), sid) in page.anchor), None)
                out.append(h('<li>%s <span class="muted">%s%s</span></li>',
                             page.site_link(r, first, text) if first is not None else text,
                             counts, join([" — ", join(links, ", "), " …" if len(ids) > 8 else ""])
                             if links else ""))
            out.append(Markup("</ul>"))
        if f.peer:
            out.append(h('<div class="fpeer">peer <code>%s</code></div>', f.peer))
        if f.evidence:
            # keys over values, side by side: a finding stays a few lines tall
            items = list(f.evidence.items())
            out.append(h('<table class="kv"><thead><tr>%s</tr></thead><tbody><tr>%s</tr></tbody>'
                         '</table>', join(h("<th>%s</th>", k) for k, _ in items),
                         join(h("<td>%s</td>", evidence(k, v)) for k, v in items)))
        if f.advice:
            out.append(h('<p class="advice">%s</p>', f.advice))
        out.append(Markup("</article>"))
    out.append(Markup("</section>"))
    return out


def site_row(page, k, r, s, leaks):
    """One site of the table: its row, then its detail across the whole table."""
    head = headline(s)
    badges = []
    if s.growing:
        badges.append(h(' <span class="badge p-growing">growing +%.0f/h</span>',
                        s.growth_per_hour or 0))
    if leaks:
        badges.append(h(' <span class="badge p-leak">%s</span>',
                        plural(len(leaks), "leak", "leaks")))
    median = s.lifetime.median_s
    peer_cell = [h('<div class="peer"><code>%s</code> <span class="muted">%s</span></div>',
                   p.peer or "?", p.role or "") for p in s.peers[:PEERS_SHOWN]]
    if len(s.peers) > PEERS_SHOWN:
        peer_cell.append(h('<div class="muted">+%d more</div>', len(s.peers) - PEERS_SHOWN))
    # the id tells apart sites with one label (two stacks through one line)
    cells = [h('<td class="c-site" data-v="%s"><details><summary><code>%s</code> '
               '<span class="sid">#%d</span>%s</summary></details></td>',
               head, head, s.id, join(badges))]
    if page.several:
        cells.append(h('<td class="num" data-v="%d">%d</td>', r.pid, r.pid))
    for name in ("open", "created", "closed"):
        n = getattr(s, name) or 0
        cells.append(h('<td class="num" data-v="%d">%d</td>', n, n))
    cells.append(h('<td class="num" data-v="%s">%s</td>',
                   "" if median is None else repr(float(median)), duration(median)))
    cells.append(h('<td class="c-peers" data-v="%s">%s</td>',
                   " ".join(p.peer or "" for p in s.peers), join(peer_cell)))
    # One tbody per site: its row, then its detail across the whole table, shown while the
    # row's <details> is open (CSS :has, no script); sorting moves the tbody.
    return ([h('<tbody id="%s" class="site"><tr class="main">%s</tr><tr class="more"><td '
               'colspan="%d">', page.anchor[(id(r), s.id)], join(cells), len(cells))]
            + site_detail(r, s, leaks) + [Markup("</td></tr></tbody>")])


def sites(page):
    out = [Markup('<section id="sites"><h2>Sites</h2>')]
    if not page.rows:
        out.append(Markup('<p class="empty">No site created a descriptor.</p>'))
    else:
        left_out = page.left_out
        out.append(h('<p class="muted">%s that leaked or created descriptors, busiest first%s. '
                     'Click a site for its stacks and leaked descriptors.</p>',
                     plural(len(page.rows) + max(left_out, 0), "site", "sites"),
                     "; the %d busiest shown, %d left out" % (len(page.rows), left_out)
                     if left_out > 0 else ""))
        out.append(Markup('<div id="site-tools" class="tools"></div>'))
        out.append(h('<table id="sites-table" class="sites sortable"><thead><tr>'
                     '<th data-sort="text" class="c-site">site</th>%s'
                     '<th data-sort="num" class="num" aria-sort="descending">open</th>'
                     '<th data-sort="num" class="num">created</th>'
                     '<th data-sort="num" class="num" title="closed descriptors: the churn">'
                     'closed (churn)</th>'
                     '<th data-sort="num" class="num">median lifetime</th>'
                     '<th data-sort="text" class="c-peers">peers</th></tr></thead>',
                     Markup('<th data-sort="num" class="num">pid</th>') if page.several else ""))
        for row in page.rows:
            out += site_row(page, *row)
        out.append(Markup("</table>"))
    out.append(Markup("</section>"))
    return out


def processes(page):
    if not page.several:
        return []
    out = [Markup('<section id="processes"><h2>Process tree</h2><table class="procs"><thead>'
                  '<tr><th>pid</th><th class="num">ppid</th><th>trigger</th>'
                  '<th class="num">leaks</th><th class="num">open</th><th class="num">peak</th>'
                  '<th>program</th></tr></thead><tbody>')]
    for depth, r in page.tree:
        out.append(h('<tr><td style="padding-left:%dpx">%s%d</td><td class="num">%s</td>'
                     '<td>%s</td><td class="num">%d</td><td class="num">%s</td>'
                     '<td class="num">%s</td><td><code>%s</code></td></tr>',
                     8 + 18 * depth, "└ " if depth else "", r.pid,
                     r.ppid if r.ppid is not None else "", r.trigger, len(r.leaks),
                     count(r.open), count(r.peak), r.command()))
    out.append(Markup("</tbody></table></section>"))
    return out


def charts(page):
    if not page.charts:
        return []
    out = [Markup('<section id="chart"><h2>Open descriptors over time</h2>')]
    for k, r, times, lines, source, top in page.charts:
        drawn = []
        legend = []
        for n, sid in enumerate(top):
            values = lines[sid]
            site = r.site_by_id.get(sid)
            label = headline(site) if site else "site %d" % sid
            rise = values[-1] - values[0]
            grows = bool(site and site.growing)
            drawn.append((label, values, COLORS[n], 3 if grows or rise > 0 else 1.8))
            legend.append(h('<li><span class="swatch" style="background:%s"></span>%s '
                            '<span class="muted">peak %g, last %g</span>%s%s</li>',
                            COLORS[n], page.site_link(r, sid, h("<code>%s</code>", label)),
                            max(values), values[-1],
                            h(' <span class="rise">▲ +%g</span>', rise) if rise > 0 else "",
                            Markup(' <span class="badge p-growing">growing</span>')
                            if grows else ""))
        out.append(h('<figure><figcaption>pid %d <code>%s</code> <span class="muted">'
                     '(%s, %s)</span></figcaption>', r.pid, r.command()[:120], source,
                     plural(len(top), "busiest site", "busiest sites")))
        out += chart(times, drawn)
        out.append(h('<ul class="legend">%s</ul></figure>', join(legend)))
    out.append(Markup("</section>"))
    return out


def render(all_reports):
    """The page of ALL_REPORTS, as one string."""
    page = Page(all_reports)
    title = "fdleak: %s" % (" ".join(page.root.argv) or "?")
    out = [Markup('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">'),
           Markup('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
                  'style-src \'unsafe-inline\'; script-src \'unsafe-inline\'; img-src data:">'),
           Markup('<meta name="viewport" content="width=device-width, initial-scale=1">'),
           h('<title>%s</title>', title[:200]),
           Markup('<style>'), _package_file("page.css"),
           Markup('</style>\n</head>\n<body>\n<main>'),
           # onerror first, in a script of its own: it must catch a syntax error in the main one
           Markup('<div id="js-errors" class="js-errors" hidden></div>'),
           Markup('<script>'), _package_file("onerror.js"), Markup('</script>')]
    for section in (header, findings, sites, processes, charts):
        out += section(page)
    out += [h('<footer>Written by <code>fdleak report --html</code> from %s.</footer>',
              plural(len(all_reports), "report", "reports")),
            Markup('</main>\n<script>'), _package_file("page.js"),
            Markup('</script>\n</body>\n</html>\n')]
    return join(out, "\n")


def write_page(path, text):
    """Written to a temporary name, then renamed: the page is complete or absent."""
    if path == "-":
        sys.stdout.write(text)
        return
    tmp = "%s.tmp%d" % (path, os.getpid())
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ToolError("cannot write %s: %s" % (path, e.strerror))
