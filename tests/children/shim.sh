#!/bin/bash
# A shell-script shim in the manner of pyenv's: it works out which interpreter to run with
# command substitutions (non-shell utilities, a helper script), then execs it.
set -e
here="$(cd "$(dirname "$0")" && pwd)"
name="$(basename "$0")"
version="$("$here/helper.sh" version)"
target="$(readlink -f "$FDLEAK_TEST_PY")"
"$here/helper.sh" check >/dev/null
[ -n "$version" ] && [ -n "$name" ]
exec "$target" "$@"
