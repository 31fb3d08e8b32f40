#!/bin/sh
# Builds the product once into dist/ (git-ignored): tsc with tsconfig.build.json, then the stamp
# of the sources it compiled (build/current.ts), which every entry point checks before it runs.
# Run by `npm ci`/`npm install` (the `prepare` script), `npm run build`, and
# scripts/fetchml-keys.sh when the build is missing or older than the sources.
#
# The output is built beside dist/ in the checkout (never in /tmp) and swapped in whole; files
# are created with this umask less group and other write (as the sources are), so nobody who
# cannot change the sources can change what runs.
set -eu
# First, and before anything is looked up on PATH: the checkout, and a clean environment.
case $0 in */*) . "${0%/*}/env.sh" ;; *) . ./env.sh ;; esac
umask "$(printf '%04o' $(($(umask) | 022)))"
tsc=node_modules/.bin/tsc
# The project's Node 22 (npm's `node` package); under `npm ci --ignore-scripts` (CI) that one is
# not set up, and the Node on PATH (setup-node) is used.
node=node_modules/.bin/node
"$node" -e 0 2>/dev/null || node=node
[ -x "$tsc" ] || {
  echo "fetchml-keys: build: TypeScript is not installed (run npm ci)" >&2
  exit 1
}
# One build at a time in this checkout: a second waits, then finds the build current.
if command -v flock >/dev/null 2>&1; then
  exec 9<tsconfig.build.json
  flock 9
fi
if [ "${1:-}" = --if-stale ] && [ -f dist/build/current.js ] && "$node" dist/build/current.js 2>/dev/null; then
  exit 0
fi
out=dist.new.$$
trap 'rm -rf "$out" "$out.old"' EXIT
rm -rf "$out"
# tsc prints its diagnostics and the --listFiles list on stdout (Node's compile cache, which
# TypeScript >= 5.7 turns on, is off: scripts/env.sh).
if ! listed=$("$tsc" -p tsconfig.build.json --outDir "$out" --listFiles); then
  printf '%s\n' "$listed" | grep -v '^/' >&2 || :
  echo "fetchml-keys: build failed (tsc -p tsconfig.build.json)" >&2
  exit 1
fi
printf '%s\n' "$listed" | "$node" "$out/build/current.js" --stamp "$out"
[ ! -e dist ] || mv dist "$out.old"
mv "$out" dist
echo "fetchml-keys: built dist/" >&2
