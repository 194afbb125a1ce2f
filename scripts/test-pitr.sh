#!/bin/sh
# The runbook's quarterly point-in-time test: test-pitr.sh "2024-01-01 00:00:00+00" [options].
# Restores the newest backup that finished before that time, replays WAL up to it in a temporary
# cluster, checks and times it, then removes it. Options go to `wal-native drill pitr`.
set -eu
if [ $# -lt 1 ] || [ -z "$1" ]; then
  echo "usage: test-pitr.sh \"<target time, e.g. 2024-01-01 00:00:00+00>\" [wal-native drill options]" >&2
  exit 64
fi
target=$1
shift
here=$(dirname "$(readlink -f "$0")")
if [ -n "${WAL_NATIVE:-}" ]; then tool=$WAL_NATIVE
elif [ -x "$here/../bin/wal-native" ]; then tool=$here/../bin/wal-native
else tool=wal-native
fi
exec "$tool" drill pitr --target-time "$target" "$@"
