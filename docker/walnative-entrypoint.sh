#!/bin/sh
# Entry point of Dockerfile.walg, started by tini (PID 1). Turns WAL archiving on with the runbook's
# archive_command, then hands over to the base image's docker-entrypoint.sh (initdb on an empty volume,
# POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB, the switch to the postgres user).
# The settings are appended to the server's command line, after the ones it was given: a compose file's
# own `command:` keeps every other setting, and a later -c wins over postgresql.conf. Set
# WALNATIVE_ARCHIVING=off to leave archiving to your own configuration.
set -e
case ${1:-} in -*) set -- postgres "$@" ;; esac
if [ "${1:-}" = postgres ] && [ "${WALNATIVE_ARCHIVING:-on}" != off ]; then
  set -- "$@" -c archive_mode=on -c "archive_command=${WALNATIVE_ARCHIVE_COMMAND:-/usr/local/bin/wal-archive.sh %p %f}"
  if [ -n "${ARCHIVE_TIMEOUT:-}" ]; then set -- "$@" -c "archive_timeout=$ARCHIVE_TIMEOUT"; fi
fi
exec docker-entrypoint.sh "$@"
