#!/bin/sh
# build-ca COMMAND...: runs COMMAND trusting, besides the system's CA bundle, the certificates in
# /tmp/build-ca/*.crt (docker/build-ca/ of the build context), for npm (Node) and curl alike.
set -eu
set -- /tmp/build-ca/*.crt "$@"
extras=
while [ $# -gt 0 ] && [ "${1%.crt}" != "$1" ]; do
  [ -f "$1" ] && extras="$extras $1"
  shift
done
if [ -n "$extras" ]; then
  # shellcheck disable=SC2086 # one word per file
  cat /etc/ssl/certs/ca-certificates.crt $extras >/tmp/build-ca.pem 2>/dev/null || cat $extras >/tmp/build-ca.pem
  export NODE_EXTRA_CA_CERTS=/tmp/build-ca.pem CURL_CA_BUNDLE=/tmp/build-ca.pem
fi
exec "$@"
