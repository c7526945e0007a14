"""pychurn.py — scripts/bench's Python churn workload (`pyversions`): a loop of "requests", each
handled a few Python frames deep like a small service would, each opening and closing one file
and one socket.

    pychurn.py [REQUESTS]      default 2000; prints one line (the requests and creations done)

Per request, 2 descriptor creations, each a few Python frames deep (6 to 7 with the module's:
<module> → main → serve → handle → load_template → open(), a small file read and closed; and
→ open_upstream → socket.socket().__init__, a socket closed again, as a client built and
dropped), and around them the other work of a small JSON-over-HTTP handler: parse a ~0.6 KB
JSON request body, validate and normalise its fields, look the user up in an in-memory cache (a
dict of dicts), build a page of 20 items, render a reply from the file read (str.format) and
encode a JSON response.

Why this much work per creation: about 330,000 instructions per request on Debian's 3.11 (bare,
callgrind; 380,000 to 410,000 on pyenv's builds), i.e. ~165,000 to 200,000 per creation, ~13 µs
of CPU per creation on this project's machine. That is a service at the dense end: one that
opens a descriptor for every small request it serves, with a minimal handler (a framework's own
routing and parsing alone would add as much again). The demo bot is far sparser (~14 million
instructions per creation, most of them its start-up and each httpx client's TLS context). A loop
that did nothing but open and close would measure fdleak's per-creation cost against an empty
program, which is what tests/bench/churn.c is for, not what it costs a Python service.

Deterministic: the same requests in the same order every run (no clock, no randomness), so
with PYTHONHASHSEED fixed (scripts/bench sets 0) callgrind's instruction count repeats. Standard library only; any CPython 3.10 to 3.13."""
import json
import os
import socket
import sys
import tempfile

USERS = {i: {"id": i, "name": "user%d" % i, "city": ["Oslo", "Lima", "Pune", "Kobe"][i % 4],
             "roles": ["member"] + (["admin"] if i % 7 == 0 else []), "visits": 0}
         for i in range(200)}

TEMPLATE = ("Hello {name} from {city}!\n"
            "You asked for {what} ({count} items, page {page} of {pages}).\n"
            "Your roles: {roles}. Visits so far: {visits}.\n") * 4


def request_body(i):
    """A ~0.6 KB JSON request, different for each i (but the same in every run)."""
    return json.dumps({
        "id": i, "user_id": i % 200, "method": "list_items", "what": "orders",
        "filters": {"status": ["open", "paid", "shipped"][i % 3], "min_total": i % 50,
                    "tags": ["t%d" % (i % 11), "t%d" % (i % 13), "priority"]},
        "page": 1 + i % 5, "per_page": 20,
        "client": {"app": "pychurn", "version": "1.%d" % (i % 9), "locale": "en-GB",
                   "agent": "Mozilla/5.0 (X11; Linux x86_64) pychurn/1.0"},
        "trace": ["span-%08x" % (i * 2654435761 % 2**32) for _ in range(4)],
    })


def validate(req):
    if req.get("method") != "list_items":
        raise ValueError("bad method")
    f = req["filters"]
    out = {"status": str(f["status"]).lower(), "min_total": max(0, int(f["min_total"])),
           "tags": sorted({t.strip().lower() for t in f["tags"] if t})}
    page, per = int(req["page"]), min(100, int(req["per_page"]))
    return out, page, per


def load_template(path):
    with open(path, "rb") as f:          # creation 1: a file, read and closed
        return f.read().decode()


def open_upstream():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)   # creation 2: a socket, closed
    s.close()


def handle(body, path):
    req = json.loads(body)
    filters, page, per = validate(req)
    user = USERS[req["user_id"]]
    user["visits"] += 1
    items = [{"n": n, "total": (n * 37 + filters["min_total"]) % 500, "status": filters["status"]}
             for n in range((page - 1) * per, page * per)]
    items = [it for it in items if it["total"] >= filters["min_total"]]
    open_upstream()
    text = load_template(path).format(name=user["name"], city=user["city"], what=req["what"],
                                      count=len(items), page=page, pages=5,
                                      roles=", ".join(user["roles"]), visits=user["visits"])
    return json.dumps({"id": req["id"], "ok": True, "text": text, "items": items[:5],
                       "tags": filters["tags"], "trace": req["trace"]})


def serve(requests, path):
    size = 0
    for i in range(requests):
        size += len(handle(request_body(i), path))
    return size


def main():
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    fd, path = tempfile.mkstemp(prefix="pychurn-", suffix=".txt")
    try:
        os.write(fd, TEMPLATE.encode())
        os.close(fd)
        size = serve(requests, path)
    finally:
        os.unlink(path)
    print("pychurn: %d requests, %d creations, %d bytes of replies" % (requests, 2 * requests, size))


if __name__ == "__main__":
    main()
