"""Calls libfdleak's start-up self-test itself (check_pyselftest.py), through the built-in
module _fdleak the preloaded library registers (the start-up hook's way, GIL held):
_fdleak.selftest(file, line, function) checks that the innermost Python
frame is file:line in function: its code object's qualified name (co_qualname, 3.11+; CPython
3.10's code objects have only co_name). MODE (argv[1]):

    plain           no call: just the leaks below
    right           the true file, line and qualified name: expect 1
    wrong-line      the line after the call's: expect 0 (Python frames off from then on)
    wrong-function  another function ("Probe.runx"): expect 0
    wrong-file      another file: expect 0
    subinterp       the call from a legacy subinterpreter (whose start also runs the hook, and
                    with it the hook's own call): expect -1 (not checked there), never frames
                    off for the process

In the wrong modes a second, correct call follows: expect -1 (frames already off). It leaks a
socket before the call and a socket and a file after it, and prints

    selftest <mode> <result> [<second result>]    (missing: there is no _fdleak module)
    leak <fd> <when> <lineno>                     when: before or after the call
"""
import socket
import sys

MODE = sys.argv[1] if len(sys.argv) > 1 else "plain"
keep = []


def leak_socket(when):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # SELFTEST socket
    keep.append(s)
    print("leak %d %s %d" % (s.fileno(), when, leak_socket.__code__.co_firstlineno + 1))


def leak_file(when):
    f = open("/etc/hostname", "rb")  # SELFTEST file
    keep.append(f)
    print("leak %d %s %d" % (f.fileno(), when, leak_file.__code__.co_firstlineno + 1))


class Probe:
    def __init__(self):
        import _fdleak

        self.fn = _fdleak.selftest

    def run(self, mode):
        me = sys._getframe().f_code
        file, function = me.co_filename, getattr(me, "co_qualname", me.co_name)
        line_fix = {"wrong-line": 1}.get(mode, 0)
        if mode == "wrong-function":
            function += "x"
        if mode == "wrong-file":
            file = "/nonexistent/elsewhere.py"
        return self.fn(file.encode(), sys._getframe().f_lineno + line_fix, function.encode())

    def again(self):
        me = sys._getframe().f_code
        function = getattr(me, "co_qualname", me.co_name)
        return self.fn(me.co_filename.encode(), sys._getframe().f_lineno, function.encode())


SUBINTERP = """
import sys, _fdleak
f = sys._getframe()
r = _fdleak.selftest(f.f_code.co_filename.encode(), f.f_lineno, b"<module>")
print("selftest subinterp %d" % r, flush=True)
"""

leak_socket("before")
if MODE == "subinterp":
    try:
        import _testcapi
    except ImportError:
        print("selftest subinterp no-testcapi")
    else:
        sys.stdout.flush()
        _testcapi.run_in_subinterp(SUBINTERP)
elif MODE != "plain":
    try:
        probe = Probe()
    except ImportError:
        print("selftest %s missing" % MODE)
    else:
        first = probe.run(MODE)
        if MODE.startswith("wrong"):
            print("selftest %s %d %d" % (MODE, first, probe.again()))
        else:
            print("selftest %s %d" % (MODE, first))
leak_socket("after")
leak_file("after")
