#!/usr/bin/python3
"""fdleak report --html, end to end: the demo bot's real reports as one page, loaded in a real
headless browser.

    check_html.py --lib build/src/libfdleak.so [--launcher scripts/fdleak]
                  [--outdir DIR] [--chromium PATH] [--timeout S]

Runs the demo bot (examples/bot, against the redis-server and API that examples/bot/servers.py
starts) under fdleak twice: once with growth snapshots (FDLEAK_SNAPSHOT=0.1: one exit report
whose sites carry a history), once with interval reports (--interval 0.2, -o …%n.json: several
reports of one pid). Each set of reports becomes a page through `fdleak report --html`. Checks:
- the page fetches nothing: every src/href/… attribute is a #fragment, no <link>, <img>,
  <iframe>, url() or @import, and a Content-Security-Policy with default-src 'none';
- without scripts (the HTML as written): a findings section with each finding's title, the
  sites table with a row for every leaking site, and a chart (an SVG with polylines) in which the
  site holding the most descriptors has a line;
- in chromium (--dump-dom): the page's script ran to its end (body data-ready="1"), reported
  no error (window.onerror writes into #js-errors), added its sort and expand controls, and
  opened the site a #fragment names; the same elements are in the live DOM;
- a screenshot (1280x2000) is a PNG of that size that is not blank.
Everything stays in DIR (default: a new temporary directory): reports/, page.html, page.png,
the browser's profile and output. Exit status 0 when all hold, 1 if not (expected and found
printed) — also when chromium is missing: scripts/bootstrap installs it, and a page nobody
loaded is not tested.
"""

import argparse
import glob
import html.parser
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "bot"))
from servers import Servers, ServerError  # noqa: E402  (the demo's own server starter)
from harness import clean_env, load_report

failures = []


def fail(what, expected, found):
    failures.append(what)
    print("FAIL %s\n  expected: %s\n  found:    %s" % (what, expected, found))


class Page(html.parser.HTMLParser):
    """The elements the checks look at, from the HTML as written or as chromium dumps it."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags = []          # (tag, attrs dict), in order
        self.stack = []         # open elements: (tag, attrs)
        self.text_in = {}       # id -> text inside the element with that id
        self.polylines = []     # (title text, attrs)
        self._title = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        self.tags.append((tag, a))
        if tag not in ("meta", "br", "hr", "img", "input", "link", "circle", "line", "col"):
            self.stack.append((tag, a))
        if tag == "polyline":
            self.polylines.append(["", a])

    def handle_endtag(self, tag):
        for k in range(len(self.stack) - 1, -1, -1):
            if self.stack[k][0] == tag:
                del self.stack[k:]
                break

    def handle_data(self, data):
        for tag, a in self.stack:
            if a.get("id"):
                self.text_in[a["id"]] = self.text_in.get(a["id"], "") + data
        if self.stack and self.stack[-1][0] == "title" and any(t == "polyline"
                                                               for t, _ in self.stack):
            self.polylines[-1][0] += data

    def find(self, tag, **attrs):
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v
                                                             for k, v in attrs.items())]

    def has_class(self, tag, cls):
        return [a for t, a in self.tags if t == tag and cls in a.get("class", "").split()]


def check_offline(text, page, what):
    """Nothing on the page may make the browser fetch anything."""
    for tag, a in page.tags:
        for name in ("src", "href", "action", "data", "poster", "srcset", "xlink:href",
                     "background", "formaction"):
            if name in a and not a[name].startswith("#"):
                fail("%s: <%s %s=…> must be a #fragment (no fetches)" % (what, tag, name),
                     "#…", repr(a[name]))
    for tag in ("link", "img", "iframe", "object", "embed", "base", "audio", "video", "source"):
        if page.find(tag):
            fail("%s: no <%s> elements" % (what, tag), "none", "%d" % len(page.find(tag)))
    lowered = text.lower()
    for needle in ("url(", "@import"):
        if needle in lowered:
            at = lowered.index(needle)
            fail("%s: no %s in the page" % (what, needle), "none", repr(text[at - 60:at + 60]))
    csp = [a for a in page.find("meta") if a.get("http-equiv", "").lower() ==
           "content-security-policy"]
    if not csp or "default-src 'none'" not in csp[0].get("content", ""):
        fail("%s: a Content-Security-Policy meta with default-src 'none'" % what,
             "default-src 'none'", csp)


def check_content(page, reports, what, chart_expected):
    """The page's main parts, against the reports it was made from (the last one counts)."""
    last = max(reports, key=lambda r: (r.get("time") or 0, r.get("seq") or 0))
    if not page.find("section", id="findings"):
        fail("%s: a findings section" % what, '<section id="findings">', "none")
    findings = page.text_in.get("findings", "")
    for f in last.get("findings") or []:
        if f.get("title") and f["title"] not in findings:
            fail("%s: the finding %r is shown" % (what, f.get("pattern")), repr(f["title"]),
                 repr(findings[:2000]))
    if not last.get("findings") and "No findings" not in findings:
        fail("%s: no findings said" % what, "No findings", repr(findings[:500]))
    if not page.find("table", id="sites-table"):
        fail("%s: the sites table" % what, '<table id="sites-table">', "none")
    rows = {a.get("id") for a in page.has_class("tbody", "site")}
    if not rows:
        fail("%s: the sites table has rows" % what, ">= 1 tbody.site", "0")
    leaking = sorted({l["site"] for l in last["leaks"] if l.get("site") is not None})
    missing = ["s0-%d" % s for s in leaking if "s0-%d" % s not in rows]
    if missing:
        fail("%s: a row for every leaking site" % what, "rows " + ", ".join(missing),
             "rows " + ", ".join(sorted(rows)[:20]))
    svgs = page.has_class("svg", "chart")
    if chart_expected:
        if not svgs or not page.polylines:
            fail("%s: the chart" % what, "an <svg class=chart> with >= 1 polyline",
                 "%d svg, %d polylines" % (len(svgs), len(page.polylines)))
        else:
            # the site that held the most descriptors at any time must be one of the lines
            # (not the last report's biggest: a snapshot may come after the exit report)
            held = {}
            for r in reports:
                for s in r["sites"]:
                    n = max([s.get("open") or 0] + list(s.get("history") or []))
                    held[s.get("at") or ""] = max(held.get(s.get("at") or "", 0), n)
            most = max(held.values(), default=0)
            labels = sorted(label for label, n in held.items() if n == most and label)
            titles = [t for t, _ in page.polylines]
            if most and labels and not set(labels) & set(titles):
                fail("%s: the busiest site has a line in the chart" % what,
                     " or ".join(map(repr, labels)), repr(titles))
    return rows


def run_bot(args, servers, out_dir, extra_options, extra_env):
    """The demo bot under fdleak through the launcher, from the checkout (its sites are then
    named examples/bot/…, as in the demo); returns the reports it wrote."""
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    env = clean_env(python=True)
    env.update({"FDLEAK_LIBRARY": os.path.abspath(args.lib), "PYTHONDONTWRITEBYTECODE": "1"})
    env.update(extra_env)
    cmd = [args.launcher, "--format", "json", "-o", os.path.join(out_dir, "fdleak-%p.%n.json")]
    cmd += extra_options + ["--", "/usr/bin/python3", "examples/bot/main.py",
                            "--api", "http://127.0.0.1:%d" % servers.api_port,
                            "--redis-port", str(servers.redis_port), "--updates", "300"]
    try:
        p = subprocess.run(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=args.timeout)
    except subprocess.TimeoutExpired:
        fail("the bot finishes", "exit within %ss" % args.timeout, "still running")
        return [], []
    if p.returncode != 0:
        fail("the bot exits 0 (%s)" % " ".join(extra_options + list(extra_env)), 0,
             "%d; stderr:\n%s" % (p.returncode, p.stderr))
    paths = sorted(glob.glob(os.path.join(out_dir, "*.json")))
    reports = []
    for path in paths:
        reports.append(load_report(path))
    return paths, reports


def make_page(args, inputs, page_path):
    """fdleak report --html PAGE INPUTS: (the HTML, its parse) or None."""
    p = subprocess.run([args.launcher, "report", "--html", page_path] + inputs,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=120)
    if p.returncode != 0 or p.stderr or not os.path.isfile(page_path):
        fail("fdleak report --html %s" % os.path.basename(page_path),
             "status 0, nothing on stderr, the page written",
             "status %d, stderr %r" % (p.returncode, p.stderr))
        return None
    with open(page_path, encoding="utf-8") as f:
        text = f.read()
    return text, Page(text)


def chromium(args, out_dir, extra, url, what):
    """chromium headless, with its own profile and HOME under OUT_DIR, killed (its whole
    process group) after the timeout; returns its stdout, or None after a failure."""
    home = os.path.join(out_dir, "chromium-home")
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
               XDG_CACHE_HOME=os.path.join(home, ".cache"))
    env.pop("LD_PRELOAD", None)
    cmd = [args.chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
           "--user-data-dir=" + os.path.join(out_dir, "chromium-profile"),
           "--no-first-run", "--no-default-browser-check", "--disable-extensions",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--hide-scrollbars"] + extra + [url]
    p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        fail("%s: chromium finishes" % what, "within 60 s", "killed; stderr tail:\n" +
             err.decode(errors="replace")[-2000:])
        return None
    with open(os.path.join(out_dir, "chromium-%s.log" % what.replace(" ", "-")), "wb") as f:
        f.write(err)
    if p.returncode != 0:
        fail("%s: chromium exits 0" % what, 0, "%d; stderr tail:\n%s" % (
            p.returncode, err.decode(errors="replace")[-2000:]))
        return None
    return out.decode("utf-8", errors="replace")


def check_dom(dom, what, rows, chart_expected, opened):
    page = Page(dom)
    bodies = page.find("body")
    if not bodies or bodies[0].get("data-ready") != "1":
        fail("%s: the page's script ran to its end" % what, '<body data-ready="1">',
             bodies[0] if bodies else "no body")
    errors = page.text_in.get("js-errors", "")
    box = page.find("div", id="js-errors")
    if errors.strip() or not box or "hidden" not in box[0]:
        fail("%s: no script errors" % what, "an empty, hidden #js-errors", repr(errors))
    if "js" not in (page.find("html") or [{}])[0].get("class", "").split():
        fail("%s: the script marked the page" % what, '<html class="js">', page.find("html"))
    buttons = [a for t, a in page.tags if t == "button"]
    if len(buttons) != 2:
        fail("%s: expand and collapse buttons" % what, 2, len(buttons))
    if not page.find("section", id="findings"):
        fail("%s: the findings section in the DOM" % what, '<section id="findings">', "none")
    live = {a.get("id") for a in page.has_class("tbody", "site")}
    if live != rows:
        fail("%s: the DOM holds the sites of the HTML" % what, "%d rows" % len(rows),
             "%d rows" % len(live))
    if chart_expected and not page.polylines:
        fail("%s: the chart in the DOM" % what, ">= 1 polyline", "none")
    if opened:
        # the #fragment's site row is opened by the script
        k = next((i for i, (t, a) in enumerate(page.tags) if t == "tbody" and
                  a.get("id") == opened), None)
        details = None if k is None else next((a for t, a in page.tags[k:] if t == "details"),
                                              None)
        if details is None or "open" not in details:
            fail("%s: the site named by the #fragment is open" % what,
                 '<tbody id="%s"> with <details open>' % opened, details)


def check_png(path, width, height):
    """A PNG of that size whose pixels are not all alike."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        fail("the screenshot exists", path, e)
        return
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        fail("the screenshot is a PNG", "PNG signature and IHDR", repr(data[:16]))
        return
    w, h = struct.unpack(">II", data[16:24])
    if (w, h) != (width, height):
        fail("the screenshot's size", "%dx%d" % (width, height), "%dx%d" % (w, h))
    idat, pos = b"", 8
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    try:
        pixels = zlib.decompress(idat)
    except zlib.error as e:
        fail("the screenshot's pixels decompress", "zlib data", e)
        return
    # a blank or one-colour page compresses to almost nothing and has few distinct bytes
    if len(data) < 20000 or len(set(pixels[::7])) < 32:
        fail("the screenshot is not blank", "> 20 kB and varied pixels",
             "%d bytes, %d distinct byte values" % (len(data), len(set(pixels[::7]))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--launcher", default=os.path.join(ROOT, "scripts", "fdleak"))
    ap.add_argument("--outdir", help="where the reports, pages and screenshot go (kept)")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--timeout", type=float, default=90, help="seconds for each bot run")
    args = ap.parse_args()
    if not os.path.isfile(args.chromium):
        print("FAIL: chromium not found at %s (Debian package chromium; scripts/bootstrap installs it)"
              % args.chromium)
        return 1
    if not os.path.isfile(args.lib):
        print("FAIL: library %s does not exist (ninja -C build)" % args.lib)
        return 1
    out = os.path.abspath(args.outdir or tempfile.mkdtemp(prefix="fdleak-html-"))
    os.makedirs(out, exist_ok=True)
    start = time.monotonic()

    with Servers() as servers:
        try:
            servers.start_redis()
            servers.start_api()
        except ServerError as e:
            print("FAIL: %s" % e)
            return 1
        snap_paths, snap = run_bot(args, servers, os.path.join(out, "reports"), [],
                                   {"FDLEAK_SNAPSHOT": "0.1"})
        iv_paths, interval = run_bot(args, servers, os.path.join(out, "reports-interval"),
                                     ["--interval", "0.2"], {})
    if failures:
        print("FAIL: %d problems; everything kept in %s" % (len(failures), out))
        return 1
    if len(snap) != 1:
        fail("one report from the snapshot run", 1, [os.path.basename(p) for p in snap_paths])
    if len({r["pid"] for r in interval}) != 1 or len(interval) < 3:
        fail("several reports of one pid from the interval run", ">= 3 reports, one pid",
             [os.path.basename(p) for p in iv_paths])
    if failures:
        return 1
    snapshots = len(snap[0].get("snapshot_times") or [])
    if snapshots < 2:
        fail("growth snapshots in the exit report (FDLEAK_SNAPSHOT=0.1)",
             ">= 2 snapshot_times", snapshots)

    # the snapshot run: the page that is looked at (and photographed)
    page_path = os.path.join(out, "page.html")
    made = make_page(args, snap_paths, page_path)
    if made:
        text, page = made
        check_offline(text, page, "page.html")
        rows = check_content(page, snap, "page.html", True)
        top = max((s for s in snap[0]["sites"] if s.get("open")), key=lambda s: s["open"],
                  default=None)
        opened = "s0-%d" % top["id"] if top else None
        url = "file://" + page_path + ("#" + opened if opened else "")
        dom = chromium(args, out, ["--dump-dom"], url, "dump-dom")
        if dom is not None:
            with open(os.path.join(out, "page.dom.html"), "w", encoding="utf-8") as f:
                f.write(dom)
            check_dom(dom, "page.html in chromium", rows, True, opened)
        shot = os.path.join(out, "page.png")
        if os.path.exists(shot):
            os.unlink(shot)
        if chromium(args, out, ["--screenshot=" + shot, "--window-size=1280,2000"],
                    "file://" + page_path, "screenshot") is not None:
            check_png(shot, 1280, 2000)

    # the interval run: several reports of one pid, the last one counts
    iv_page = os.path.join(out, "page-interval.html")
    made = make_page(args, [os.path.dirname(iv_paths[0])], iv_page)
    if made:
        text, page = made
        check_offline(text, page, "page-interval.html")
        rows = check_content(page, interval, "page-interval.html", True)
        left = "%d earlier snapshots left out" % (len(interval) - 1)
        if left not in text:
            fail("page-interval.html: the earlier reports are left out of the tables", left,
                 "not in the header")
        dom = chromium(args, out, ["--dump-dom"], "file://" + iv_page, "dump-dom-interval")
        if dom is not None:
            check_dom(dom, "page-interval.html in chromium", rows, True, None)

    print("%d + %d reports, %d growth snapshots, pages and screenshot in %s, %.1fs" % (
        len(snap), len(interval), snapshots, out, time.monotonic() - start))
    if failures:
        print("FAIL: %d problems; everything kept in %s" % (len(failures), out))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
