#!/usr/bin/env bash
# The README's first command: install dependencies, build, create the remap
# user if needed, and run a container that shows its remapped uid_map.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh demo
bash scripts/build.sh
G=./build/src/cli/ghostbox
$G idmap show
if ! $G images -q busybox 2>/dev/null | grep -q .; then
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        bash scripts/busybox-image.sh "$tmp/busybox.tar"
        $G import "$tmp/busybox.tar" busybox >/dev/null
fi
echo
echo "$ ghostbox run --rm busybox cat /proc/self/uid_map"
exec $G run --rm busybox cat /proc/self/uid_map
