#!/bin/sh
# Runs one of this checkout's own tools for `npm run typecheck|lint|format|bw` with the
# environment of scripts/env.sh: `npm run` puts every parent directory's node_modules/.bin
# first on PATH, where another account may have planted a `tsc` or a `node`.
set -eu
case $0 in */*) . "${0%/*}/env.sh" ;; *) . ./env.sh ;; esac
exec "$@"
