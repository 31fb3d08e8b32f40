# Sourced first by scripts/fetchml-keys.sh, scripts/build.sh and scripts/tool.sh, from their own
# directory (`. "${0%/*}/env.sh"`: a path, so `.` does not search PATH). Sets $root to the
# checkout and goes there, from $0 and with shell builtins only: `npm run` puts every parent
# directory's node_modules/.bin first on PATH, and nothing may be looked up there (a planted
# `dirname` ran as root). Everything they start (npm ci, tsc, vitest, the runner, the engine,
# its plugins and steps) inherits this environment, and nothing in it may come from a place
# another account can write:
# - Node's compile cache stays off: npm, tsc, eslint and prettier turn it on in
#   $TMPDIR/node-compile-cache, a name another account can take first in a shared /tmp and fill
#   with compiled code Node loads without checking who wrote it (reproduced as uid 65534: root's
#   `npm --version` ran the planted code).
# - PATH holds this checkout's node_modules/.bin and no other (`npm run` puts the .bin of every
#   parent directory first, and a planted `<parent>/node_modules/.bin/id`, or npm, node, unshare,
#   would run as whoever runs this), and only directories no other account can add a program to
#   (scripts/path.sh).
case $0 in /*) root=${0%/*}/.. ;; */*) root=./${0%/*}/.. ;; *) root=.. ;; esac
root=$(CDPATH="" cd "$root" && pwd)
cd "$root"
# Where the command was started (cd just left it; `npm run keys` went to the checkout before
# and keeps it in INIT_CWD, which every process under any npm script inherits, so only that
# script's is taken): a file a command names by a relative path (user handover --out) is made
# there, never in the checkout, where it would be one `git add .` from a commit.
if [ "${npm_lifecycle_event-}" = keys ] && [ -n "${INIT_CWD-}" ]; then FETCHML_KEYS_CALLER_DIR=$INIT_CWD; else FETCHML_KEYS_CALLER_DIR=$OLDPWD; fi
export FETCHML_KEYS_CALLER_DIR
NODE_DISABLE_COMPILE_CACHE=1
export NODE_DISABLE_COMPILE_CACHE
. "$root/scripts/path.sh"
