#!/usr/bin/env bash
# Provides the Pulumi CLI at the pinned version and prints the folder holding `pulumi`.
#
# Order: a `pulumi` on PATH at least as new as the pin; else the cached build; else build
# github.com/pulumi/pulumi/pkg/v3/cmd/pulumi from the Go module proxy into the cache (machines
# that reach package registries but not get.pulumi.com); else fail saying what to install.
# Progress goes to stderr so callers can capture the path from stdout.
set -euo pipefail

here=${0%/*}/..
here=$(CDPATH="" cd "$here" && pwd)
# PATH: only directories no other account can add a program to (a `pulumi` found there runs
# with the passphrase, perhaps as root).
root=$here
. "$here/scripts/path.sh"

# The engine every run starts must be a file only root or this user can change (a cached build
# chowned to another account, or a `pulumi` it can rewrite, would run its code as this user).
trusted_engine() {
  local why
  why=$(fetchml_keys_trusted "$1") || {
    echo "ensure-engine: refused $1: $why; another account could change the engine every run starts. Give it to root or yourself (and no group or other write), or remove it (a build in the cache is made again by the next run)" >&2
    exit 1
  }
}
version=${FETCHML_KEYS_PULUMI_VERSION:-$(sed -n 's/.*"pulumiVersion": *"\([^"]*\)".*/\1/p' "$here/package.json")}
[ -n "$version" ] || { echo "ensure-engine: no pulumiVersion in package.json" >&2; exit 1; }
cache_root=${FETCHML_KEYS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fetchml-keys}
cache_dir="$cache_root/pulumi-v$version"

# version_ge A B: true when A >= B (dotted numbers).
version_ge() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$2" ]; }

if [ "${FETCHML_KEYS_ENGINE:-auto}" != "build" ] && command -v pulumi >/dev/null 2>&1; then
  found_at=$(command -v pulumi)
  trusted_engine "$found_at" # before it runs at all
  found=$("$found_at" version 2>/dev/null | sed 's/^v//')
  if [ -n "$found" ] && version_ge "$found" "$version"; then
    echo "${found_at%/*}"
    exit 0
  fi
  echo "ensure-engine: pulumi on PATH is v$found, older than v$version; using a pinned build" >&2
fi

if [ -x "$cache_dir/bin/pulumi" ]; then
  trusted_engine "$cache_dir/bin/pulumi"
  echo "$cache_dir/bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<MSG
ensure-engine: no Pulumi CLI >= v$version found and Go is not installed to build one.
Install the Pulumi CLI (https://www.pulumi.com/docs/install/) or Go >= 1.26, then retry.
MSG
  exit 1
fi

mkdir -p "$cache_root"
# Two callers at once (two test runs, a test run and `npm run up`) must not build into the same
# work directory: the second would delete the first one's build under it. The lock is held to
# the end of this script; whoever waited for it finds the finished build.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$cache_root/build-v$version.lock"
  flock 9
  if [ -x "$cache_dir/bin/pulumi" ]; then
    trusted_engine "$cache_dir/bin/pulumi"
    echo "$cache_dir/bin"
    exit 0
  fi
fi

echo "ensure-engine: building Pulumi CLI v$version from its Go module into $cache_dir (about 4 minutes the first time)" >&2
work="$cache_root/build-v$version"
rm -rf "$work" && mkdir -p "$work" "$cache_dir/bin"
cd "$work"
export GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-auto} CGO_ENABLED=0
go mod init fetchml-keys-engine-build >/dev/null 2>&1
# pkg/v3 replaces sdk/v3 with a local path and pins a clipboard fork; a wrapper module must
# repeat the non-local replace lines and require sdk/v3 at the same version itself.
pkg_mod=$(go mod download -json "github.com/pulumi/pulumi/pkg/v3@v$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
grep -E '^replace ' "$pkg_mod" | grep -v '=> \.' >> go.mod || true
go mod edit -require="github.com/pulumi/pulumi/pkg/v3@v$version" -require="github.com/pulumi/pulumi/sdk/v3@v$version"
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
GO
go mod tidy >&2
go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version" \
  -o "$cache_dir/bin/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi >&2
mv "$cache_dir/bin/pulumi.tmp" "$cache_dir/bin/pulumi"
rm -rf "$work"
echo "ensure-engine: built $("$cache_dir/bin/pulumi" version)" >&2
echo "$cache_dir/bin"
