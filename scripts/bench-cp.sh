#!/usr/bin/env bash
# docker cp / export / diff through ghostboxd on a throwaway data root:
#   sudo bash scripts/bench-cp.sh [MiB]   (default 512)
# Needs a build in build/ (or GB_BUILD=DIR) and the docker CLI.
. "$(dirname "$0")/../tests/integration/lib.sh"
require_root
MIB=${1:-512}
gbd_env
start_gbd || { echo "ghostboxd did not start: $(tail -3 "$T/gbd.log")" >&2; exit 1; }
id=$(docker create busybox true)
head -c "${MIB}M" /dev/urandom >"$T/big"
s=$(date +%s.%N); docker cp "$T/big" "$id:/big"; e=$(date +%s.%N); echo "cp in $MIB MiB: $(echo "$e - $s" | bc) s"
mkdir "$T/o"; s=$(date +%s.%N); docker cp "$id:/big" "$T/o/big"; e=$(date +%s.%N); echo "cp out $MIB MiB: $(echo "$e - $s" | bc) s"
cmp "$T/big" "$T/o/big" && echo identical
s=$(date +%s.%N); docker export "$id" >/dev/null; e=$(date +%s.%N); echo "export ($MIB MiB + busybox): $(echo "$e - $s" | bc) s"
s=$(date +%s.%N); docker diff "$id"; e=$(date +%s.%N); echo "diff: $(echo "$e - $s" | bc) s"
docker rm -f "$id" >/dev/null
