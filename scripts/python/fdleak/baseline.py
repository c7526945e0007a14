"""`fdleak baseline` and `fdleak check`: the sites that leak in a set of reports, written as a
baseline (JSON, one site a line so that it diffs well in version control), and a later run's
reports checked against it. Sites are matched by their key, never by address or line."""

import json
import sys

from .model import ToolError, counted, is_int, read_json, site_key
from .text import headline, leak_groups, plural

FORMAT = 1

EXIT_OK = 0
EXIT_NEW_LEAKS = 1


def leaking_sites(reports):
    """{key: {"headline", "leaks", "procs": {(pid, command): n}}} over the counted reports.
    Leaks without a site (no stack could be taken) have no key and are left out."""
    found = {}
    for r in counted(reports):
        for site, leaks in leak_groups(r):
            if site is None:
                continue
            entry = found.setdefault(site_key(r, site), {"headline": headline(site), "leaks": 0,
                                                         "procs": {}})
            entry["leaks"] += len(leaks)
            proc = (r.pid, r.command())
            entry["procs"][proc] = entry["procs"].get(proc, 0) + len(leaks)
    return found


def read_baseline(path):
    """The keys of the baseline in PATH."""
    data = read_json(path, "baseline")
    if not isinstance(data, dict) or "fdleak_baseline" not in data:
        raise ToolError("%s: not an fdleak baseline (no \"fdleak_baseline\" field)" % path)
    if data["fdleak_baseline"] != FORMAT or not is_int(data["fdleak_baseline"]):
        raise ToolError("%s: baseline format %s is not supported (this tool reads 1)"
                        % (path, json.dumps(data["fdleak_baseline"])))
    sites = data.get("sites")
    if not isinstance(sites, list) or not all(isinstance(s, dict) and isinstance(s.get("key"), str)
                                              for s in sites):
        raise ToolError("%s: malformed fdleak baseline: sites must be a list of objects with a "
                        "key" % path)
    return {s["key"] for s in sites}


def write_baseline(reports, out=sys.stdout):
    found = leaking_sites(reports)
    sites = [{"key": key, "headline": found[key]["headline"], "leaks": found[key]["leaks"]}
             for key in sorted(found)]
    # One site a line: a baseline kept in version control then diffs site by site.
    out.write('{"fdleak_baseline": %d, "sites": [' % FORMAT +
              ",".join("\n  " + json.dumps(s, ensure_ascii=False) for s in sites) + "\n]}\n")
    return EXIT_OK


def check(baseline_path, reports):
    """Prints the verdict; EXIT_NEW_LEAKS when a site leaks that the baseline does not know."""
    known = read_baseline(baseline_path)
    found = leaking_sites(reports)
    new = sorted((k for k in found if k not in known), key=lambda k: (-found[k]["leaks"], k))

    def leaks(keys):
        return plural(sum(found[k]["leaks"] for k in keys), "leak", "leaks")

    if not new:
        print("fdleak check: no new leaks (%s leaking, %s)" % (
            plural(len(found), "known site", "known sites"), leaks(found)))
        return EXIT_OK
    print("fdleak check: %s (not in the baseline %s):" % (
        plural(len(new), "new leaking site", "new leaking sites"), baseline_path))
    for key in new:
        e = found[key]
        print("fdleak check:   key %s  %s  %s" % (key, e["headline"],
                                                 plural(e["leaks"], "leak", "leaks")))
        for pid, command in sorted(e["procs"]):
            n = e["procs"][(pid, command)]
            print("fdleak check:      pid %d: %s  %s" % (pid, plural(n, "leak", "leaks"), command))
    old = [k for k in found if k in known]
    print("fdleak check: FAILED: %s (%s), %s (%s)" % (
        plural(len(new), "new site", "new sites"), leaks(new),
        plural(len(old), "known site", "known sites"), leaks(old)))
    return EXIT_NEW_LEAKS
