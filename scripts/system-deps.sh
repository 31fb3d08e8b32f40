#!/bin/sh
# Debian packages the test suite needs, installed when missing: a real sshd and ssh client
# (SSH targets on loopback), ssh-keygen, openssl (the Bitwarden test server's certificate),
# setpriv (tests as a second, unprivileged user), script (a real terminal for confirmations),
# PostgreSQL (team-mode state; the tests start their own throw-away cluster, so the package's
# default cluster is not created), pasta (the runner's isolation, scripts/isolated.sh; unshare
# and nsenter come with util-linux), python3 (the second user's connection attempts).
# Run by `npm test` (scripts/fetchml-keys.sh).
# As root it installs them with apt-get; otherwise it names what to install and fails.
set -eu
need=""
[ -x /usr/sbin/sshd ] || need="$need openssh-server"
command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1 || need="$need openssh-client"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
command -v setpriv >/dev/null 2>&1 && command -v unshare >/dev/null 2>&1 && command -v nsenter >/dev/null 2>&1 || need="$need util-linux"
command -v script >/dev/null 2>&1 || need="$need bsdutils"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"
command -v pasta >/dev/null 2>&1 || need="$need passt"
command -v strace >/dev/null 2>&1 || need="$need strace"
[ -x /usr/bin/python3 ] || need="$need python3"
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "fetchml-keys: the tests need these Debian packages:$need" >&2
  echo "fetchml-keys: install them with: sudo apt-get install -y$need" >&2
  exit 1
fi
echo "fetchml-keys: installing Debian packages for the tests:$need" >&2
export DEBIAN_FRONTEND=noninteractive
# Only the binaries are wanted: no cluster on port 5432 (unless the admin configured otherwise).
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
  mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
fi
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need >/dev/null
