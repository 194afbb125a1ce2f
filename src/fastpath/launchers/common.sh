# --- shared by both launchers (rendered into each by scripts/build.mjs) ---
# Only builtins on the common path, and nothing of ours on stderr: PostgreSQL puts that into its log.
node=${WALNATIVE_NODE:-@@NODE@@}

# A "<pid> <boot id> <start time>" line (pid files, claims) names a live process of this boot that started at
# that time (field 22 of /proc/<pid>/stat); a reused pid, a zombie, a torn or odd line never does.
alive() {
  set -f
  set -- $1
  set +f
  case $1 in '' | *[!0-9]* | 0 | 1) return 1 ;; esac
  [ -n "$boot_id" ] || { IFS= read -r boot_id </proc/sys/kernel/random/boot_id; } 2>/dev/null
  [ -n "$boot_id" ] && [ "$2" = "$boot_id" ] && [ -n "$3" ] || return 1
  alive_start=$3
  alive_stat=
  { IFS= read -r alive_stat <"/proc/$1/stat"; } 2>/dev/null
  set -f
  set -- ${alive_stat##*) }
  set +f
  [ "$#" -ge 20 ] && [ "$1" != Z ] || return 1
  shift 19
  [ "$1" = "$alive_start" ]
}

# One poll of a wait loop; where sleep takes no fraction, the wait ends at once and Node takes over.
nap() {
  sleep "$1" 2>/dev/null
}

# The line goes to the log file only (never to stderr); an unwritable log is ignored.
say() { # $1 log file ("" or off: none), $2 message
  case $1 in '' | off) return 0 ;; esac
  { printf '%s [%s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$$" "$2" >>"$1"; } 2>/dev/null
  return 0
}

# The install directory, also through a symlink (a fork, only when there is one).
here() {
  self=$0
  [ -L "$self" ] && self=$(readlink -f "$self")
  case $self in */*) here=${self%/*} ;; *) here=. ;; esac
}
