# Sourced by scripts/env.sh, scripts/ensure-engine.sh and bin/fetchml-keys-isolated with $root
# set to the checkout: PATH becomes this checkout's node_modules/.bin, then only the caller's
# directories no other account can add a program to (fetchml_keys_trusted). What runs after it
# is started by name (sh, node, npm, unshare, pasta, the engine ensure-engine.sh finds, a reload
# command's words), perhaps as root. `npm run` puts every parent directory's node_modules/.bin
# first; those are left out silently, as are directories not there; any other left out is said,
# with why. Only builtins and /usr/bin/stat, /usr/bin/id by their paths. (The program checks
# PATH again where it starts programs by name: lib/safePath.ts searchPathProblems.)

# fetchml_keys_trusted PATH: succeeds when no account but root, this user or a system account
# (uid < 1000, not nobody) can change what PATH holds: PATH (a file or a directory, links
# resolved) and every directory above it are theirs, and none is writable by its group or
# others, but for a sticky one above (such as /tmp) whose entry on the way is theirs.
# Otherwise prints why and fails. Only builtins and /usr/bin/stat, by its path.
fetchml_keys_trusted() {
  if [ -d "$1" ]; then
    fetchml_keys_at=$(CDPATH="" cd -P -- "$1" 2>/dev/null && pwd -P) || {
      echo "$1 cannot be searched"
      return 1
    }
  else
    fetchml_keys_at=$(CDPATH="" cd -P -- "${1%/*}/" 2>/dev/null && pwd -P) || {
      echo "${1%/*} cannot be searched"
      return 1
    }
    fetchml_keys_at=${fetchml_keys_at%/}/${1##*/}
  fi
  fetchml_keys_first=1
  while :; do
    fetchml_keys_stat=$(/usr/bin/stat -L -c '%u %a' -- "$fetchml_keys_at" 2>/dev/null) || {
      echo "$fetchml_keys_at cannot be read"
      return 1
    }
    fetchml_keys_owner=${fetchml_keys_stat% *}
    fetchml_keys_mode=${fetchml_keys_stat#* }
    case $fetchml_keys_owner in
      0 | "$fetchml_keys_uid" | "$fetchml_keys_hidden") ;;
      *)
        if [ "$fetchml_keys_owner" -ge 1000 ] || [ "$fetchml_keys_owner" -eq 65534 ]; then
          echo "$fetchml_keys_at belongs to uid $fetchml_keys_owner"
          return 1
        fi
        ;;
    esac
    # The group and others digits of the mode; a sticky directory above may be shared.
    fetchml_keys_o=${fetchml_keys_mode#"${fetchml_keys_mode%?}"}
    fetchml_keys_g=${fetchml_keys_mode%?}
    fetchml_keys_g=${fetchml_keys_g#"${fetchml_keys_g%?}"}
    case "$fetchml_keys_g$fetchml_keys_o" in
      *[2367]*)
        case "$fetchml_keys_first:${#fetchml_keys_mode}:${fetchml_keys_mode%???}" in
          0:4:[1357]) ;;
          *)
            echo "$fetchml_keys_at is writable by others (mode $fetchml_keys_mode)"
            return 1
            ;;
        esac
        ;;
    esac
    [ "$fetchml_keys_at" != / ] || return 0
    fetchml_keys_at=${fetchml_keys_at%/*}
    fetchml_keys_at=${fetchml_keys_at:-/}
    fetchml_keys_first=0
  done
}

fetchml_keys_uid=$(/usr/bin/id -u)
# Inside a user namespace that maps only some uids (an ordinary admin's isolated run), every
# owner it does not map, root's included, shows as the overflow uid: no owner can be told
# there. PATH was cleaned outside before the run entered (scripts/env.sh, from
# bin/fetchml-keys or bin/fetchml-keys-isolated); inside, such an owner is not held against a
# path, while modes still are.
fetchml_keys_hidden=x
if read -r fetchml_keys_a fetchml_keys_b fetchml_keys_c </proc/self/uid_map 2>/dev/null &&
  [ "$fetchml_keys_a $fetchml_keys_b $fetchml_keys_c" != "0 0 4294967295" ]; then
  read -r fetchml_keys_hidden </proc/sys/kernel/overflowuid 2>/dev/null || fetchml_keys_hidden=65534
fi
unset fetchml_keys_a fetchml_keys_b fetchml_keys_c
# GitHub's hosted runners are a fresh VM per job with one account, and their tool cache (where
# setup-node puts node) is made world-writable on purpose: there, no other account exists to
# use that. A self-hosted runner (a shared server) says self-hosted, and gets the check.
fetchml_keys_single_user=
[ "${GITHUB_ACTIONS:-}" = true ] && [ "${RUNNER_ENVIRONMENT:-}" = github-hosted ] && fetchml_keys_single_user=1
fetchml_keys_path=
fetchml_keys_ifs=$IFS
IFS=:
set -f
for fetchml_keys_dir in $PATH; do
  case "$fetchml_keys_dir" in
    "" | */node_modules/.bin | */node_modules/.bin/) ;;
    /*)
      # One not there (or not searchable) holds nothing to start now: left out without a word.
      [ -d "$fetchml_keys_dir" ] || continue
      if [ -n "$fetchml_keys_single_user" ] || fetchml_keys_why=$(fetchml_keys_trusted "$fetchml_keys_dir"); then
        fetchml_keys_path="${fetchml_keys_path:+$fetchml_keys_path:}$fetchml_keys_dir"
      else
        echo "fetchml-keys: left out of PATH: $fetchml_keys_why (another account could put a program there)" >&2
      fi
      ;;
    *) echo "fetchml-keys: left out of PATH: \"$fetchml_keys_dir\" (relative: the current directory's)" >&2 ;;
  esac
done
set +f
IFS=$fetchml_keys_ifs
PATH="$root/node_modules/.bin:$fetchml_keys_path"
export PATH
unset fetchml_keys_path fetchml_keys_ifs fetchml_keys_dir fetchml_keys_why fetchml_keys_single_user
