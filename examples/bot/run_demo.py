#!/usr/bin/python3
"""The demo (scripts/demo): starts redis-server and the API on free loopback ports, runs the
bot under fdleak through the launcher, then stops both servers. The report goes where the
fdleak options say (stderr, as text, by default).

    run_demo.py [--updates N] [FDLEAK OPTIONS…]"""
import os
import subprocess
import sys

from servers import HERE, Servers, ServerError

ROOT = os.path.dirname(os.path.dirname(HERE))


def main():
    args = sys.argv[1:]
    updates = 600
    if args[:1] == ["--updates"] and len(args) > 1:
        updates = int(args[1])
        args = args[2:]
    try:
        with Servers() as s:
            s.start_redis()
            s.start_api(updates=updates)
            bot = ["/usr/bin/python3", os.path.relpath(os.path.join(HERE, "main.py")),
                   "--api", "http://127.0.0.1:%d" % s.api_port, "--redis-port", str(s.redis_port),
                   "--updates", str(updates)]
            cmd = [os.path.join(ROOT, "scripts", "fdleak")] + args + ["--"] + bot
            print("$ scripts/fdleak %s-- %s" % ("".join(a + " " for a in args), " ".join(bot)),
                  file=sys.stderr, flush=True)
            return subprocess.call(cmd)
    except ServerError as e:
        print("demo: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
