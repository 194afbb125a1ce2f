#!/bin/sh
# The runbook's monthly test restore: the newest backup plus all archived WAL into a temporary
# cluster on another port, checked with pg_amcheck and a query, timed, then removed.
# Options are passed to `wal-native drill restore` (see its --help), e.g. --query/--expect.
set -eu
here=$(dirname "$(readlink -f "$0")")
if [ -n "${WAL_NATIVE:-}" ]; then tool=$WAL_NATIVE
elif [ -x "$here/../bin/wal-native" ]; then tool=$here/../bin/wal-native
else tool=wal-native
fi
exec "$tool" drill restore "$@"
