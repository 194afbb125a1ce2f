#!/bin/sh
# apt-ensure PACKAGE...: installs those of the Debian packages that are not installed yet. When the base
# image has them all, nothing is fetched (no package mirror needed).
set -eu
missing=
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
apt-get update -qq
# shellcheck disable=SC2086 # one word per package
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
rm -rf /var/lib/apt/lists/*
