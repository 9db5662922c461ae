#!/usr/bin/env bash
# Build the vCenter simulator (tools/vcsim/main.go) into .cache/bin/vcsim, once.
#
# Uses Debian's Go toolchain and govmomi source in GOPATH mode:
#   apt-get install golang-go golang-github-vmware-govmomi-dev
# The build is skipped when the binary is newer than main.go (and this script).
# Prints the binary's absolute path as the last line of stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
gopath="${VCSIM_GOPATH:-/usr/share/gocode}"
bin="$root/.cache/bin/vcsim"

if [[ -x "$bin" && "$bin" -nt "$here/main.go" && "$bin" -nt "$here/build.sh" \
      && "${VCSIM_FORCE_BUILD:-0}" != "1" ]]; then
    echo "$bin"
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    echo "build.sh: 'go' not found; install it with: apt-get install golang-go" >&2
    exit 1
fi
if [[ ! -d "$gopath/src/github.com/vmware/govmomi/simulator" ]]; then
    echo "build.sh: govmomi source not found under $gopath/src/github.com/vmware/govmomi;" \
        "install it with: apt-get install golang-github-vmware-govmomi-dev" >&2
    exit 1
fi

mkdir -p "$root/.cache/bin" "$root/.cache/go-build"

echo "build.sh: building $bin (first build takes a minute or two)..." >&2
tmp="$bin.tmp.$$"
trap 'rm -f "$tmp"' EXIT
(
    # GOPATH mode: main.go is outside GOPATH, which go build accepts for a single directory.
    cd "$here"
    GO111MODULE=off GOPATH="$gopath" GOCACHE="$root/.cache/go-build" GOFLAGS= \
        go build -o "$tmp" .
)
mv -f "$tmp" "$bin"
trap - EXIT
echo "$bin"
