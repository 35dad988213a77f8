#!/usr/bin/env bash
# docker cp / export / diff through ghostboxd on a throwaway data root:
#   sudo bash scripts/bench-cp.sh [MiB]   (default 512)
# Needs a build in build/ (or GB_BUILD=DIR) and the docker CLI.
. "$(dirname "$0")/../tests/integration/lib.sh"
require_root
MIB=${1:-512}
GBD=$GB_BUILD/src/daemon/ghostboxd
engine_env
tar --numeric-owner -C "$T/rootfs" -cf "$T/busybox.tar" .
gb import "$T/busybox.tar" busybox >/dev/null
SOCK=$T/ghostbox.sock
export DOCKER_HOST=unix://$SOCK DOCKER_CONFIG=$T/docker-config
"$GBD" -H "unix://$SOCK" --data-root "$T/data" --exec-root "$T/run" --userns-remap root >>"$T/gbd.log" 2>&1 &
pid=$!; at_exit "kill $pid"
for _ in $(seq 100); do curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null && break; sleep 0.05; done
id=$(docker create busybox true)
head -c "${MIB}M" /dev/urandom >"$T/big"
s=$(date +%s.%N); docker cp "$T/big" "$id:/big"; e=$(date +%s.%N); echo "cp in $MIB MiB: $(echo "$e - $s" | bc) s"
mkdir "$T/o"; s=$(date +%s.%N); docker cp "$id:/big" "$T/o/big"; e=$(date +%s.%N); echo "cp out $MIB MiB: $(echo "$e - $s" | bc) s"
cmp "$T/big" "$T/o/big" && echo identical
s=$(date +%s.%N); docker export "$id" >/dev/null; e=$(date +%s.%N); echo "export ($MIB MiB + busybox): $(echo "$e - $s" | bc) s"
s=$(date +%s.%N); docker diff "$id"; e=$(date +%s.%N); echo "diff: $(echo "$e - $s" | bc) s"
docker rm -f "$id" >/dev/null
