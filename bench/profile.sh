#!/usr/bin/env bash
# bench/profile.sh: where does a runtime's `run` of the `true` bundle spend
# its time? A template for profiling ghostbox-runtime the same way as crun.
#
# Usage: bash bench/profile.sh [RUNTIME] [RUNS]
#   RUNTIME  crun (default), runc, floor, or ghostbox-runtime ($GB_BUILD/src/runtime)
#   RUNS     runs profiled back to back (default 200)
#   --system-wide  perf samples every CPU (catches kworkers doing the
#                runtime's deferred work, and every other job on the machine)
#   --callgrind  also run valgrind's callgrind on one run (user space of the
#                runtime's first process only; valgrind cannot follow the
#                namespaced clone)
#
# Writes bench/results/profile-RUNTIME.txt with:
#   1. perf, cpu-clock samples with call graphs during RUNS runs of the
#      runtime and every process it forks (the container's init too): by
#      command/DSO, then the top kernel and user symbols.
#   2. strace -f -ttt -T of one run: the syscalls that took longest (wall
#      time, so it shows waiting as well as CPU), and a per-syscall summary.
# Same bundle, same mount namespace trick (cgroup v2 hidden) as bench/run.sh.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bench=$top/bench
orig_args=("$@")
callgrind=0
perf_scope=
args=()
for a in "$@"; do
        case $a in
        --callgrind) callgrind=1 ;;
        --system-wide) perf_scope=-a ;;
        -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) args+=("$a") ;;
        esac
done
rt=${args[0]:-crun}
nruns=${args[1]:-200}
[ "$(id -u)" -eq 0 ] || { echo "profile: must run as root" >&2; exit 1; }
for t in perf strace busybox cc; do
        command -v $t >/dev/null || { echo "profile: '$t' missing: bash scripts/deps.sh bench" >&2; exit 1; }
done
if [ -z "${GB_BENCH_INNER:-}" ]; then
        export GB_BENCH_INNER=1
        exec unshare --mount --propagation private -- bash "$0" "${orig_args[@]}"
fi
if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null && grep -q . /sys/fs/cgroup/unified/cgroup.controllers; then
        umount /sys/fs/cgroup/unified
fi

base=1000000 count=65536
# shellcheck source=bench/lib.sh
. "$bench/lib.sh"
W=$(mktemp -d /var/tmp/gb-profile.XXXXXX)
chmod 0711 "$W" # the mapped root must traverse it to reach the rootfs
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT TERM HUP
make_rootfs "$W/rootfs"
chown -R "$base:$base" "$W/rootfs"
mkdir -p "$W/bundle"
write_config "$W/bundle" "$W/rootfs" '["/bin/true"]'

case $rt in
floor)
        cc -O2 -g -o "$W/floor" "$bench/floor.c" || exit 1
        cmd=("$W/floor" "$W/rootfs" $base $count /bin/true) ;;
ghostbox-runtime) cmd=("${GB_BUILD:-$top/build}/src/runtime/ghostbox-runtime" --root "$W/state" run --bundle "$W/bundle" prof) ;;
*) cmd=("$(command -v "$rt")" --root "$W/state" run --bundle "$W/bundle" prof) ;;
esac
"${cmd[@]}" || { echo "profile: '${cmd[*]}' fails; nothing to profile" >&2; exit 1; }

# perf knows a process by its comm, which the kernel cuts at 15 bytes.
comm=$(basename "${cmd[0]}")
comm=${comm:0:15}
out=$bench/results/profile-$rt.txt
mkdir -p "$bench/results"
{
        echo "# Profile of '$rt run' of an OCI bundle running /bin/true in a user namespace"
        echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, kernel $(uname -r), $rt $("${cmd[0]}" --version 2>/dev/null | head -1)"
        echo "# command: ${cmd[*]}"
        echo "# reproduce: bash bench/profile.sh $rt $nruns"
        echo
        start=$(date +%s%N)
        perf record -q $perf_scope -g -F 4999 -e cpu-clock -o "$W/perf.data" -- \
                bash -c 'for ((i = 0; i < '"$nruns"'; i++)); do "$@" || exit 1; done' _ "${cmd[@]}" >/dev/null 2>&1
        end=$(date +%s%N)
        echo "## 1. perf: $nruns runs in $(((end - start) / 1000000)) ms wall ($(((end - start) / 1000 / nruns)) us per run, perf overhead included)"
        echo
        echo "### samples by command and DSO ($([ -n "$perf_scope" ] && echo "whole system" || echo "the runtime and its children"))"
        perf report -i "$W/perf.data" --stdio --no-children --sort comm,dso -q -g none 2>/dev/null | grep -v '^$' | head -25
        echo
        echo "### top symbols of the runtime and the container's process ($comm, true)"
        perf report -i "$W/perf.data" --stdio --no-children --sort sym -q -g none \
                --comms "$comm,true" 2>/dev/null | grep -v '^$' | head -40
        echo
        echo "### call graph (caller view) of the runtime's own process, top entries"
        perf report -i "$W/perf.data" --stdio --children --sort sym -q -g caller,0.5,callee,function,percent \
                --comms "$comm" 2>/dev/null | grep -v '^$' | head -80
        echo
        echo "## 2. strace -f -ttt -T of one run (wall time per syscall; waiting included)"
        strace -f -ttt -T -y -s 40 -o "$W/strace" "${cmd[@]}" >/dev/null 2>&1
        first=$(head -1 "$W/strace" | awk '{print $2}')
        last=$(tail -1 "$W/strace" | awk '{print $2}')
        echo "total traced: $(awk -v a="$first" -v b="$last" 'BEGIN {printf "%.2f", (b - a) * 1000}') ms (strace slows every syscall)"
        echo
        echo "### the 25 slowest syscalls (pid, start offset ms, call, duration)"
        awk -v t0="$first" '{ d = $NF; gsub(/[<>]/, "", d); pid = $1; ts = $2; line = $0
                sub(/^[0-9]+ +[0-9.]+ +/, "", line)
                if (d + 0 > 0) printf "%8.3f ms  %6s  +%7.2f ms  %s\n", d * 1000, pid, (ts - t0) * 1000, substr(line, 1, 110) }' "$W/strace" |
                sort -rn | head -25
        echo
        echo "### the run as a timeline: process creation, namespaces, maps, mounts, exec, waits"
        grep -E 'clone|unshare|setns|uid_map|gid_map|pivot_root|execve|wait4|exit_group|mount\(' "$W/strace" |
                awk -v t0="$first" '{ pid = $1; ts = $2; line = $0; sub(/^[0-9]+ +[0-9.]+ +/, "", line)
                        printf "+%7.2f ms  %6s  %s\n", (ts - t0) * 1000, pid, substr(line, 1, 120) }' | head -60
        echo
        echo "### syscall summary (strace -c -f)"
        strace -f -c -o "$W/strace-c" "${cmd[@]}" >/dev/null 2>&1
        head -30 "$W/strace-c"
        if [ $callgrind -eq 1 ] && command -v valgrind >/dev/null; then
                echo
                echo "## 3. callgrind (user space of the first process)"
                (cd "$W" && valgrind --tool=callgrind --callgrind-out-file="$W/cg.out" "${cmd[@]}" >/dev/null 2>&1)
                callgrind_annotate "$W/cg.out" 2>/dev/null | head -40
        fi
} >"$out"
echo "profile: wrote $out"
