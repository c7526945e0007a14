"""The launcher's run mode (fdleak [options] command) once its options are parsed (cli.py): find
libfdleak.so, preload it with the Python start-up hook on PYTHONPATH, and exec the command, which
keeps the launcher's pid and hands its exit status (or the signal that killed it) to the caller.
Also --pid: ask a running process for a report and print where it went."""

import os
import re
import signal
import sys
import time

from . import settings

LIBRARY_NAME = "libfdleak.so"

# Exit statuses of the launcher itself (the command's own status passes through unchanged).
# 126/127 follow env(1) and the shell.
EXIT_USAGE = 2
EXIT_SETUP = 125          # library not found or could not be built
EXIT_CANNOT_RUN = 126     # command found but could not be executed
EXIT_NOT_FOUND = 127      # command not found


def prog_error(message, status):
    sys.stderr.write("fdleak: %s\n" % message)
    sys.exit(status)


def configured(value):
    """VALUE, or None while it is still a literal configure_file placeholder (a checkout)."""
    return None if value is None or (value.startswith("@") and value.endswith("@")) else value


class Place:
    """Where the launcher runs from: SCRIPT_DIR is the directory of scripts/fdleak (a checkout),
    build/scripts/fdleak (a build directory) or <bindir>/fdleak (installed); the other values are
    what meson configured into the installed copy (None in a checkout)."""

    def __init__(self, script_dir, libdir=None, version=None, pyhookdir=None):
        self.script_dir = script_dir
        self.libdir = configured(libdir)
        self.configured_version = configured(version)
        self.pyhookdir = configured(pyhookdir)

    def checkout_root(self):
        """The source tree this launcher belongs to, or None (installed copy)."""
        root = os.path.dirname(self.script_dir)
        if os.path.isfile(os.path.join(root, "meson.build")) and \
                os.path.isdir(os.path.join(root, "src")):
            return root
        return None

    def version(self):
        if self.configured_version:
            return self.configured_version
        root = self.checkout_root()
        if root is not None:
            try:
                with open(os.path.join(root, "meson.build"), encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                text = ""
            start = text.find("project(")
            if start >= 0:
                m = re.search(r"\bversion\s*:\s*'([^']*)'", text[start:])
                if m:
                    return m.group(1)
        return "unknown"

    def find_library(self):
        override = os.environ.get("FDLEAK_LIBRARY", "")
        if override:
            if not os.path.isfile(override):
                prog_error("FDLEAK_LIBRARY=%s: no such file" % override, EXIT_SETUP)
            return os.path.abspath(override)

        here = self.script_dir
        if self.libdir:
            # The configured copy in a meson build directory (build/scripts/fdleak) uses the
            # library built next to it, not an older installed one.
            if os.path.isdir(os.path.join(here, "..", "meson-private")):
                built = os.path.normpath(os.path.join(here, "..", "src", LIBRARY_NAME))
                if os.path.isfile(built):
                    return built
            installed = os.path.join(self.libdir, LIBRARY_NAME)
            if os.path.isfile(installed):
                return installed
            if self.checkout_root() is None:
                prog_error("%s not found (was fdleak installed completely? "
                           "set FDLEAK_LIBRARY to the library's path)" % installed, EXIT_SETUP)

        root = self.checkout_root()
        if root is None:
            prog_error("cannot find %s: set FDLEAK_LIBRARY to its path" % LIBRARY_NAME,
                       EXIT_SETUP)
        library = os.path.join(root, "build", "src", LIBRARY_NAME)
        if not os.path.isfile(library):
            build_in_checkout(root, library)
        return library

    def python_hook_dir(self):
        """Where sitecustomize.py (the Python start-up hook) is: next to the launcher in a
        checkout or a build directory, else where it was installed, else beside this package
        (an installation run from elsewhere, e.g. under a DESTDIR); None if nowhere."""
        candidates = [os.path.join(self.script_dir, "python")]
        if self.pyhookdir:
            candidates.append(self.pyhookdir)
        candidates.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        for d in candidates:
            if os.path.isfile(os.path.join(d, "sitecustomize.py")):
                return d
        return None


def build_in_checkout(root, library):
    """A developer's convenience, only ever reached in a source checkout (an installed launcher
    has its library or says so): build libfdleak.so in <root>/build; all output goes to
    stderr."""
    import subprocess   # here: only this checkout-only path needs it, and it is slow to import

    build = os.path.join(root, "build")
    for tool in ("meson", "ninja"):
        if not any(os.access(os.path.join(d, tool), os.X_OK)
                   for d in os.environ.get("PATH", "").split(os.pathsep) if d):
            prog_error("%s not found: run scripts/bootstrap to install the "
                       "build dependencies" % tool, EXIT_SETUP)
    sys.stderr.write("fdleak: %s is missing, building it\n" % library)
    sys.stderr.flush()
    steps = []
    if not os.path.isfile(os.path.join(build, "build.ninja")):
        if os.path.isfile(os.path.join(build, "meson-private", "coredata.dat")):
            steps.append(["meson", "setup", "--reconfigure", build])
        else:
            steps.append(["meson", "setup", build])
    target = os.path.relpath(library, build)
    steps.append(["ninja", "-C", build, target])
    for step in steps:
        status = subprocess.call(step, cwd=root, stdin=subprocess.DEVNULL,
                                 stdout=sys.stderr.fileno())
        if status != 0:
            prog_error("build failed: '%s' exited with status %d"
                       % (" ".join(step), status), EXIT_SETUP)
    if not os.path.isfile(library):
        prog_error("the build did not produce %s" % library, EXIT_SETUP)


def preload_value(library, existing):
    """Our library first, then whatever was preloaded already (ld.so accepts spaces and colons
    as separators)."""
    others = [p for p in re.split(r"[ :]+", existing or "") if p and p != library]
    return ":".join([library] + others)


def run(place, settings, command):
    """Exec COMMAND with the library preloaded and SETTINGS (FDLEAK_* values from the options)
    added to the environment; returns only on failure, through prog_error."""
    output = settings.get("FDLEAK_OUTPUT")
    if output is not None and output != "-":
        # the program may chdir before it exits: pin relative paths now
        settings["FDLEAK_OUTPUT"] = os.path.abspath(output)
    if settings.get("FDLEAK_METRICS"):
        settings["FDLEAK_METRICS"] = os.path.abspath(settings["FDLEAK_METRICS"])

    library = place.find_library()

    env = dict(os.environ)
    env.update(settings)
    env["LD_PRELOAD"] = preload_value(library, env.get("LD_PRELOAD"))
    # Python programs: the start-up hook that follows asyncio tasks to their creators and loads
    # the pytest plugin into pytest (PYTEST_PLUGINS). It takes itself off sys.path and runs the
    # sitecustomize it shadows.
    hook = place.python_hook_dir()
    # The program's own PYTHONPATH is kept exactly (an empty entry means the current directory).
    path = env.get("PYTHONPATH", "")
    if hook and path.split(os.pathsep)[0] != hook:
        env["PYTHONPATH"] = hook + os.pathsep + path if path else hook

    # Python ignores SIGPIPE and SIGXFSZ; ignored signals survive exec, so give the command the
    # default dispositions a shell would.
    for name in ("SIGPIPE", "SIGXFSZ"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)

    sys.stdout.flush()
    sys.stderr.flush()
    # exec: the command keeps our pid and its exit status (or the signal that killed it)
    # reaches our parent unchanged.
    try:
        os.execvpe(command[0], command, env)
    except FileNotFoundError:
        prog_error("%s: command not found" % command[0], EXIT_NOT_FOUND)
    except OSError as e:
        prog_error("cannot run %s: %s" % (command[0], e.strerror), EXIT_CANNOT_RUN)


# ---------------------------------------------------------------- --pid

def report_name_pattern(output, pid):
    """A regex for the names under which process PID writes its reports with FDLEAK_OUTPUT set
    to OUTPUT (absolute). It mirrors expand_path() in src/report.c, the rule the library names
    its files by: %p is the pid, %n the report number, %% a percent sign; without %n, the
    second and later reports get ".N" before the extension. Any number matches %n and .N."""
    pattern = re.escape(output).replace("%%", "\0")
    pattern = pattern.replace("%p", str(pid)).replace("%n", r"\d+").replace("\0", "%")
    base, dot, ext = pattern.rpartition(r"\.")
    if dot and "/" not in ext:
        pattern = r"(?:%s|%s\.\d+\.%s)" % (pattern, base, ext)
    else:
        pattern = r"(?:%s|%s\.\d+)" % (pattern, pattern)
    return re.compile(pattern + r"\Z")


def ask_running(pid):
    """Sends PID its report signal and prints where the report went."""
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            environ = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item)
    except OSError as e:
        prog_error("cannot read the environment of process %d: %s" % (pid, e.strerror), 1)
    env = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in environ.items()}
    if LIBRARY_NAME not in env.get("LD_PRELOAD", ""):
        prog_error("process %d does not run under fdleak (no %s in its LD_PRELOAD)"
                   % (pid, LIBRARY_NAME), 1)
    setting = settings.BY_VAR["FDLEAK_SIGNAL"]
    sig_value = env.get(setting.var, "")
    if sig_value == setting.off_word:
        prog_error("process %d has signal reports off (%s=%s)" % (pid, setting.var, sig_value), 1)
    # unset, or a value the library refused (and said so): it uses the default
    signum = (sig_value and settings.signal_number(sig_value)) or settings.signal_number(setting.default)
    output = env.get("FDLEAK_OUTPUT", "")
    regex = None
    if output and output != "-":
        if not output.startswith("/"):
            try:
                output = os.path.join(os.readlink("/proc/%d/cwd" % pid), output)
            except OSError:
                pass
        regex = report_name_pattern(output, pid)
    before = time.time()
    try:
        os.kill(pid, signum)
    except OSError as e:
        prog_error("cannot signal process %d: %s" % (pid, e.strerror), 1)
    if regex is None:
        print("fdleak: asked process %d for a report; it goes to that process's stderr" % pid)
        return 0
    directory = os.path.dirname(output) or "."
    deadline = before + 10
    while time.time() < deadline:
        newest = None
        try:
            names = os.listdir(directory)
        except OSError:
            names = []
        for name in names:
            path = os.path.join(directory, name)
            if regex.match(path):
                try:
                    mtime = os.stat(path).st_mtime
                except OSError:
                    continue
                if mtime >= before - 0.05 and (newest is None or mtime > newest[0]):
                    newest = (mtime, path)
        if newest:
            print(newest[1])
            return 0
        time.sleep(0.05)
    prog_error("asked process %d for a report, but none appeared in %s within 10 s"
               % (pid, directory), 1)
