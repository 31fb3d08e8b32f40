#!/bin/sh
# Runs a command (the runner, or plain `pulumi ...`) so that no other local account can reach
# what it opens and nothing it starts outlives it (README, "Security notes"):
#
# - a PID namespace (and a mount namespace for its /proc) whose init is the shell below: when
#   it ends, or is killed, the kernel kills every process of the run (engine, program,
#   plugins, steps, bw); this script's own process takes the namespace with it when it is
#   killed (SIGKILL included: parent-death signals);
# - a network namespace for the command, with its own loopback: the engine's, program's and
#   plugins' unauthenticated gRPC ports exist only there; pasta (Debian package passt) gives
#   it outbound access, including to services on the host's loopback (`-T auto`: every port
#   listening there is reachable at the same 127.0.0.1/::1 port inside), and forwards
#   nothing inward (`-t none -u none`; pasta's default would be `auto`);
# - for an ordinary user, a user namespace makes this possible; the command still runs as
#   that user's own uid. As root, no user namespace (root must keep its rights on files);
# - files it creates are its own (umask 077), and its TMPDIR is a tmpfs of the run's own,
#   gone with the run: what the engine leaves there (Pulumi's own log files at -v=3 and above
#   hold every key and hash) is never on disk, nor in a directory another account can read.
#
# Where this cannot be had (not Linux, no user namespaces, pasta missing, no network to give
# it), it says so in one line with the risk and runs the command as it is. A check failing for
# a reason another account can cause (no free process id: refused_check), or pasta failing
# where it should work, is different: then nothing runs.
# FETCHML_KEYS_ISOLATED=1|0 in the environment marks a command already inside (or knowingly
# outside): it is run as it is.
#
# usage: scripts/isolated.sh COMMAND [ARGS...]
set -eu
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

# Whether this host has a default route through an interface other than loopback: pasta
# starts from that interface ("External interface not usable" without one).
has_default_route() {
  if [ -r /proc/net/route ]; then
    while read -r iface dest _; do
      [ "$dest" = 00000000 ] && [ "$iface" != lo ] && return 0
    done </proc/net/route
  fi
  if [ -r /proc/net/ipv6_route ]; then
    while read -r dest plen _ _ _ _ _ _ _ iface; do
      [ "$dest" = 00000000000000000000000000000000 ] && [ "$plen" = 00 ] && [ "$iface" != lo ] && return 0
    done </proc/net/ipv6_route
  fi
  return 1
}

# The one line said when the run's ports cannot be made private, with the risk; the
# command's children then see FETCHML_KEYS_ISOLATED=0 and say nothing more.
not_isolated() {
  echo "fetchml-keys: not isolated: $1; other local users can connect to the engine's and plugins' unauthenticated gRPC ports during this run (read the keys, run commands as you)" >&2
  FETCHML_KEYS_ISOLATED=0
  export FETCHML_KEYS_ISOLATED
}

# Starts "$@" in the background the way a command in the foreground starts: with this shell's
# stdin and with INT and QUIT at their defaults. (A non-interactive sh gives `cmd &` /dev/null
# and ignored INT and QUIT, which the runner would inherit: no confirmation, no ^C.)
spawn() {
  exec 9<&0
  env --default-signal=INT,QUIT "$@" <&9 9<&- &
  exec 9<&-
}

# Returns with the status of pid $1 once it ends; TERM and HUP are passed on to the pids the
# command $2 prints (default: $1 itself), INT is not (a terminal's ^C reaches the whole process
# group, the command included, by itself).
wait_for() {
  waited=$1 signalled=${2:-"echo $1"}
  trap 'for p in $($signalled); do kill -TERM "$p" 2>/dev/null || :; done' TERM
  trap 'for p in $($signalled); do kill -HUP "$p" 2>/dev/null || :; done' HUP
  trap : INT
  while :; do
    rc=0
    wait "$waited" || rc=$?
    kill -0 "$waited" 2>/dev/null || return "$rc"
  done
}

case "${1:-}" in
  --pid1)
    # The PID namespace's init, still in the host's network namespace (as root, or as root of
    # the user namespace). $2 $3: the caller's uid and gid, to run the command as; $4: net
    # (a network namespace too) or pid (only this PID namespace); $5: the run's TMPDIR.
    uid=$2 gid=$3 mode=$4 TMPDIR=$5
    shift 5
    export TMPDIR
    # A tmpfs of this mount namespace's own (unshare makes its mounts private) on the mount
    # point: it ends with the last process of the run, kill -9 included, and takes every file
    # in it along. Where none can be mounted, a fresh 0700 directory below the mount point,
    # removed when the run ends (a kill -9 leaves that one).
    fallback=""
    if ! mount -t tmpfs -o mode=0700,nosuid,nodev tmpfs "$TMPDIR" 2>/dev/null; then
      TMPDIR=$(mktemp -d "$TMPDIR/run.XXXXXX") fallback=$TMPDIR
      trap 'rm -rf "$fallback"' EXIT
    fi
    caller=""
    [ "$uid" = 0 ] || caller="--map-user=$uid --map-group=$gid"
    if [ "$mode" = net ]; then
      dir=$(mktemp -d)
      trap 'rm -rf "$dir" ${fallback:+"$fallback"}' EXIT
      mkfifo "$dir/go"
      # shellcheck disable=SC2086
      FETCHML_KEYS_ISOLATED=1 spawn unshare --net $caller sh "$self" --net "$dir/go" "$@"
      run=$!
      while [ "$(readlink "/proc/$run/ns/net")" = "$(readlink /proc/self/ns/net)" ]; do sleep 0.005; done
      # pasta runs as root here (of the user namespace, for an ordinary user: it must enter the
      # run's); it returns once the namespace is configured and forwarding, then runs on,
      # detached, until this namespace's init ends.
      userns=""
      [ "$uid" = 0 ] || userns="--userns /proc/self/fd/4"
      # `-T auto -U auto` holds descriptors for every port listening on the host's loopback,
      # whoever opened it (4 per TCP port, 2 per UDP port, measured): another account binding
      # thousands of ports ran pasta out of descriptors at the shell's limit. So its limit is
      # the most this user may have: for root the kernel's nr_open (1048576 by default, more
      # than all ports of both protocols take, about 390000), else the hard limit.
      # shellcheck disable=SC2086
      if (
        ulimit -n "$(cat /proc/sys/fs/nr_open 2>/dev/null)" 2>/dev/null || ulimit -S -n "$(ulimit -H -n)" 2>/dev/null || :
        exec pasta --config-net --quiet -t none -u none -T auto -U auto --runas 0 $userns \
          --netns /proc/self/fd/3 3<"/proc/$run/ns/net" 4<"/proc/$run/ns/user" >"$dir/pasta.log" 2>&1
      ); then
        echo go >"$dir/go"
        rm -rf "$dir" # now, so that not even a kill -9 leaves it behind
        wait_for "$run" || exit $?
        exit 0
      fi
      kill -KILL "$run" 2>/dev/null || :
      # Not run unisolated instead: a failure here may be another account's doing (as above),
      # and running on would open the run's ports to it. Nothing of the command has run.
      echo "fetchml-keys: refused: pasta could not connect the run's network namespace ($(grep -v syslog "$dir/pasta.log" | tail -n 1)), and without it other local users could connect to the engine's and plugins' unauthenticated gRPC ports; nothing was run. If many ports are listening on this host's loopback (ss -ltnu), find who opened them: pasta mirrors each into the run" >&2
      exit 1
    fi
    # shellcheck disable=SC2086
    spawn unshare $caller "$@"
    wait_for $! || exit $?
    exit 0
    ;;
  --net)
    # In the run's own network namespace: wait for pasta to have set it up, then become the command.
    read -r _ <"$2"
    shift 2
    exec "$@"
    ;;
esac

[ $# -gt 0 ] || {
  echo "usage: scripts/isolated.sh COMMAND [ARGS...]" >&2
  exit 2
}
case "${FETCHML_KEYS_ISOLATED:-}" in 1 | 0) exec "$@" ;; esac

# A check below that fails for a reason another account can cause (a fork or clone that finds
# no free process id, or no memory: both are pools the whole machine shares) is not taken for
# "this host cannot isolate": running unisolated would open the run's ports to that account.
# Only an answer that says what the host is (not Linux, a missing program or option, user
# namespaces not permitted) runs the command as it is, with the one line.
refused_check() {
  echo "fetchml-keys: refused: $1 failed ($2), which another account can cause (by holding every free process id, or the memory), and running without isolation would open the run's ports to it; nothing was run. Try again; if it keeps failing, see who holds processes: ps -eo user= | sort | uniq -c | sort -n" >&2
  exit 1
}
uid=$(id -u) || refused_check "id -u" "no answer"
gid=$(id -g) || refused_check "id -g" "no answer"
userns=""
[ "$uid" = 0 ] || userns="--map-root-user"
mode=net
reason=""
os=$(uname -s) || os=""
[ -n "$os" ] || refused_check "uname -s" "no answer"
if [ "$os" != Linux ]; then
  mode=none reason="$os has no network or PID namespaces"
elif ! command -v unshare >/dev/null 2>&1 || ! command -v setpriv >/dev/null 2>&1; then
  mode=none reason="unshare or setpriv not found (Debian package util-linux)"
elif ! envcheck=$(env --default-signal=INT true 2>&1); then
  case $envcheck in
    *"unrecognized option"* | *"invalid option"*) mode=none reason="env --default-signal is missing (GNU coreutils >= 8.31)" ;;
    *) refused_check "env --default-signal" "${envcheck:-no answer}" ;;
  esac
# shellcheck disable=SC2086
elif ! probe=$(unshare $userns --net --pid --fork --mount-proc true 2>&1); then
  case $probe in
    *"Operation not permitted"* | *"Invalid argument"* | *"No space left on device"*) mode=none reason="cannot create namespaces here ($probe)" ;;
    *) refused_check "the namespace probe (unshare)" "${probe:-no answer}" ;;
  esac
elif [ "${FETCHML_KEYS_ISOLATION:-on}" = off ]; then
  mode=pid reason="FETCHML_KEYS_ISOLATION=off"
elif ! command -v pasta >/dev/null 2>&1; then
  mode=pid reason="pasta not found (Debian package passt)"
elif ! has_default_route; then
  mode=pid reason="no network interface with a default route other than loopback (pasta starts from one)"
elif [ ! -c /dev/net/tun ]; then
  # pasta needs a tap device (some containers have none).
  mode=pid reason="/dev/net/tun does not exist here (pasta needs it)"
elif [ "$uid" != 0 ] && ! { [ -r /dev/net/tun ] && [ -w /dev/net/tun ]; }; then
  # pasta needs a tap device; Debian's udev makes /dev/net/tun 0666, some systems do not.
  who=$(id -un 2>/dev/null) || who="uid $uid" # an account without a name (no passwd entry) is still one
  mode=pid reason="/dev/net/tun is not open to $who (pasta needs it)"
fi
[ -z "$reason" ] || not_isolated "$reason"
umask 077
[ "$mode" != none ] || exec "$@"

# Inside its user namespace an ordinary user sees root's directories and every other account's
# as the overflow uid, and could not tell whether another account can swap a file it writes
# (lib/safePath.ts). So the real owners on the way to the stacks' local paths are looked up
# here, outside, and passed in; nothing looked up means those paths are refused inside.
if [ "$uid" != 0 ]; then
  FETCHML_KEYS_OWNERS=$(node --require "${self%/scripts/*}/dist/build/guard.js" "${self%/scripts/*}/dist/cli/owners.js" 2>/dev/null) || FETCHML_KEYS_OWNERS=""
  export FETCHML_KEYS_OWNERS
fi

# The mount point of the run's TMPDIR (a tmpfs, see --pid1): one per user,
# <tmp>/fetchml-keys-run-<uid>, this user's own 0700 directory. Every run mounts its own tmpfs
# there, each in its own mount namespace, so the directory itself stays empty and is never
# removed: a kill -9 leaves nothing behind. A name another account took first (or a link) is
# not used: a fresh directory instead, removed when the run ends.
run_tmp=${TMPDIR:-/tmp}/fetchml-keys-run-$uid
if ! mkdir "$run_tmp" 2>/dev/null && ! { [ -d "$run_tmp" ] && [ ! -L "$run_tmp" ] && [ "$(stat -c %u.%a -- "$run_tmp")" = "$uid.700" ]; }; then
  run_tmp=$(mktemp -d "${TMPDIR:-/tmp}/fetchml-keys-run.XXXXXX")
  trap 'rm -rf "$run_tmp"' EXIT
fi

# This shell stays the process the caller sees (its pid, its signals); the namespace's init
# dies with it even on SIGKILL (--pdeathsig here, --kill-child in unshare).
# shellcheck disable=SC2086
spawn setpriv --pdeathsig KILL unshare $userns --pid --fork --kill-child --mount-proc sh "$self" --pid1 "$uid" "$gid" "$mode" "$run_tmp" "$@"
top=$!
# TERM and HUP go to the namespace's init (unshare itself blocks them), which passes them on.
init_of() { cat "/proc/$top/task/$top/children" 2>/dev/null || :; }
wait_for "$top" init_of || exit $?
