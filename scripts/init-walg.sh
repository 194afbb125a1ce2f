#!/bin/sh
# The runbook's init-walg.sh: validate the configuration, prepare the bucket (create, versioning,
# lifecycle) or directory, and prove access. All the work is in `wal-native init`; see --help.
set -eu
here=$(dirname "$(readlink -f "$0")")
if [ -n "${WAL_NATIVE:-}" ]; then tool=$WAL_NATIVE
elif [ -x "$here/../bin/wal-native" ]; then tool=$here/../bin/wal-native
else tool=wal-native
fi
exec "$tool" init "$@"
