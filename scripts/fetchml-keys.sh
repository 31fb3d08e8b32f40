#!/bin/sh
# Entry point behind `npm run up|preview|...` and `npm test`: installs what is missing on a
# fresh clone (npm dependencies, which include Node 22), then runs the runner or vitest
# with the project's Node 22 first on PATH. The engine is provided by the runner itself
# (scripts/ensure-engine.sh), and by the tests' global setup.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ ! -x node_modules/.bin/tsx ] || [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "fetchml-keys: installing npm dependencies (npm ci; includes Node 22)" >&2
  npm ci --no-audit --no-fund >&2
fi
PATH="$root/node_modules/.bin:$PATH"
export PATH
if [ "${1:-}" = "test" ]; then
  shift
  exec vitest run "$@"
fi
if [ "${1:-}" = "bench" ]; then
  shift
  exec tsx scripts/bench.ts "$@"
fi
exec tsx cli/main.ts "$@"
