#!/bin/sh
# The runbook's quarterly disaster-recovery drill: as after a complete site failure, list the
# backups in storage and restore the newest to the end of the archive with no local state (no
# local WAL archive), check it, and report the recovery time. Options go to `wal-native drill dr`.
set -eu
here=$(dirname "$(readlink -f "$0")")
if [ -n "${WAL_NATIVE:-}" ]; then tool=$WAL_NATIVE
elif [ -x "$here/../bin/wal-native" ]; then tool=$here/../bin/wal-native
else tool=wal-native
fi
exec "$tool" drill dr "$@"
