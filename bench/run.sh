#!/usr/bin/env bash
# bench/run.sh: ghostbox against its peers (crun, runc, podman, docker) on one
# machine, in one run. Not a test: it asserts nothing about timings.
#
# Usage: bash bench/run.sh [--install] [--quick] [--only LIST] [--systems LIST]
#                          [--runs N] [--keep] | --report TSV...
#   --install   install the peers from Debian first (bash scripts/deps.sh bench)
#   --quick     fewer runs; scenario 6 at 10 and 100 containers (not 500)
#   --only LIST comma list of scenarios: runtime,engine,rootfs,memory,throughput,scale,commit,publish
#   --systems LIST  only these systems: ghostbox-runtime,crun,runc,floor,
#               ghostbox,ghostboxd,podman,docker,docker-net-none (default all)
#   --runs N    runs per latency measurement (default 50, --quick 20)
#   --keep      keep the temp dir (for debugging; mounts and processes still go)
#   --report TSV...  only rewrite bench/RESULTS.md from result files; a row of
#               a later file replaces the same scenario/system/N/metric row of
#               an earlier one unless it is n/a (e.g. a full run, then
#               `--only runtime` once ghostbox-runtime works)
# Environment: GB_BUILD (default ./build) holds src/cli/ghostbox and
# src/runtime/ghostbox-runtime; built with scripts/build.sh when missing.
# GB_ROOTFS_PREP: another bench/rootfs-prep.sh (the image store's script).
#
# Output: a table on stdout, bench/results/<stamp>.tsv (+ latest.tsv), the
# hyperfine JSON files in bench/results/raw/<stamp>/, and bench/RESULTS.md.
# Everything it starts (containers, dockerd, mounts, temp dirs, /etc/subuid
# lines it added) is removed on exit, Ctrl-C included.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bench=$top/bench
cd "$top"

orig_args=("$@")
report_only=()
systems=
install=0 quick=0 keep=0 runs= only=runtime,engine,rootfs,memory,throughput,scale,commit,publish
while [ $# -gt 0 ]; do
        case $1 in
        --install) install=1 ;;
        --quick) quick=1 ;;
        --keep) keep=1 ;;
        --only) only=$2; shift ;;
        --only=*) only=${1#--only=} ;;
        --report) shift; report_only=("$@"); break ;;
        --systems) systems=$2; shift ;;
        --systems=*) systems=${1#--systems=} ;;
        --runs) runs=$2; shift ;;
        --runs=*) runs=${1#--runs=} ;;
        -h | --help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench: unknown option '$1' (see --help)" >&2; exit 2 ;;
        esac
        shift
done
if [ ${#report_only[@]} -gt 0 ]; then exec bash "$bench/report.sh" "${report_only[@]}"; fi
[ "$(id -u)" -eq 0 ] || { echo "bench: must run as root (runtimes, dockerd, mounts)" >&2; exit 1; }

# Install before entering the private mount namespace: apt's maintainer
# scripts must see the real machine.
if [ $install -eq 1 ] && [ -z "${GB_BENCH_INNER:-}" ]; then
        before=$(pgrep -x dockerd >/dev/null && echo dockerd; pgrep -x containerd >/dev/null && echo containerd)
        bash "$top/scripts/deps.sh" bench || { echo "bench: installing the peers failed" >&2; exit 1; }
        # Debian's postinst may start the system docker/containerd; stop what
        # the install started (only that) so it cannot share bridges, ports or
        # iptables chains with the dockerd this bench starts.
        for svc in docker containerd; do
                d=$svc; [ $svc = docker ] && d=dockerd
                if pgrep -x $d >/dev/null && ! grep -qx $d <<<"$before"; then
                        echo "bench: stopping the $svc service the install started" >&2
                        if [ -d /run/systemd/system ]; then
                                systemctl stop $svc.socket $svc.service 2>/dev/null
                        else
                                service $svc stop 2>/dev/null
                        fi
                fi
        done
fi
for t in hyperfine jq cc busybox; do
        command -v $t >/dev/null || { echo "bench: '$t' is missing; run with --install" >&2; exit 1; }
done

# crun 1.8 refuses a hybrid cgroup host whose v2 hierarchy holds any
# controller ("cgroups in hybrid mode not supported"), and this VM's has
# hugetlb. Run the whole bench in a mount namespace of its own with
# /sys/fs/cgroup/unified unmounted: every runtime then sees plain cgroup v1,
# the host is untouched, and every mount the bench leaves dies with it.
if [ -z "${GB_BENCH_INNER:-}" ]; then
        export GB_BENCH_INNER=1
        netns_before=$(ls /run/netns 2>/dev/null)
        unshare --mount --propagation private -- bash "$0" "${orig_args[@]}"
        rc=$?
        # podman mounts its network namespaces in our private namespace
        # (gone with it) over files it makes in the host's /run/netns, and
        # leaves the files: remove the new ones that are not mounted here.
        for p in /run/netns/netns-*; do
                [ -e "$p" ] || continue
                grep -qxF "${p##*/}" <<<"$netns_before" && continue
                mountpoint -q "$p" || rm -f "$p"
        done
        exit $rc
fi
cgroup_note="host cgroup layout used"
if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null && grep -q . /sys/fs/cgroup/unified/cgroup.controllers; then
        umount /sys/fs/cgroup/unified && cgroup_note="bench runs in its own mount namespace with /sys/fs/cgroup/unified (controllers: $(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null || echo hugetlb)) hidden, because crun 1.8 refuses hybrid hosts whose v2 hierarchy has controllers"
fi

# Every container of a runtime that gives it a session keyring (runc, so
# docker too) charges the keyring to the container's root, the same host UID
# for all: kernel.keys.maxkeys (200) stops runc at ~200 containers with "unable
# to create session key: disk quota exceeded". Raise it for the run (as
# Docker's docs advise for many containers) and put the old values back.
keys_saved=
if [ -w /proc/sys/kernel/keys/maxkeys ]; then
        keys_saved="$(cat /proc/sys/kernel/keys/maxkeys) $(cat /proc/sys/kernel/keys/maxbytes)"
        set -- $keys_saved
        [ "$1" -lt 5000 ] && echo 5000 >/proc/sys/kernel/keys/maxkeys
        [ "$2" -lt 2000000 ] && echo 2000000 >/proc/sys/kernel/keys/maxbytes
fi
stamp=$(date -u +%Y%m%dT%H%M%SZ)
start_date=$(date -u '+%H:%M UTC')
start_load=$(cut -d' ' -f1-3 /proc/loadavg)
results=$bench/results
raw=$results/raw/$stamp
mkdir -p "$raw"
tsv=$results/$stamp.tsv
printf 'scenario\tsystem\tcontainers\tmetric\tunit\tmedian\tmin\tmax\tn\tnote\n' >"$tsv"

if [ $quick -eq 1 ]; then
        runs=${runs:-20} eruns=10 scale_ns="10 100" tp_rt=40 tp_eng=8 prep_runs=2
else
        runs=${runs:-50} eruns=20 scale_ns="10 100 500" tp_rt=100 tp_eng=15 prep_runs=3
fi
mem_n=50
base=1000000 # host ID the runtimes' bundles map container root to
count=65536

W=$(mktemp -d /var/tmp/gb-bench.XXXXXX)
chmod 0711 "$W"
log=$W/log
: >"$log"
added_subid=()
floor_pids=()
dockerd_pid=
gbd_pid=

say() { printf '%s\n' "$*" >&2; }

# --------------------------------------------------------------- cleanup
cleanup() {
        local rc=$? r id p
        trap - EXIT INT TERM HUP
        # Our stderr may be a pipe whose reader is gone (Ctrl-C on `run.sh |
        # tee`): a write must not kill the cleanup half way.
        trap '' PIPE
        say "bench: cleaning up"
        if [ ${#floor_pids[@]} -gt 0 ]; then
                pkill -9 -P "$(IFS=,; echo "${floor_pids[*]}")"
                kill -9 "${floor_pids[@]}" 2>/dev/null
        fi
        for r in crun runc ghostbox-runtime; do
                [ -d "$W/state-$r" ] || continue
                for id in $(rt_cmd $r list -q 2>/dev/null); do rt_cmd $r delete --force "$id" >/dev/null 2>&1; done
        done
        if [ -n "${podman_ok:-}" ]; then
                pm rm -af -t 0 >/dev/null 2>&1
                pm system reset --force >/dev/null 2>&1
        fi
        [ -n "${gbd_pid:-}" ] && kill "$gbd_pid" 2>/dev/null
        if [ -n "${gb_engine_ok:-}" ]; then
                gbx rm -f $(gbx ps -aq 2>/dev/null) >/dev/null 2>&1
        fi
        if [ -n "$dockerd_pid" ]; then
                timeout 10 docker -H "unix://$W/docker/sock" ps -aq 2>/dev/null |
                        timeout 120 xargs -r -P 4 -n 25 docker -H "unix://$W/docker/sock" rm -f >/dev/null 2>&1
                kill "$dockerd_pid" 2>/dev/null
                for _ in $(seq 1 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
                kill -9 "$dockerd_pid" 2>/dev/null
        fi
        # Whatever is left that we started (shims, conmon, sleepers) names $W.
        for p in $(pgrep -f -- "$W"); do [ "$p" != $$ ] && kill -9 "$p" 2>/dev/null; done
        # Container inits left behind (a SIGKILLed shim does not take its
        # container along): anything running in the ID ranges this bench maps.
        local ranges="$base $((base + count))"
        [ ${#added_subid[@]} -gt 0 ] && ranges+=" 2000000000 2200000000"
        if [ -n "$dockerd_pid" ]; then
                ranges+=" $(awk -F: '$1 == "dockremap" {print $2, $2 + $3; exit}' /etc/subuid)"
        fi
        for p in $(ps -eo pid=,uid= | awk -v r="$ranges" 'BEGIN {n = split(r, a, " ")}
                { for (i = 1; i < n; i += 2) if ($2 >= a[i] && $2 < a[i + 1]) print $1 }'); do
                kill -9 "$p" 2>/dev/null
        done
        sleep 0.2
        # Unmount everything under $W, deepest first.
        awk -v w="$W" '$5 == w || index($5, w "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
                while read -r m; do umount -l "$m" 2>/dev/null; done
        for l in "${added_subid[@]}"; do
                sed -i "\|^${l}\$|d" /etc/subuid /etc/subgid
        done
        if [ -n "${dockremap_added:-}" ]; then
                userdel dockremap >/dev/null 2>&1
                sed -i '/^dockremap:/d' /etc/subuid /etc/subgid
        fi
        if [ -n "$keys_saved" ]; then
                set -- $keys_saved
                echo "$1" >/proc/sys/kernel/keys/maxkeys
                echo "$2" >/proc/sys/kernel/keys/maxbytes
        fi
        if [ $keep -eq 1 ]; then say "bench: kept $W"; else rm -rf "$W"; fi
        exit $rc
}
trap cleanup EXIT
trap 'say "bench: interrupted"; exit 130' INT TERM HUP
trap 'exit 141' PIPE

# --------------------------------------------------------------- results
# row SCENARIO SYSTEM N METRIC UNIT MEDIAN MIN MAX COUNT NOTE
row() { local IFS=$'\t'; printf '%s\n' "$*" >>"$tsv"; }
na() { row "$1" "$2" "$3" "$4" "$5" n/a - - 0 "n/a: $6"; say "  $2: n/a: $6"; }

# hf SCENARIO SYSTEM N RUNS CMD [hyperfine options...]: time CMD, record ms.
hf() {
        local sc=$1 sys=$2 n=$3 nruns=$4 cmd=$5; shift 5
        local json=$raw/$sc-$sys-$n.json
        json=${json// /_}
        if ! hyperfine -N --style none --warmup "${HF_WARMUP:-2}" --runs "$nruns" --export-json "$json" "$@" -n "$sys" "$cmd" >>"$log" 2>&1; then
                na "$sc" "$sys" "$n" latency ms "hyperfine failed: $(tail -3 "$log" | tr '\n\t' '  ')"
                return 1
        fi
        local vals
        vals=$(jq -r '.results[0] | [.median, .min, .max, (.times | length)] | map(tostring) | join(" ")' "$json")
        set -- $vals
        row "$sc" "$sys" "$n" latency ms "$(ms "$1")" "$(ms "$2")" "$(ms "$3")" "$4" "${hf_note:-}"
        say "  $sys: median $(ms "$1") ms ($(ms "$2")-$(ms "$3"))"
}
ms() { awk -v s="$1" 'BEGIN { printf "%.2f", s * 1000 }'; }

# --------------------------------------------------------------- images
# One busybox rootfs (busybox-static) for everyone: a bundle for the
# runtimes, a tarball imported into docker, podman and ghostbox.
# shellcheck source=bench/lib.sh
. "$bench/lib.sh"

prepare_images() {
        say "bench: preparing the busybox rootfs, bundles and image tarball in $W"
        make_rootfs "$W/rootfs"
        tar -C "$W/rootfs" --numeric-owner --owner=0 --group=0 -cf "$W/busybox.tar" .
        # The bundles' rootfs is owned by the mapped root, as a remapped
        # image's would be.
        chown -R "$base:$base" "$W/rootfs"
        local b
        for b in true sleep probe; do mkdir -p "$W/bundle-$b"; done
        write_config "$W/bundle-true" "$W/rootfs" '["/bin/true"]'
        write_config "$W/bundle-sleep" "$W/rootfs" '["/bin/sleep", "1000000"]'
        write_config "$W/bundle-probe" "$W/rootfs" '["/bin/cat", "/proc/self/uid_map"]'
        cc -O2 -o "$W/floor" "$bench/floor.c" || { say "bench: building bench/floor.c failed"; exit 1; }
}

# --------------------------------------------------------------- systems
GB_BUILD=${GB_BUILD:-$top/build}
gb_cli=$GB_BUILD/src/cli/ghostbox
gb_rt=$GB_BUILD/src/runtime/ghostbox-runtime

rt_bin() { case $1 in ghostbox-runtime) echo "$gb_rt" ;; *) command -v "$1" ;; esac; }
rt_cmd() { local r=$1; shift; "$(rt_bin $r)" --root "$W/state-$r" "$@"; }
pm() { podman --root "$W/podman/root" --runroot "$W/podman/run" --tmpdir "$W/podman/tmp" \
        --cgroup-manager cgroupfs --events-backend file "$@"; }
dk() { docker -H "unix://$W/docker/sock" "$@"; }
gbx() { "$gb_cli" --data-root "$W/gb/data" --exec-root "$W/gb/exec" "$@"; }

declare -A rt_ok rt_why
probe_runtimes() {
        local r out
        [ -x "$gb_rt" ] || (bash scripts/build.sh >>"$log" 2>&1) || true
        for r in ghostbox-runtime crun runc; do
                if ! [ -x "$(rt_bin $r)" ]; then
                        rt_why[$r]="$(rt_bin $r || echo $r) not installed/built"
                        continue
                fi
                mkdir -p "$W/state-$r"
                out=$(rt_cmd $r run --bundle "$W/bundle-probe" probe 2>&1 </dev/null)
                if [ $? -eq 0 ] && grep -Eq "^ *0 +$base +$count" <<<"$out"; then
                        rt_ok[$r]=1
                else
                        rt_cmd $r delete --force probe >/dev/null 2>&1
                        rt_why[$r]="'$(rt_bin $r) run' of the probe bundle did not print the uid map: $(head -c 200 <<<"$out" | tr '\n\t' '  ')"
                fi
        done
        out=$("$W/floor" "$W/rootfs" $base $count /bin/true 2>&1)
        [ $? -eq 0 ] && rt_ok[floor]=1 || rt_why[floor]="floor failed: $out"
}

# dockerd with userns-remap, all of its state in $W. It starts its own
# containerd (under the exec root), so the machine's containerd is unused.
start_dockerd() {
        command -v dockerd >/dev/null || { docker_why="docker.io not installed"; return 1; }
        id dockremap >/dev/null 2>&1 || dockremap_added=1
        mkdir -p "$W/docker"
        dockerd --data-root "$W/docker/data" --exec-root "$W/docker/exec" \
                --pidfile "$W/docker/pid" -H "unix://$W/docker/sock" \
                --userns-remap=default --storage-driver overlay2 \
                --log-level warn >"$W/docker/log" 2>&1 &
        dockerd_pid=$!
        for _ in $(seq 1 150); do
                dk version >/dev/null 2>&1 && break
                kill -0 $dockerd_pid 2>/dev/null || break
                sleep 0.2
        done
        if ! dk version >/dev/null 2>&1; then
                docker_why="dockerd did not start: $(tail -3 "$W/docker/log" | tr '\n\t' '  ')"
                return 1
        fi
        if ! dk import "$W/busybox.tar" busybox:latest >>"$log" 2>&1 ||
                ! dk run --rm busybox true >>"$log" 2>&1; then
                docker_why="'docker run --rm busybox true' failed: $(tail -2 "$log" | tr '\n\t' '  ')"
                return 1
        fi
        docker_ok=1
}

# podman --userns=auto takes ranges from the 'containers' entries in
# /etc/subuid and /etc/subgid; add one (removed on exit) when missing.
# Debian's podman runs crun by default, which works in our namespace.
start_podman() {
        command -v podman >/dev/null || { podman_why="podman not installed"; return 1; }
        local f l="containers:2000000000:200000000"
        for f in /etc/subuid /etc/subgid; do
                if ! grep -q '^containers:' $f; then
                        echo "$l" >>$f
                        added_subid+=("$l")
                fi
        done
        mkdir -p "$W/podman/tmp"
        # Podman as root asks for RLIMIT_NOFILE 1048576 and RLIMIT_NPROC
        # 4194304, above this host's hard limits; root here lacks
        # CAP_SYS_RESOURCE, so crun's setrlimit fails with EPERM. Give it the
        # bundles' 1024 instead (CONTAINERS_CONF is exported for all runs).
        printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n' >"$W/podman/containers.conf"
        export CONTAINERS_CONF=$W/podman/containers.conf
        if ! pm import "$W/busybox.tar" busybox >>"$log" 2>&1 ||
                ! pm run --rm --userns=auto busybox true >>"$log" 2>&1; then
                podman_why="'podman run --rm --userns=auto busybox true' failed: $(tail -2 "$log" | tr '\n\t' '  ')"
                return 1
        fi
        podman_ok=1
}

# ghostbox's engine: works as soon as 'ghostbox import' and 'ghostbox run' do.
start_ghostbox() {
        [ -x "$gb_cli" ] || { gb_engine_why="$gb_cli not built"; return 1; }
        local out
        out=$(gbx import "$W/busybox.tar" busybox 2>&1) ||
                { gb_engine_why="'ghostbox import' failed: $(head -c 200 <<<"$out" | tr '\n\t' '  ')"; return 1; }
        out=$(gbx run --rm busybox true 2>&1) ||
                { gb_engine_why="'ghostbox run --rm busybox true' failed: $(head -c 200 <<<"$out" | tr '\n\t' '  ')"; return 1; }
        gb_engine_ok=1
}

# ghostboxd: the same engine behind the Docker Engine API, driven by the
# same docker CLI as dockerd (so the two rows differ only in the daemon).
start_ghostboxd() {
        [ -n "${gb_engine_ok:-}" ] || { gbd_why="the ghostbox engine did not start"; return 1; }
        local gbd=${gb_cli%/cli/ghostbox}/daemon/ghostboxd
        [ -x "$gbd" ] || { gbd_why="$gbd not built"; return 1; }
        "$gbd" -H "unix://$W/gbd.sock" --data-root "$W/gb/data" --exec-root "$W/gb/exec" >"$W/gbd.log" 2>&1 &
        gbd_pid=$!
        for _ in $(seq 1 100); do
                curl -sf --unix-socket "$W/gbd.sock" http://d/_ping >/dev/null 2>&1 && break
                sleep 0.05
        done
        if ! docker -H "unix://$W/gbd.sock" run --rm busybox true >>"$log" 2>&1; then
                gbd_why="'docker run --rm busybox true' against ghostboxd failed: $(tail -2 "$log" | tr '\n\t' '  ')"
                return 1
        fi
        gbd_ok=1
}

# The engine command line of each system for `run --rm busybox true`.
declare -A eng_cmd eng_ok eng_why
setup_engines() {
        local e=" $engines "
        [[ $e == *" ghostbox "* ]] && start_ghostbox
        if [ -n "${gb_engine_ok:-}" ]; then eng_ok[ghostbox]=1; else eng_why[ghostbox]=${gb_engine_why:-not selected}; fi
        eng_cmd[ghostbox]="$gb_cli --data-root $W/gb/data --exec-root $W/gb/exec run --rm busybox true"
        [[ $e == *" ghostboxd "* ]] && start_ghostboxd
        eng_cmd[ghostboxd]="docker -H unix://$W/gbd.sock run --rm busybox true"
        if [ -n "${gbd_ok:-}" ]; then eng_ok[ghostboxd]=1; else eng_why[ghostboxd]=${gbd_why:-not selected}; fi
        [[ $e == *" podman "* ]] && start_podman
        eng_cmd[podman]="podman --root $W/podman/root --runroot $W/podman/run --tmpdir $W/podman/tmp --cgroup-manager cgroupfs --events-backend file run --rm --pull never --userns=auto busybox true"
        if [ -n "${podman_ok:-}" ]; then eng_ok[podman]=1; else eng_why[podman]=${podman_why:-not selected}; fi
        [[ $e == *" docker"* ]] && start_dockerd
        eng_cmd[docker]="docker -H unix://$W/docker/sock run --rm --pull never busybox true"
        eng_cmd[docker-net-none]="docker -H unix://$W/docker/sock run --rm --pull never --network none busybox true"
        if [ -n "${docker_ok:-}" ]; then
                eng_ok[docker]=1 eng_ok[docker-net-none]=1
        else
                eng_why[docker]=${docker_why:-not selected} eng_why[docker-net-none]=${docker_why:-not selected}
        fi
}
engines="ghostbox ghostboxd podman docker docker-net-none"
runtimes="ghostbox-runtime crun runc floor"
if [ -n "$systems" ]; then
        keep_only() { local x out=; for x in "$@"; do [[ ",$systems," == *",$x,"* ]] && out+="$x "; done; echo $out; }
        engines=$(keep_only $engines)
        runtimes=$(keep_only $runtimes)
fi
# ghostboxd's containers are ghostbox's (the same monitor): measured once.
monitored() { local x; for x in $engines; do [ "$x" != docker-net-none ] && [ "$x" != ghostboxd ] && echo "$x"; done; }

rt_run_cmd() { # SYSTEM ID BUNDLE
        case $1 in
        floor) echo "$W/floor $W/rootfs $base $count /bin/true" ;;
        *) echo "$(rt_bin $1) --root $W/state-$1 run --bundle $3 $2" ;;
        esac
}

# --------------------------------------------------------------- scenarios
scenario_runtime() { # N (running containers, for scenario 6)
        local n=${1:-0} r sc=runtime nr=$runs hf_note=
        [ "$n" -gt 0 ] && sc=scale-runtime nr=$eruns hf_note=${fill_note:-}
        say "== ($sc) OCI bundle running 'true' in a user namespace, $n running containers"
        for r in $runtimes; do
                if [ -z "${rt_ok[$r]:-}" ]; then na $sc $r $n latency ms "${rt_why[$r]}"; continue; fi
                hf $sc $r $n $nr "$(rt_run_cmd $r bench-true "$W/bundle-true")"
        done
}

scenario_engine() { # N
        local n=${1:-0} e sc=engine hf_note=
        [ "$n" -gt 0 ] && sc=scale-engine hf_note=${fill_note:-}
        say "== ($sc) run --rm busybox true, $n running containers"
        for e in $engines; do
                if [ -z "${eng_ok[$e]:-}" ]; then na $sc $e $n latency ms "${eng_why[$e]}"; continue; fi
                hf $sc $e $n $eruns "${eng_cmd[$e]}"
        done
}

# Throughput: 2 clients in parallel, each running PER containers back to
# back; hyperfine times the whole batch; runs/s = 2*PER / median.
scenario_throughput() {
        local s per cmd json v
        say "== (throughput) run --rm true per second, 2 parallel clients"
        for s in $runtimes $engines; do
                local ok=${rt_ok[$s]:-${eng_ok[$s]:-}} why=${rt_why[$s]:-${eng_why[$s]:-}}
                if [ -z "$ok" ]; then na throughput $s 0 throughput runs/s "$why"; continue; fi
                case $s in
                floor | crun | runc | ghostbox-runtime) per=$tp_rt cmd=$(rt_run_cmd $s @ID@ "$W/bundle-true") ;;
                *) per=$tp_eng cmd=${eng_cmd[$s]} ;;
                esac
                json=$raw/throughput-$s.json
                : >"$W/clients.log"
                if ! GB_CLIENT_LOG=$W/clients.log hyperfine -N --style none --runs 3 --export-json "$json" -n "$s" \
                        "bash $bench/clients.sh 2 $per $cmd" >>"$log" 2>&1; then
                        na throughput $s 0 throughput runs/s "a client failed: $(tail -1 "$W/clients.log")"
                        continue
                fi
                # Median of runs/s; min/max from the slowest/fastest batch.
                v=$(jq -r --argjson k $((2 * per)) '.results[0] | [($k / .median), ($k / .max), ($k / .min)] | map(. * 10 | round / 10 | tostring) | join(" ")' "$json")
                set -- $v
                row throughput $s 0 throughput runs/s "$1" "$2" "$3" 3 "2 clients x $per runs per batch"
                say "  $s: $1 runs/s ($2-$3)"
        done
}

# Memory of one process, kB, from smaps_rollup: "rss pss private".
mem_of() {
        awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} /^Private_(Clean|Dirty):/ {q+=$2} END {print r+0, p+0, q+0}' \
                "/proc/$1/smaps_rollup" 2>/dev/null
}
# stats over numbers on stdin: "median min max n"
stats() { sort -n | awk '{a[NR]=$1} END {if (!NR) {print "n/a - - 0"; exit} m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; print m, a[1], a[NR], NR}'; }

# fill SYSTEM N: bring SYSTEM to N sleeping containers (adds the missing ones).
declare -A filled
fill() {
        local s=$1 n=$2 have=${filled[$1]:-0} i
        [ "$have" -ge "$n" ] && return 0
        say "  starting $((n - have)) sleeping $s containers ($have running)"
        if [ "$s" = floor ]; then
                # floor waits for its child: keep it in the background.
                for ((i = have; i < n; i++)); do
                        "$W/floor" "$W/rootfs" $base $count /bin/sleep 1000000 >>"$log" 2>&1 </dev/null &
                        floor_pids+=($!)
                done
                filled[$s]=$n
                sleep 0.5
                fill_note="$(running floor) of $n containers up"
                return 0
        fi
        for ((i = have; i < n; i++)); do echo $i; done | case $s in
        docker) xargs -P 4 -I{} docker -H "unix://$W/docker/sock" run -d --pull never --network none --name fill-{} busybox sleep 1000000 ;;
        # podman 4.3 deadlocks (futex wait, forever) when several
        # `run -d --userns=auto` race; start its containers one at a time.
        podman) xargs -P 1 -I{} podman --root "$W/podman/root" --runroot "$W/podman/run" --tmpdir "$W/podman/tmp" \
                --cgroup-manager cgroupfs --events-backend file run -d --pull never --userns=auto --network none --name fill-{} busybox sleep 1000000 ;;
        ghostbox) xargs -P 4 -I{} "$gb_cli" --data-root "$W/gb/data" --exec-root "$W/gb/exec" run -d --name fill-{} busybox sleep 1000000 ;;
        crun | runc | ghostbox-runtime)
                xargs -P 4 -I{} "$(rt_bin $s)" --root "$W/state-$s" run -d --bundle "$W/bundle-sleep" fill-{} ;;
        esac >>"$log" 2>&1
        filled[$s]=$n
        local up
        up=$(running $s)
        fill_note="$up of $n containers up"
        [ "$up" -lt "$n" ] && say "  only $up of $n $s containers started (see $log)"
        return 0
}
running() { # SYSTEM: how many of its containers are up
        case $1 in
        docker) dk ps -q | wc -l ;;
        podman) pm ps -q | wc -l ;;
        ghostbox) gbx ps -q 2>/dev/null | wc -l ;;
        crun | runc | ghostbox-runtime) rt_cmd $1 list 2>/dev/null | grep -c ' running ' ;;
        floor) local p c=0; for p in "${floor_pids[@]}"; do kill -0 "$p" 2>/dev/null && c=$((c + 1)); done; echo $c ;;
        esac
}
unfill() {
        local s=$1 id p
        say "  removing the $s containers"
        case $s in
        # dockerd removes one container per request: 500 in one `rm -f`
        # take minutes, a few requests in parallel much less.
        # dockerd 20.10 sometimes never answers an rm (seen with 500
        # containers): bound it; cleanup() kills what is left.
        docker) dk ps -aq | timeout 300 xargs -r -P 4 -n 25 docker -H "unix://$W/docker/sock" rm -f >>"$log" 2>&1 ;;
        podman) pm rm -af -t 0 >>"$log" 2>&1 ;;
        ghostbox) gbx rm -f $(gbx ps -aq) >>"$log" 2>&1 ;;
        crun | runc | ghostbox-runtime)
                for id in $(rt_cmd $s list -q 2>/dev/null); do rt_cmd $s delete --force "$id" >>"$log" 2>&1; done ;;
        # SIGKILL to floor leaves its child (the namespace's init): kill
        # the child first, by its parent's PID.
        floor) if [ ${#floor_pids[@]} -gt 0 ]; then
                        pkill -9 -P "$(IFS=,; echo "${floor_pids[*]}")"
                        kill -9 "${floor_pids[@]}" 2>/dev/null
                        wait "${floor_pids[@]}" 2>/dev/null
                fi
                floor_pids=() ;;
        esac
        filled[$s]=0
}

# Per-container monitor memory and the engine's own, with N containers up.
measure_memory() { # SCENARIO SYSTEM N
        local sc=$1 s=$2 n=$3 pat eng_pat p
        case $s in
        docker) pat="containerd-shim.*$W" eng_pat="^(dockerd|containerd) .*$W" ;;
        podman) pat="conmon.*$W" eng_pat='' ;;
        ghostbox) pat="ghostbox-monitor.*$W" eng_pat='' ;;
        esac
        local pids
        pids=$(pgrep -f -- "$pat")
        if [ -z "$pids" ]; then
                na $sc "$s" "$n" monitor-pss kB "no per-container process matching '$pat' found"
                return
        fi
        local k name col
        for k in 1 2 3; do
                case $k in 1) name=monitor-rss ;; 2) name=monitor-pss ;; 3) name=monitor-private ;; esac
                set -- $(for p in $pids; do mem_of $p; done | awk -v c=$k '{print $c}' | stats)
                row $sc "$s" "$n" $name kB "$1" "$2" "$3" "$4" "per-container ${pat%%.*}; ${fill_note:-}"
        done
        say "  $s: per-container ${pat%%.*}: Pss median $(awk "/$s\t$n\tmonitor-pss/" "$tsv" | tail -1 | cut -f6) kB over $(wc -w <<<"$pids") processes"
        if [ -n "$eng_pat" ]; then
                set -- $(for p in $(pgrep -f -- "$eng_pat"); do mem_of $p; done |
                        awk '{r+=$1; q+=$2; x+=$3} END {print r+0, q+0, x+0}')
                row $sc "$s" "$n" engine-rss kB "$1" - - 1 "dockerd + its containerd, summed"
                row $sc "$s" "$n" engine-pss kB "$2" - - 1 "dockerd + its containerd, summed"
                row $sc "$s" "$n" engine-private kB "$3" - - 1 "dockerd + its containerd, summed"
                say "  $s: engine (dockerd+containerd) Pss $2 kB, private $3 kB"
        else
                row $sc "$s" "$n" engine-pss kB 0 - - 1 "daemonless: no engine process while containers run"
        fi
}

scenario_memory() {
        local s
        say "== (memory) $mem_n sleeping containers: per-container monitor and engine memory"
        for s in $(monitored); do
                if [ -z "${eng_ok[$s]:-}" ]; then na memory $s $mem_n monitor-pss kB "${eng_why[$s]}"; continue; fi
                fill $s $mem_n
                measure_memory memory $s $mem_n
                unfill $s
        done
}

# Scenario 6: (1), (2) and (4) with 10, 100, 500 of the system's own
# containers sleeping in the background.
scenario_scale() {
        local s n
        say "== (scale) latency and memory against running containers: $scale_ns"
        for s in $runtimes; do
                if [ -z "${rt_ok[$s]:-}" ]; then
                        for n in $scale_ns; do na scale-runtime $s $n latency ms "${rt_why[$s]}"; done
                        continue
                fi
                for n in $scale_ns; do
                        fill $s $n
                        local saved=$runtimes
                        runtimes=$s scenario_runtime $n
                        runtimes=$saved
                done
                unfill $s
        done
        for s in $(monitored); do
                if [ -z "${eng_ok[$s]:-}" ]; then
                        for n in $scale_ns; do na scale-engine $s $n latency ms "${eng_why[$s]}"; done
                        continue
                fi
                for n in $scale_ns; do
                        fill $s $n
                        local saved=$engines
                        engines=$s scenario_engine $n
                        [ $s = docker ] && [[ " $saved " == *" docker-net-none "* ]] && engines=docker-net-none scenario_engine $n
                        engines=$saved
                        measure_memory scale-memory $s $n
                done
                unfill $s
        done
}

# Scenario 3: making a container's root filesystem for images of ~100, 10k
# and 100k files. References: the kernel's idmapped mount + overlay (what
# ghostbox's idmap mode costs at least) and a copy + chown -R (what a chown
# mode costs); Docker's remapped `docker load`; ghostbox's two modes through
# bench/rootfs-prep.sh (written with the image store) when it exists.
scenario_rootfs() {
        local n img
        say "== (rootfs) root filesystem preparation"
        cc -O2 -o "$W/idmap-mount" "$bench/idmap-mount.c" || { say "bench: building idmap-mount.c failed"; return; }
        rootfs_ghostbox_run
        for n in 100 10000 100000; do
                img=$W/img-$n
                say " - image of ~$n files"
                make_rootfs "$img/rootfs" $((n > 300 ? n - 270 : 0))
                [ $n -le 300 ] && find "$img/rootfs/bin" -type l | sort | tail -n +$((n - 10)) | xargs rm -f
                local files
                files=$(find "$img/rootfs" | wc -l)
                tar -C "$img/rootfs" --numeric-owner --owner=0 --group=0 -cf "$img/image.tar" .
                mkdir -p "$img/layer" "$img/lower" "$img/upper" "$img/work" "$img/merged"
                tar -C "$img/layer" -xf "$img/image.tar"
                chown $base:$base "$img/upper" "$img/work"

                # kernel floor of idmap mode: idmapped bind of the layer +
                # overlay over it; O(1) in the number of files.
                hf rootfs idmap-kernel $n $runs \
                        "$W/idmap-mount $img/layer $img/lower $img/upper $img/work $img/merged $base $count" \
                        --prepare "sh -c 'umount $img/merged $img/lower 2>/dev/null; rm -rf $img/upper/* $img/work/*; true'" &&
                        sed -i "\$s/\t\$/\t$files files/" "$tsv"
                umount "$img/merged" "$img/lower" 2>/dev/null
                # chown mode reference: copy the layer and shift its owners.
                HF_WARMUP=0 hf rootfs chown-copy $n $prep_runs \
                        "sh -c 'cp -a $img/layer $img/copy && chown -R $base:$base $img/copy'" \
                        --prepare "rm -rf $img/copy" &&
                        sed -i "\$s/\t\$/\t$files files/" "$tsv"
                rm -rf "$img/copy"
                # ghostbox's own modes.
                rootfs_ghostbox $n "$files"
                # Docker: `docker load` of a docker-archive into the remapped
                # daemon (extracts and shifts every file).
                if [ -n "${docker_ok:-}" ]; then
                        if dk import "$img/image.tar" bench/files-$n >>"$log" 2>&1 &&
                                dk save -o "$img/docker.tar" bench/files-$n >>"$log" 2>&1; then
                                HF_WARMUP=0 hf rootfs docker-load $n $prep_runs "docker -H unix://$W/docker/sock load -q -i $img/docker.tar" \
                                        --prepare "docker -H unix://$W/docker/sock rmi -f bench/files-$n" &&
                                        sed -i "\$s/\t\$/\t$files files/" "$tsv"
                                dk rmi -f bench/files-$n >>"$log" 2>&1
                        else
                                na rootfs docker-load $n latency ms "docker import/save of the test image failed"
                        fi
                else
                        na rootfs docker-load $n latency ms "${docker_why:-dockerd not started}"
                fi
                rm -rf "$img"
        done
}

# ghostbox's two modes come from bench/rootfs-prep.sh, written with the image
# store: `GB_BUILD=DIR bash bench/rootfs-prep.sh RUNS` prints
#   FILES MODE COLD(ms) WARM(ms) MOUNTS
# per image size and mode, each a median of RUNS prepares timed inside the
# library (its gb-rootfs-tool helper), cold = a mapping never used before.
# GB_ROOTFS_PREP overrides the script's path.
declare -A gbprep
rootfs_ghostbox_run() {
        local script=${GB_ROOTFS_PREP:-$bench/rootfs-prep.sh} out line
        if ! [ -f "$script" ]; then
                gbprep_why="bench/rootfs-prep.sh not in this tree yet (image store branch)"
                return
        fi
        say " - ghostbox: bash $script $prep_runs"
        local rc before d
        before=$(ls -d /var/tmp/gb-bench-rootfs.* 2>/dev/null)
        out=$(GB_BUILD=$GB_BUILD bash "$script" "$prep_runs" 2>&1)
        rc=$?
        # Its temp dir stays behind when its own cleanup fails; its mounts
        # were in our mount namespace, so removing the dir is enough.
        for d in /var/tmp/gb-bench-rootfs.*; do
                [ -d "$d" ] && ! grep -qxF "$d" <<<"$before" && rm -rf "$d"
        done
        printf '%s\n' "$out" >"$raw/rootfs-ghostbox.txt"
        # Its rows count even if it exits non-zero afterwards (e.g. in its
        # own cleanup); with no rows, the reason is its last line.
        gbprep_why="rootfs-prep.sh exited $rc: $(grep -v '^#' <<<"$out" | tail -1)"
        while read -r line; do
                set -- $line
                [[ $1 =~ ^[0-9]+$ && ($2 == idmap || $2 == chown) ]] || continue
                gbprep[$1-$2]="$3 $4 $5"
        done <<<"$out"
}
rootfs_ghostbox() { # N FILES
        local n=$1 files=$2 mode v
        for mode in idmap chown; do
                v=${gbprep[$n-$mode]:-}
                if [ -z "$v" ]; then
                        na rootfs ghostbox-$mode $n latency ms "${gbprep_why:-rootfs-prep.sh printed no $n/$mode row}"
                        continue
                fi
                set -- $v
                row rootfs ghostbox-$mode $n latency ms "$1" - - $prep_runs "cold (new mapping), timed in-library by rootfs-prep.sh; warm $2 ms; $3 mounts; its own image of $n files"
                say "  ghostbox-$mode: median $1 ms cold, $2 ms warm"
        done
}

# --------------------------------------------------------------- report
machine() {
        local p v
        echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC') (started $start_date)"
        echo "- Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (at the start: $start_load); other jobs on the machine inflate every row alike"
        echo "- Machine: $(nproc) CPUs ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)), $(free -g | awk '/^Mem:/ {print $2}') GiB memory, kernel $(uname -r), Debian $(cat /etc/debian_version)"
        echo "- cgroups: $cgroup_note"
        printf -- '- Peers (Debian packages):'
        for p in crun runc podman conmon docker.io containerd hyperfine busybox-static; do
                v=$(dpkg-query -W -f='${Version}' $p 2>/dev/null) || v="not installed"
                printf ' %s %s;' $p "$v"
        done
        echo
        echo "- ghostbox: tree $(git -C "$top" describe --always --dirty 2>/dev/null); binaries from $GB_BUILD$([ -f "$GB_BUILD/REV" ] && echo " (built from commit $(cat "$GB_BUILD/REV"))")"
        echo "- Scenario 6 container counts: $scale_ns"
        echo "- Command: \`$([ "$GB_BUILD" != "$top/build" ] && echo "GB_BUILD=$GB_BUILD ")$([ -n "${GB_ROOTFS_PREP:-}" ] && echo "GB_ROOTFS_PREP=$GB_ROOTFS_PREP ")bash bench/run.sh$([ $quick -eq 1 ] && echo ' --quick')$([ "$only" != runtime,engine,rootfs,memory,throughput,scale,commit,publish ] && echo " --only $only")$([ -n "$systems" ] && echo " --systems $systems")\` (runs per latency point: $runs runtime, $eruns engine)"
}

# Commit: a container that wrote 1000 files of 20 KiB (20 MiB) becomes an
# image; each run makes one more image from the same container (docker
# pauses it meanwhile, as by default; ghostbox and podman do not).
scenario_commit() {
        local e cmd mk='mkdir /data; i=0; while [ $i -lt 1000 ]; do head -c 20480 /dev/urandom >/data/f$i; i=$((i+1)); done'
        local nr=$(( eruns < 10 ? eruns : 10 ))
        say "== (commit) commit a container that wrote 1000 files of 20 KiB"
        for e in $engines; do
                [ "$e" = docker-net-none ] && continue
                if [ -z "${eng_ok[$e]:-}" ]; then na commit $e 0 latency ms "${eng_why[$e]}"; continue; fi
                case $e in
                ghostbox) gbx run --name bc-gb busybox sh -c "$mk" >>"$log" 2>&1
                        cmd="$gb_cli --data-root $W/gb/data --exec-root $W/gb/exec commit bc-gb" ;;
                ghostboxd) docker -H "unix://$W/gbd.sock" run --name bc-gbd busybox sh -c "$mk" >>"$log" 2>&1
                        cmd="docker -H unix://$W/gbd.sock commit bc-gbd" ;;
                podman) pm run --name bc-pm --pull never --userns=auto busybox sh -c "$mk" >>"$log" 2>&1
                        cmd="podman --root $W/podman/root --runroot $W/podman/run --tmpdir $W/podman/tmp --cgroup-manager cgroupfs --events-backend file commit -q bc-pm" ;;
                docker) dk run --name bc-dk --pull never busybox sh -c "$mk" >>"$log" 2>&1
                        cmd="docker -H unix://$W/docker/sock commit bc-dk" ;;
                esac
                HF_WARMUP=1 hf commit $e 0 $nr "$cmd"
        done
}

# Publish: 256 MiB from a host client to 127.0.0.1:PORT, published with
# -p onto `nc -l` in the container, until the server's EOF: ghostbox's
# userspace proxy in the monitor, docker's docker-proxy (its default for
# loopback clients), podman's port forwarding.
scenario_publish() {
        local e port=$((20000 + RANDOM % 10000)) srv='while :; do nc -l -p 9001 >/dev/null; done'
        local nr=$(( eruns < 10 ? eruns : 10 )) ok
        say "== (publish) 256 MiB through a published port (-p 127.0.0.1:PORT:9001)"
        for e in $engines; do
                [ "$e" = docker-net-none ] && continue
                if [ -z "${eng_ok[$e]:-}" ]; then na publish $e 0 latency ms "${eng_why[$e]}"; continue; fi
                port=$((port + 1))
                ok=1
                case $e in
                ghostbox) gbx run -d --name bp-gb -p "127.0.0.1:$port:9001" busybox sh -c "$srv" >>"$log" 2>&1 || ok= ;;
                ghostboxd) docker -H "unix://$W/gbd.sock" run -d --name bp-gbd -p "127.0.0.1:$port:9001" busybox \
                        sh -c "$srv" >>"$log" 2>&1 || ok= ;;
                podman) pm run -d --name bp-pm --pull never --userns=auto -p "127.0.0.1:$port:9001" busybox \
                        sh -c "$srv" >>"$log" 2>&1 || ok= ;;
                docker) dk run -d --name bp-dk --pull never -p "127.0.0.1:$port:9001" busybox sh -c "$srv" \
                        >>"$log" 2>&1 || ok= ;;
                esac
                for _ in $(seq 50); do python3 "$bench/push.py" $port 1 >/dev/null 2>&1 && break; sleep 0.1; done
                if [ -z "$ok" ] || ! python3 "$bench/push.py" $port 1 >>"$log" 2>&1; then
                        na publish $e 0 latency ms "the published port does not answer: $(tail -2 "$log" | tr '\n\t' '  ')"
                        continue
                fi
                HF_WARMUP=1 hf publish $e 0 $nr "python3 $bench/push.py $port 256"
        done
}

# --------------------------------------------------------------- main
has() { [[ ",$only," == *",$1,"* ]]; }
prepare_images
probe_runtimes
if [ -n "$engines" ] && { has engine || has memory || has throughput || has scale || has rootfs || has commit || has publish; }; then setup_engines; fi
has runtime && scenario_runtime 0
has engine && scenario_engine 0
has throughput && scenario_throughput
has memory && scenario_memory
has rootfs && scenario_rootfs
has scale && scenario_scale
has commit && scenario_commit
has publish && scenario_publish

cp "$tsv" "$results/latest.tsv"
machine >"${tsv%.tsv}.md"
echo
bash "$bench/report.sh" "$tsv"
say "bench: wrote $tsv and bench/RESULTS.md (merge runs: bash bench/report.sh A.tsv B.tsv)"
