#!/bin/sh
# Entry point behind `npm run up|preview|...` and `npm test`: installs what is missing on a
# fresh clone (npm dependencies, which include Node 22; for `test`, the Debian packages the
# tests use), builds the product into dist/ when that is missing or older than any source
# (scripts/build.sh), then runs the runner or vitest with the project's Node 22 first on PATH.
# The runner runs inside scripts/isolated.sh. The engine is provided by the runner itself (scripts/ensure-engine.sh), and by the tests'
# global setup.
set -eu
# First, and before anything is looked up on PATH: the checkout, and a clean environment.
case $0 in */*) . "${0%/*}/env.sh" ;; *) . ./env.sh ;; esac
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
# A Node 22 either from the npm `node` package (installed by `npm ci`) or already on PATH
# (CI's setup-node, with `npm ci --ignore-scripts`).
have_node22() {
  [ -x node_modules/.bin/node ] && [ "$(node_major node_modules/.bin/node)" -ge 22 ] && return 0
  command -v node >/dev/null 2>&1 && [ "$(node_major node)" -ge 22 ]
}
if [ ! -x node_modules/.bin/tsc ] || [ package-lock.json -nt node_modules/.package-lock.json ] || ! have_node22; then
  # npm runs install scripts (the `node` package's own runs `node`) with every parent
  # directory's node_modules/.bin first on PATH, and nothing here can clean that PATH: under a
  # directory another account can write (a clone in /tmp), it could plant the `node` that runs.
  parent=$(pwd -P)
  while [ "$parent" != / ]; do
    parent=${parent%/*}
    parent=${parent:-/}
    case $(stat -L -c %A -- "$parent") in
      ?????w???? | ????????w?)
        echo "fetchml-keys: not installing: $parent, a parent directory of this checkout, can be written by other accounts ($(stat -L -c '%A %U:%G' -- "$parent")), and npm would run install scripts with $parent/node_modules/.bin first on PATH. Clone fetchml-keys into a directory that only you (or root) can write, with parents likewise, e.g. ~/fetchml-keys or /opt/fetchml-keys, and run it there" >&2
        exit 1
        ;;
    esac
  done
  echo "fetchml-keys: installing npm dependencies (npm ci; includes Node 22)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
# What runs is JavaScript built from the tree (nothing compiles TypeScript at run time): build
# it when dist/ is missing or any source changed since (build/current.ts decides).
node dist/build/current.js 2>/dev/null || sh scripts/build.sh --if-stale
case "${1:-}" in
  test)
    shift
    sh scripts/system-deps.sh
    exec vitest run "$@"
    ;;
  bench)
    shift
    exec node dist/scripts/bench.js "$@"
    ;;
esac
# The runner runs isolated: its ports reachable by no other local account, and nothing it
# started left running when it ends or is killed (scripts/isolated.sh).
# What the run creates (the file backend's state and its backups, the demo's files) is for
# this account alone: Pulumi writes state 0644, where another account could try the
# passphrase offline against the secrets in it.
umask 077
exec sh scripts/isolated.sh node --require ./dist/build/guard.js dist/cli/main.js "$@"
