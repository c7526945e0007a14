"""The fdleak command line, with argparse: the report tools (fdleak report|baseline|check, one
subcommand each) and the launcher's run mode (fdleak [options] [--] command [args...]), whose
options, checks and --help come from the settings table (settings.def through settings.py).

The two are told apart by the very first word only, so that `fdleak -- report` runs a program
called report: argparse's subparsers cannot share a parser with the run mode's command, which
takes everything after the first word that is not an option (argparse.REMAINDER)."""

import argparse
import os
import re
import sys

from .settings import SETTINGS

TOOL_COMMANDS = ("report", "baseline", "check")


class UsageError(Exception):
    """A bad command line: the message and the usage, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse with fdleak's conventions: no abbreviated options (an option added later must
    not change what an old command line means), and errors raised as UsageError, worded as
    fdleak words them, instead of argparse's own usage line and exit."""

    def __init__(self, *args, **kwargs):
        kwargs.update(add_help=False, allow_abbrev=False, exit_on_error=False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise UsageError(message)

    def parse(self, args, intermixed=False):
        """(namespace, rest) for ARGS; an unknown option is a UsageError."""
        try:
            if intermixed:
                ns, rest = self.parse_known_intermixed_args(args)
            else:
                ns, rest = self.parse_known_args(args)
        except argparse.ArgumentError as e:
            raise UsageError(_reworded(e, args))
        unknown = [a for a in rest if a.startswith("-") and a != "-"]
        if unknown:
            raise UsageError("unknown option '%s'" % unknown[0])
        return ns, rest


def _reworded(error, args):
    """argparse's complaint about one option, in fdleak's words."""
    names = (error.argument_name or "").split("/")
    option = next((a for a in reversed(args) if a in names), names[-1])  # as it was written
    if error.message.startswith("expected one argument"):
        return "option %s needs a value" % option
    m = re.match(r"ignored explicit argument '(.)", error.message)
    if m:
        if any(a.startswith(option + "=") for a in args):
            return "option %s takes no value" % option
        return "unknown option '-%s'" % m.group(1)  # a bundle of short options: -qx
    return "%s: %s" % (option, error.message) if option else error.message


# ---------------------------------------------------------------- report | baseline | check

SYNOPSIS = {
    "report": "fdleak report [--symbolize] [--merge | --html OUT] FILE|DIR...",
    "baseline": "fdleak baseline FILE|DIR... > BASE",
    "check": "fdleak check --baseline BASE FILE|DIR...",
}
TOOLS_USAGE = "usage: " + "\n       ".join(SYNOPSIS[c] for c in TOOL_COMMANDS) + "\n"

TOOLS_HELP = TOOLS_USAGE + """
Read fdleak JSON reports (--format json). A DIR means every *.json in it.

  report      print the reports as text, in the layout of fdleak's own text report
    --symbolize   fill in file:line of native frames that lack it, with addr2line
    --merge       one view of a process tree: the processes (children under their
                  parents) with their leak counts, then the leaks of all of them grouped
                  by site key, with per-process and total counts
    --html OUT    write one self-contained HTML page to OUT instead ('-': stdout):
                  findings, the sites (sortable, each with its stacks and leaked
                  descriptors), the process tree and a chart of open descriptors over
                  time (from growth snapshots or interval reports); no network access
  baseline    write a baseline (JSON) of every site that leaks in the reports
  check       exit 0 when every leaking site is in the baseline; otherwise list the new
              sites and exit 1 (2: bad usage, a missing or malformed baseline or report)

Sites are matched across runs by their key (sites[].key: module or source file names and
functions, never addresses or lines). Of several reports of one process running one program
(snapshots on a signal or interval, then the exit report) only the last counts.
"""

EXIT_USAGE = 2      # also: missing or malformed input


def tools_parser():
    """One parser per subcommand, under one parent. Options may come anywhere before a '--'."""
    top = Parser(prog="fdleak")
    sub = top.add_subparsers(dest="command")
    report = sub.add_parser("report")
    report.add_argument("--symbolize", action="store_true")
    report.add_argument("--merge", action="store_true")
    report.add_argument("--html", metavar="OUT")
    sub.add_parser("baseline")
    sub.add_parser("check").add_argument("--baseline", metavar="BASE")
    for p in sub.choices.values():
        p.add_argument("-h", "--help", action="store_true")
        p.add_argument("paths", nargs="*", metavar="FILE|DIR")
    return sub.choices


def parse_tool(command, args):
    # intermixed: `report a.json --merge b.json` is two paths and an option
    ns, _ = tools_parser()[command].parse(args, intermixed=True)
    if ns.help:
        return ns
    for name in ("html", "baseline"):
        if getattr(ns, name, None) == "":
            raise UsageError("--%s: empty path" % name)
    if command == "check" and ns.baseline is None:
        raise UsageError("--baseline BASE is required")
    if not ns.paths:
        raise UsageError("no report files or directories given")
    return ns


def run_tool(command, ns):
    # imported here: the run mode, which every launch goes through, needs none of it
    from . import baseline
    from .model import load_reports

    reports = load_reports(ns.paths, command)
    if command == "baseline":
        return baseline.write_baseline(reports)
    if command == "check":
        return baseline.check(ns.baseline, reports)
    if ns.symbolize:
        from .symbolize import symbolize
        symbolize(reports)
    if ns.html is not None:
        from . import html
        # the page shows every process and the tree already: --merge changes nothing there
        html.write_page(ns.html, html.render(reports))
        return 0
    if ns.merge:
        from .merge import render_merged
        lines = render_merged(reports)
    else:
        from .text import render_report
        lines = []
        for k, r in enumerate(reports):
            lines += ([""] if k else []) + render_report(r)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def tools_main(argv):
    """argv: the subcommand and its arguments. Returns the exit status: 0 fine, 1 `check`
    found new leaking sites, 2 bad usage or input."""
    from .model import ToolError

    command = argv[0]
    # Reports may carry any bytes a program put in a path or argv: never fail on printing them.
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(errors="replace")
    try:
        ns = parse_tool(command, argv[1:])
        if ns.help:
            sys.stdout.write(TOOLS_HELP)
            return 0
        status = run_tool(command, ns)
        sys.stdout.flush()
        return status
    except UsageError as e:
        sys.stderr.write("fdleak %s: %s\nusage: %s  (fdleak %s --help for more)\n"
                         % (command, e, SYNOPSIS[command], command))
        return EXIT_USAGE
    except ToolError as e:
        sys.stderr.write("fdleak %s: %s\n" % (command, e))
        return EXIT_USAGE
    except BrokenPipeError:
        # `fdleak report … | head`: the reader is gone; leave quietly, without a second error
        # when Python flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


# ---------------------------------------------------------------- the run mode

RUN_USAGE = """\
fdleak [options] [--] command [args...]
       fdleak --pid PID
       fdleak report|baseline|check ...   (read JSON reports; fdleak report --help)"""

RUN_DESCRIPTION = """\
Run COMMAND with the fdleak library preloaded; when it exits, report the file
descriptors it created and never closed, grouped by the code that opened them.
Options come before the command, as with valgrind: the first word that is not an
option (or the word after --) starts it."""

RUN_EPILOG = """\
environment:
  FDLEAK_LIBRARY          use this libfdleak.so instead of searching for it
  An FDLEAK_* variable already set is kept unless an option overrides it.
  Settings without an option (%s) are set in the environment."""

RANGE_KINDS = ("INT", "SECONDS", "THRESHOLD")   # kinds whose help shows what they accept


def option_help(s):
    """A setting's --help line: what it does, what it accepts, its default, its variable."""
    if s.is_flag:
        text = "%s [%s=%s]" % (s.help, s.var, s.option_sets)
    else:
        text = s.help
        if s.kind in RANGE_KINDS:
            text += ": " + s.accepted()
        if s.default_said():
            text += " (default: %s)" % s.default_said()
        text += " [%s]" % s.var
    return text.replace("%", "%%")  # argparse formats help with %


def run_parser(version):
    p = Parser(prog="fdleak", usage=RUN_USAGE, description=RUN_DESCRIPTION,
               epilog=RUN_EPILOG % ", ".join(s.var for s in SETTINGS if not s.long),
               formatter_class=argparse.RawDescriptionHelpFormatter)
    for s in SETTINGS:
        if not s.long:
            continue
        names = [n for n in (s.short, s.long) if n]
        if s.is_flag:
            p.add_argument(*names, dest=s.var, action="store_const", const=s.option_sets,
                           help=option_help(s))
        else:
            p.add_argument(*names, dest=s.var, metavar=s.metavar, help=option_help(s),
                           action="append" if s.kind == "PATHS" else "store")
    p.add_argument("--pid", metavar="PID", help="ask the running process PID (started under "
                   "fdleak) for a report now, and print where it went")
    p.add_argument("-h", "--help", action="help", help="show this help and exit")
    p.add_argument("--version", action="version", version="fdleak %s" % version,
                   help="show the version and exit")
    # Everything from the first word that is not an option on: the command and its own
    # arguments, options included (`fdleak -q python3 -c ...` passes -c to python3). argparse
    # itself stops at that word, bundles short options (-qo PATH) and takes --opt=value; what it
    # does not take is a value that looks like an option in the next word (`-o -x.txt`: write
    # -o-x.txt or --output=-x.txt), '-' and negative numbers aside.
    p.add_argument("command", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


def suppress_files(files):
    """FDLEAK_SUPPRESS with FILES appended (absolute) to what the environment has already."""
    have = [f for f in os.environ.get("FDLEAK_SUPPRESS", "").split(":") if f]
    for value in files:
        if not os.path.isfile(value):
            raise UsageError("--suppress: no such file '%s'" % value)
        if ":" in os.path.abspath(value):
            raise UsageError("--suppress: a path with ':' cannot be passed on: '%s'" % value)
        have.append(os.path.abspath(value))
    return ":".join(have)


def parse_run(argv, version):
    """(settings {FDLEAK_*: value}, pid or None, command)."""
    ns, _ = run_parser(version).parse(argv)
    settings = {}
    for s in SETTINGS:
        value = getattr(ns, s.var, None) if s.long else None
        if value is None:
            continue
        if s.kind == "PATHS":
            value = suppress_files(value)
        accepted = s.check(value)
        if accepted:
            raise UsageError("%s: expected %s, got '%s'" % (s.long, accepted, value))
        settings[s.var] = value
    command = ns.command
    # argparse keeps the '--' that ended the options in front of a REMAINDER (3.11)
    if command[:1] == ["--"]:
        command = command[1:]
    pid = None
    if ns.pid is not None:
        if not ns.pid.isdigit() or int(ns.pid) <= 0:
            raise UsageError("--pid: expected a process id, got '%s'" % ns.pid)
        if command:
            raise UsageError("--pid takes no command")
        pid = int(ns.pid)
    elif not command:
        raise UsageError("no command given")
    return settings, pid, command


def run_main(place, argv):
    from . import launcher

    try:
        settings, pid, command = parse_run(argv, place.version())
    except UsageError as e:
        sys.stderr.write("fdleak: %s\n" % e)
        sys.stderr.write("usage: fdleak [options] [--] command [args...]  "
                         "(fdleak --help for more)\n")
        return launcher.EXIT_USAGE
    if pid is not None:
        return launcher.ask_running(pid)
    return launcher.run(place, settings, command)


def main(argv=None, script_dir=None, libdir=None, version=None, pyhookdir=None):
    """fdleak ARGV (default sys.argv[1:]). scripts/fdleak passes its own directory and the values
    meson configured into it; `python3 -m fdleak` runs as from the checkout or build directory
    the package is in. Returns the exit status (the run mode execs, and returns only when that
    fails)."""
    argv = sys.argv[1:] if argv is None else argv
    # Only as the very first word: `fdleak -- report` runs a program called report.
    if argv and argv[0] in TOOL_COMMANDS:
        return tools_main(argv)
    from .launcher import Place

    if script_dir is None:   # <scripts>/python/fdleak/cli.py
        script_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return run_main(Place(script_dir, libdir, version, pyhookdir), argv)
