"""The FDLEAK_* settings as src/settings.def declares them: the one table the library's parser,
the launcher's options and --help, and the documentation's option table all come from.

settings.def is read, not imported: it is C (an X-macro list), written so that each entry is a
call of string literals and plain numbers. The installed package carries a copy next to this
file; a source checkout reads src/settings.def itself."""

import os
import re
import signal

KINDS = ("INT", "SECONDS", "CHOICE", "PATH", "PATHS", "SIGNAL", "THRESHOLD", "PATTERN")
PATH_MAX = 1024  # FDL_PATH_MAX in config.h: paths are shorter than this


class Setting:
    """One entry of settings.def (see the column list at its top)."""

    FIELDS = ("name", "ctype", "field", "kind", "lo", "hi", "words", "default", "off",
              "off_said", "option", "option_sets", "metavar", "help")

    def __init__(self, values):
        for key, value in zip(self.FIELDS, values):
            setattr(self, key, value)
        self.var = "FDLEAK_" + self.name
        # "-o, --output" → short "-o", long "--output"
        names = [n.strip() for n in self.option.split(",") if n.strip()]
        self.long = next((n for n in names if n.startswith("--")), None)
        self.short = next((n for n in names if not n.startswith("--")), None)
        self.choices = self.words.split("|") if self.kind in ("CHOICE", "PATTERN") else []
        self.off_word = self.words if self.kind not in ("CHOICE", "PATTERN") and self.words else None

    @property
    def is_flag(self):
        """An option that takes no value: it sets option_sets."""
        return bool(self.option_sets)

    def default_said(self):
        """The default as help and complaints name it."""
        return self.default if self.default else self.off_said

    def accepted(self):
        """What the variable accepts, as the library's complaint line says it."""
        k = self.kind
        off = ", or %s" % self.off_word if self.off_word else ""
        if k == "INT":
            return "an integer from %s to %s%s" % (number(self.lo), number(self.hi), off)
        if k == "SECONDS":
            return "seconds, from %s to %s%s" % (number(self.lo), number(self.hi), off)
        if k == "CHOICE":
            return ", ".join(self.choices)
        if k == "PATH":
            return "a path shorter than %d bytes%s" % (PATH_MAX, off)
        if k == "PATHS":
            return "files, colon-separated, shorter than %d bytes in all" % PATH_MAX
        if k == "SIGNAL":
            return ("a signal name such as USR1 or SIGUSR2, a number from %s to %s (not %s), or %s"
                    % (number(self.lo), number(self.hi), ", ".join(UNUSABLE_SIGNALS), self.off_word))
        if k == "THRESHOLD":
            return ("a descriptor count, a percentage of the soft limit such as 80%%, or %s"
                    % self.off_word)
        if k == "PATTERN":
            return ("%s, or a glob of the executable's path or name shorter than %d bytes"
                    % (", ".join(self.choices), PATH_MAX))
        raise AssertionError(k)

    def check(self, value):
        """None when the library accepts value for this setting, else what is accepted.
        The same rules as config.c, kind by kind; the ranges and words come from the table."""
        ok = value == self.off_word if self.off_word else False
        k = self.kind
        if ok:
            pass
        elif k == "INT":
            ok = re.fullmatch(r"-?[0-9]+", value) is not None and self.lo <= int(value) <= self.hi
        elif k == "SECONDS":
            d = seconds(value)
            ok = d is not None and self.lo <= d <= self.hi
        elif k == "CHOICE":
            ok = value in self.choices
        elif k == "PATH":
            ok = value != "" and len(value.encode()) < PATH_MAX
        elif k in ("PATHS", "PATTERN"):
            ok = value != "" and len(value.encode()) < PATH_MAX
        elif k == "SIGNAL":
            ok = signal_number(value, self.lo, self.hi) is not None
        elif k == "THRESHOLD":
            m = re.fullmatch(r"([0-9]+)%", value)
            if m:
                ok = 1 <= int(m.group(1)) <= 100
            else:
                ok = re.fullmatch(r"[0-9]+", value) is not None and self.lo <= int(value) <= self.hi
        return None if ok else self.accepted()


def number(x):
    """A table number as the table writes it: 256, 0.01, 0.000001, 31536000."""
    if isinstance(x, int) or float(x).is_integer():
        return "%d" % x
    return ("%.6f" % x).rstrip("0")


def seconds(value):
    """A plain decimal number (what the library's strtod accepts, minus signs, nan, inf, hex),
    or None."""
    if not re.fullmatch(r"[0-9]*\.?[0-9]+(e[-+]?[0-9]+)?|[0-9]+\.", value, re.I):
        return None
    return float(value)


def signal_number(value, lo=1, hi=64):
    """The signal a name (USR1, SIGUSR1) or number means, or None when the library would refuse
    it."""
    if value.isdigit():
        n = int(value)
        if not lo <= n <= hi:
            return None
    else:
        name = value[3:] if value.startswith("SIG") else value
        n = getattr(signal, "SIG" + name, None)
        # the library knows signals 1..31 by their main names only (ABRT, not IOT)
        if not isinstance(n, signal.Signals) or n >= 32 or n.name != "SIG" + name:
            return None
        n = int(n)
    unusable = {int(getattr(signal, "SIG" + s)) for s in UNUSABLE_SIGNALS}
    return None if n in unusable else n


# ---------------------------------------------------------------- reading settings.def

_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|(-?[0-9][0-9.e+-]*)|([A-Za-z_][A-Za-z_0-9 ]*))\s*')


def _literal(text):
    """A C string literal's contents (only the escapes settings.def uses)."""
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def _arguments(text):
    """The comma-separated arguments of one macro call: strings, numbers, bare words."""
    out, pos = [], 0
    while True:
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos and pos < len(text):
            raise ValueError("cannot read %r" % text[pos:pos + 40])
        s, num, word = m.groups()
        if s is not None:
            parts = [s]
            pos = m.end()
            while pos < len(text) and text[pos] == '"':  # adjacent literals join
                m = _TOKEN.match(text, pos)
                parts.append(m.group(1))
                pos = m.end()
            out.append(_literal("".join(parts)))
        else:
            if num is not None:
                out.append(float(num) if any(c in num for c in ".e") else int(num))
            else:
                out.append(word.strip())
            pos = m.end()
        if pos >= len(text):
            return out
        if text[pos] != ",":
            raise ValueError("expected ',' at %r" % text[pos:pos + 40])
        pos += 1


def _calls(source, macro):
    """The argument texts of every `macro(...)` call outside comments."""
    source = re.sub(r"/\*.*?\*/", " ", source, flags=re.S)
    out = []
    for m in re.finditer(r"\b%s\s*\(" % macro, source):
        depth, i, quoted = 1, m.end(), False
        while depth:
            c = source[i]
            if quoted:
                if c == "\\":
                    i += 1
                elif c == '"':
                    quoted = False
            elif c == '"':
                quoted = True
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            i += 1
        out.append(source[m.end():i - 1])
    return out


def definition_path():
    here = os.path.dirname(os.path.abspath(__file__))
    for path in (os.path.join(here, "settings.def"),
                 os.path.join(here, "..", "..", "..", "src", "settings.def")):
        if os.path.isfile(path):
            return os.path.normpath(path)
    raise FileNotFoundError("settings.def not found next to %s or in the source tree" % here)


def load(path=None):
    """(settings in table order, unusable signal names)."""
    with open(path or definition_path(), encoding="utf-8") as f:
        source = f.read()
    settings = []
    for call in _calls(source, "FDL_SETTING"):
        args = _arguments(call)
        if len(args) != len(Setting.FIELDS):
            raise ValueError("FDL_SETTING with %d arguments, expected %d: %s"
                             % (len(args), len(Setting.FIELDS), call[:60]))
        s = Setting(args)
        if s.kind not in KINDS:
            raise ValueError("%s: unknown kind %s" % (s.var, s.kind))
        settings.append(s)
    unusable = [w for call in _calls(source, "FDL_UNUSABLE_SIGNALS") for w in _arguments(call)[0].split()]
    return settings, unusable


SETTINGS, UNUSABLE_SIGNALS = load()
BY_VAR = {s.var: s for s in SETTINGS}
