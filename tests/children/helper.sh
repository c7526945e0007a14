#!/bin/sh
# shim.sh's helper, run in a command substitution and as a plain command.
case "$1" in
  version) cat /etc/hostname >/dev/null; echo "3.x" ;;
  check) test -r /etc/hostname && echo ok ;;
esac
