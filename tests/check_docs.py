#!/usr/bin/env python3
"""The documentation against the code (suite `docs`):

- docs/options.md's settings table, between its marker comments, is what src/settings.def
  declares (rendered from fdleak.settings.SETTINGS); on a difference the diff is printed, and
  `check_docs.py --write` rewrites the table;
- every FDLEAK_* name in README.md and docs/*.md is a setting, or one of the few other
  variables and macros named in OTHER_NAMES (each checked to exist where it says);
- every launcher option and variable in the README's option table and in docs/options.md's
  details is a setting's;
- every relative link in those pages leads to a file of the tree, and its #anchor to a heading;
- the JSON example in docs/formats.md is a valid report, and docs/report.schema.json rejects
  wrong reports (a missing key, a wrong type, an unknown kind or pattern, an unknown field),
  so that validating the tests' reports (harness.load_report) cannot pass vacuously.

Run from anywhere: paths are taken from this file's place in the tree."""
import argparse
import copy
import difflib
import glob
import os
import re
import sys

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
sys.path.insert(0, os.path.join(ROOT, "scripts", "python"))
from fdleak.settings import SETTINGS  # noqa: E402
from harness import ReportError, finish, load_report, schema_errors  # noqa: E402

OPTIONS_MD = os.path.join(ROOT, "docs", "options.md")
BEGIN = "<!-- settings table: generated from src/settings.def by tests/check_docs.py --write -->"
END = "<!-- end -->"

# FDLEAK_* names the pages may mention that are not settings: name -> (file, why).
OTHER_NAMES = {
    "FDLEAK_LIBRARY": ("scripts/python/fdleak/launcher.py", "the launcher's own variable: the library to preload"),
    "FDLEAK_LINEAGE": ("src/lineage.c", "passes creation sites across exec; the new image removes it"),
    "FDLEAK_TEST_PYTHONS": ("tests/pythons.py", "more interpreters for the tests' CPython matrix"),
    "FDLEAK_CALL": ("include/fdleak.h", "the header's macro that calls a weak API function"),
}
# Launcher options that set no variable (docs/launcher.md).
LAUNCHER_ONLY = {"--pid", "-h", "--help", "--version"}


def cell(text):
    """Text for a Markdown table cell: a | would end the cell."""
    return text.replace("|", "\\|")


def code(text):
    return "`%s`" % cell(text)


def option_cell(s):
    if not s.option:
        return ""
    names = [n for n in (s.short, s.long) if n]
    if s.is_flag:
        return "%s (sets %s)" % (", ".join(map(code, names)), code(s.option_sets))
    names[-1] += " " + s.metavar
    return ", ".join(map(code, names))


def render_table():
    rows = ["| variable | launcher option | accepted values | default | what it does |",
            "| --- | --- | --- | --- | --- |"]
    for s in SETTINGS:
        default = code(s.default) if s.default else cell(s.default_said())
        rows.append("| %s | %s | %s | %s | %s |" % (code(s.var), option_cell(s), cell(s.accepted()),
                                                   default, cell(s.help)))
    return "\n".join(rows) + "\n"


def split_options_md(text):
    """(before, table, after) around the generated table; ValueError without the markers."""
    b = text.index(BEGIN) + len(BEGIN) + 1
    e = text.index(END, b)
    return text[:b], text[b:e], text[e:]


def check_table(write, failures):
    with open(OPTIONS_MD, encoding="utf-8") as f:
        text = f.read()
    try:
        before, table, after = split_options_md(text)
    except ValueError:
        failures.append("docs/options.md: no %r ... %r markers" % (BEGIN, END))
        return
    want = render_table()
    if table == want:
        return
    if write:
        with open(OPTIONS_MD, "w", encoding="utf-8") as f:
            f.write(before + want + after)
        print("docs/options.md: settings table rewritten")
        return
    sys.stdout.writelines(difflib.unified_diff(table.splitlines(True), want.splitlines(True),
                                               "docs/options.md", "from src/settings.def"))
    failures.append("docs/options.md: the settings table differs from src/settings.def "
                    "(the diff above; tests/check_docs.py --write rewrites it)")


def doc_pages():
    return [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))


def check_names(failures):
    known = {s.var for s in SETTINGS}
    for name, (path, why) in OTHER_NAMES.items():
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            if name not in f.read():
                failures.append("%s (%s) is not in %s any more" % (name, why, path))
    for page in doc_pages():
        with open(page, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                for name in re.findall(r"\bFDLEAK_[A-Z0-9_]*[A-Z0-9]", line):
                    if name not in known and name not in OTHER_NAMES:
                        failures.append("%s:%d: %s is not a setting (src/settings.def)"
                                        % (os.path.relpath(page, ROOT), lineno, name))


def slug(heading):
    """The anchor a heading gets (GitHub's rule: lower case, punctuation dropped, spaces to -)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path):
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"```.*?```", "", f.read(), flags=re.S)
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.*)$", text, re.M)}


def check_links(failures):
    for page in doc_pages():
        with open(page, encoding="utf-8") as f:
            text = re.sub(r"```.*?```", "", f.read(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            full = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
            where = "%s: link %s" % (os.path.relpath(page, ROOT), target)
            if not os.path.exists(full):
                failures.append("%s: no such file" % where)
            elif anchor and (not full.endswith(".md") or anchor not in anchors(full)):
                failures.append("%s: no heading for #%s" % (where, anchor))


def option_words(text):
    """Launcher options (`-o`, `--output`) and FDLEAK_* variables named in text."""
    return (re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", text),
            re.findall(r"\bFDLEAK_[A-Z0-9_]*[A-Z0-9]", text))


def check_option_lists(failures):
    by_option = {n: s for s in SETTINGS for n in (s.short, s.long) if n}
    by_var = {s.var: s for s in SETTINGS}
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    with open(OPTIONS_MD, encoding="utf-8") as f:
        _, _, details = split_options_md(f.read())
    # the README's option table: its rows, each `option | variable | what`
    rows = [line for line in readme.splitlines() if re.match(r"\| `-", line)]
    if not rows:
        failures.append("README.md: no option table (rows starting with | `-)")
    places = [("README.md option table", line) for line in rows]
    places += [("docs/options.md details", line) for line in details.splitlines() if line.startswith("- `FDLEAK_")]
    for where, line in places:
        words = line.split(" | ")[:2] if where.startswith("README") else [line.split("):", 1)[0]]
        options, variables = option_words(" ".join(words))
        for o in options:
            if o not in by_option:
                failures.append("%s: %s is not a launcher option of src/settings.def: %s" % (where, o, line[:80]))
        for v in variables:
            if v not in by_var:
                failures.append("%s: %s is not a setting: %s" % (where, v, line[:80]))
        # an option and a variable on one row are the same setting
        for o in options:
            for v in variables:
                if o in by_option and v in by_var and by_option[o] is not by_var[v]:
                    failures.append("%s: %s sets %s, not %s" % (where, o, by_option[o].var, v))
    # every setting has its details, and they name its option
    for s in SETTINGS:
        mine = [line for line in details.splitlines() if line.startswith("- `%s" % s.var) and
                re.match(r"- `%s[`=]" % s.var, line)]
        if not mine:
            failures.append("docs/options.md details: no entry for %s" % s.var)
        elif s.long and s.long not in mine[0].split("):", 1)[0]:
            failures.append("docs/options.md details: %s's entry does not name %s" % (s.var, s.long))
    with open(os.path.join(ROOT, "docs", "launcher.md"), encoding="utf-8") as f:
        launcher = f.read()
    for o in sorted(LAUNCHER_ONLY):
        if "`%s" % o not in launcher:
            failures.append("docs/launcher.md does not describe %s" % o)


def formats_example():
    with open(os.path.join(ROOT, "docs", "formats.md"), encoding="utf-8") as f:
        m = re.search(r"```json\n(.*?)```", f.read(), re.S)
    return m.group(1) if m else None


def check_schema(failures):
    example = formats_example()
    if example is None:
        failures.append("docs/formats.md: no ```json example")
        return
    try:
        good = load_report(example, "docs/formats.md's example")
    except (ValueError, ReportError) as e:
        failures.append(str(e))
        return
    with open(os.path.join(ROOT, "docs", "formats.md"), encoding="utf-8") as f:
        if "report.schema.json" not in f.read():
            failures.append("docs/formats.md does not point at report.schema.json")

    def drop(path):
        def f(r):
            *parents, last = path
            for p in parents:
                r = r[p]
            del r[last]
        return f

    def put(path, value):
        def f(r):
            *parents, last = path
            for p in parents:
                r = r[p]
            r[last] = value
        return f

    wrong = [
        ("no pid", drop(["pid"])),
        ("no errors", drop(["errors"])),
        ("a leak without its site", drop(["leaks", 0, "site"])),
        ("a site without its key", drop(["sites", 0, "key"])),
        ("pid a string", put(["pid"], "4242")),
        ("fdleak 2", put(["fdleak"], 2)),
        ("open negative", put(["open"], -1)),
        ("argv a string", put(["argv"], "python3 bot.py")),
        ("cloexec a number", put(["leaks", 0, "cloexec"], 1)),
        ("an unknown kind", put(["leaks", 0, "kind"], "socketish")),
        ("an unknown trigger", put(["trigger"], "atexit")),
        ("an unknown finding pattern", put(["findings", 0, "pattern"], "leaky")),
        ("an unknown misuse", put(["errors"], [{"what": "triple-close", "fd": 3, "site": None, "count": 1, "stack": []}])),
        ("a key of 15 digits", put(["sites", 0, "key"], "3070b87d53229b7")),
        ("pc not hex", put(["sites", 0, "native", 0, "pc"], "7f3a41c02a2b")),
        ("task_origin without task_level", drop(["sites", 0, "python", 1, "task_level"])),
        ("an unknown top-level field", put(["cwdir"], "/tmp")),
        ("an unknown leak field", put(["leaks", 0, "age_s"], 1.0)),
        ("an unknown site field", put(["sites", 0, "stack"], [])),
        ("an unknown evidence field", put(["findings", 0, "evidence", "oldest_s"], 1.0)),
        ("age on an inherited descriptor", put(["inherited", 0, "age"], 1.0)),
        ("cwd a number", put(["cwd"], 7)),
    ]
    for what, mutate in wrong:
        rep = copy.deepcopy(good)
        mutate(rep)
        if not schema_errors(rep):
            failures.append("docs/report.schema.json accepts a report with %s" % what)
    # the right extras pass: cwd (not yet written, not required), a label, a signal
    rep = copy.deepcopy(good)
    rep.update(cwd="/srv/bot", trigger="api", label="after test_x", signal="SIGTERM")
    for e in schema_errors(rep):
        failures.append("docs/report.schema.json rejects a valid report: %s" % e)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="rewrite docs/options.md's settings table")
    a = ap.parse_args()
    failures = []
    check_table(a.write, failures)
    check_names(failures)
    check_links(failures)
    check_option_lists(failures)
    check_schema(failures)
    return finish(failures)


if __name__ == "__main__":
    sys.exit(main())
