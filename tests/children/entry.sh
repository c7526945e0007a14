#!/bin/sh
# A container entrypoint that runs the program as a child, without exec.
echo "starting at $(date +%s)"
"$FDLEAK_TEST_PY" "$(dirname "$0")/app.py" "$@"
echo "done"
