#!/usr/bin/env bash
# The one test command (npm test): tools, dependencies, build, type check, then every vitest project.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-test-tools.sh

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

npm run build
npx tsc --noEmit
# The import rules of src/ (.dependency-cruiser.cjs): fails on a wing importing the other, the foundation importing upward, ...
npm run boundaries

# Last, so vitest's summary ends the output; its exit code is ours.
set +e
npx vitest run "$@"
exit $?
