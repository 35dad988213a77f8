#!/usr/bin/env bash
# Root filesystem preparation time, idmap vs chown mode, for images of about
# 100, 10,000 and 100,000 files (issue 4). Prints a table of medians.
#
#   bash bench/rootfs-prep.sh [RUNS]        (as root, after scripts/build.sh)
#
# cold = a mapping no container has used yet (idmap: the shared idmapped
# view is mounted; chown: every layer is copied with shifted IDs, Docker's
# userns-remap cost); warm = another container with an already used mapping.
# Each prepare is timed inside the library call (gb-rootfs-tool), then the
# root filesystem is released.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
B=${GB_BUILD:-$PWD/build}
GB=$B/src/cli/ghostbox
TOOL=$B/tests/helpers/gb-rootfs-tool
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
[ -x "$TOOL" ] || { echo "build first: bash scripts/build.sh" >&2; exit 1; }
W=$(mktemp -d /var/tmp/gb-bench-rootfs.XXXXXX)
DR=$W/data RUN=$W/run
cleanup() {
        # No "set -e" here: grep finding no mount must not skip the rm.
        set +e
        grep -F " $W" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
        rm -rf "$W"
}
trap cleanup EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# make_image N: N regular files in N/100 directories, a tenth owned by 1000.
make_image() {
        local n=$1 d=$W/src-$1
        python3 - "$d" "$n" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    sub = os.path.join(root, "d%04d" % (i // 100))
    if i % 100 == 0:
        os.makedirs(sub)
    p = os.path.join(sub, "f%06d" % i)
    with open(p, "w") as f:
        f.write("x" * (i % 64))
    if i % 10 == 0:
        os.chown(p, 1000, 1000)
PY
        tar -C "$d" -cf "$W/img-$n.tar" .
        rm -rf "$d"
        "$GB" --data-root "$DR" import "$W/img-$n.tar" "bench:$n" >/dev/null
        rm -f "$W/img-$n.tar"
}

base=200000
# prep MODE IMAGE ID MAP -> seconds
prep() {
        local out
        out=$("$TOOL" prepare "$DR" "$RUN" "$3" "$2" "$1" "$4")
        "$TOOL" release "$DR" "$RUN" "$3" "$4"
        echo "$out" | awk '{print $3}'
}

printf '%-8s %-6s %12s %12s %8s\n' FILES MODE "COLD(ms)" "WARM(ms)" MOUNTS
for n in 100 10000 100000; do
        make_image $n
        for mode in idmap chown; do
                cold=() warm=()
                for r in $(seq "$RUNS"); do
                        base=$((base + 65536))
                        map=0:$base:65536
                        cold+=("$(prep $mode bench:$n c$r-cold $map)")
                        # hold one container so the mapping's view/copies stay
                        "$TOOL" prepare "$DR" "$RUN" hold "bench:$n" $mode $map >/dev/null
                        warm+=("$(prep $mode bench:$n c$r-warm $map)")
                        mounts=$(grep -cF " $W" /proc/self/mountinfo)
                        "$TOOL" release "$DR" "$RUN" hold $map
                        # chown copies are per range: drop them with the range
                        rm -rf "$DR/$base.$base"
                done
                c=$(printf '%s\n' "${cold[@]}" | median)
                w=$(printf '%s\n' "${warm[@]}" | median)
                printf '%-8s %-6s %12.2f %12.2f %8s\n' $n $mode "$(echo "$c*1000" | bc -l)" "$(echo "$w*1000" | bc -l)" "$mounts"
        done
done
echo "# medians of $RUNS runs; MOUNTS = mounts for one running container of the mapping (idmap: overlay + shared view)"
