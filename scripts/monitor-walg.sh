#!/bin/sh
# The runbook's monitor-walg.sh, for cron (*/30 * * * *): runs `wal-native check` once (arguments are
# passed on, e.g. --switch or --max-backup-age 24h). On a warning or critical result the report is piped
# into $ALERT_COMMAND when set (e.g. ALERT_COMMAND='mail -s "WAL archive alert" admin@example.com').
# With $PROMETHEUS_TEXTFILE set, the same run also writes the metrics there for node_exporter's textfile
# collector. Exits with check's code: 0 ok, 1 warning, 2 critical.
set -u
here=$(dirname "$(readlink -f "$0")")
if [ -n "${WAL_NATIVE:-}" ]; then tool=$WAL_NATIVE
elif [ -x "$here/../bin/wal-native" ]; then tool=$here/../bin/wal-native
else tool=wal-native
fi

if [ -n "${PROMETHEUS_TEXTFILE:-}" ]; then
  report=$("$tool" check --textfile "$PROMETHEUS_TEXTFILE" "$@" 2>&1)
else
  report=$("$tool" check "$@" 2>&1)
fi
code=$?
printf '%s\n' "$report"
if [ "$code" -ne 0 ] && [ -n "${ALERT_COMMAND:-}" ]; then
  printf '%s\n' "$report" | sh -c "$ALERT_COMMAND" || echo "monitor-walg.sh: ALERT_COMMAND failed" >&2
fi
exit "$code"
