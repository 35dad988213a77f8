#!/usr/bin/env bash
# bench/build.sh: time a 3-step Dockerfile build (FROM busybox, COPY a file,
# RUN a command, CMD) with ghostbox build, docker build (classic builder,
# DOCKER_BUILDKIT=0, --no-cache, a dockerd of its own with userns-remap)
# and podman build (--no-cache, its own root). Every engine gets the same
# busybox image (imported) and the same context; each builds N times under
# hyperfine, untagged. All state lives in a temp dir removed at exit, and
# the whole run is in a private mount namespace (as bench/run.sh: crun
# refuses this host's hybrid cgroup layout otherwise).
#
#   bash bench/build.sh [RUNS]        (default 10; needs root, hyperfine)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-10}
gb_cli=${GB_CLI:-$top/build/src/cli/ghostbox}
[ "$(id -u)" -eq 0 ] || { echo "bench/build: must run as root" >&2; exit 1; }
if [ -z "${GB_BENCH_INNER:-}" ]; then
        export GB_BENCH_INNER=1
        exec unshare --mount --propagation private -- bash "$0" "$@"
fi
if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null && grep -q . /sys/fs/cgroup/unified/cgroup.controllers; then
        umount /sys/fs/cgroup/unified
fi
W=$(mktemp -d /var/tmp/gb-bench-build.XXXXXX)
chmod 0711 "$W"
dockerd_pid=
added=()
cleanup() {
        [ -n "$dockerd_pid" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null
        for l in "${added[@]}"; do for f in /etc/subuid /etc/subgid; do sed -i "\|^$l\$|d" $f; done; done
        for m in $(grep -o " $W[^ ]*" /proc/self/mounts | sort -r); do umount -l "$m" 2>/dev/null; done
        rm -rf "$W"
}
trap cleanup EXIT
BUSYBOX=/bin/busybox bash "$top/scripts/busybox-image.sh" --dir "$W/rootfs" >/dev/null 2>&1
tar --numeric-owner -C "$W/rootfs" -cf "$W/busybox.tar" .
mkdir -p "$W/ctx"
head -c 1048576 /dev/urandom >"$W/ctx/data.bin"
printf 'FROM busybox\nCOPY data.bin /data.bin\nRUN md5sum /data.bin >/sum\nCMD ["cat", "/sum"]\n' >"$W/ctx/Dockerfile"

# ghostbox: its own roots, remapping to the 'root' ranges of a private file.
printf 'root:400000:65536\n' >"$W/subuid"
cp "$W/subuid" "$W/subgid"
export GHOSTBOX_SUBUID_FILE=$W/subuid GHOSTBOX_SUBGID_FILE=$W/subgid GHOSTBOX_CONFIG=$W/none.json
gbx() { "$gb_cli" --data-root "$W/gb/data" --exec-root "$W/gb/exec" --userns-remap root "$@"; }
gbx import "$W/busybox.tar" busybox >/dev/null
cmds=(-n ghostbox "$gb_cli --data-root $W/gb/data --exec-root $W/gb/exec --userns-remap root build -q $W/ctx")

if command -v dockerd >/dev/null; then
        mkdir -p "$W/docker"
        dockerd --data-root "$W/docker/data" --exec-root "$W/docker/exec" --pidfile "$W/docker/pid" \
                -H "unix://$W/docker/sock" --userns-remap=default --storage-driver overlay2 \
                --log-level warn >"$W/docker/log" 2>&1 &
        dockerd_pid=$!
        dk() { DOCKER_BUILDKIT=0 /usr/bin/docker -H "unix://$W/docker/sock" "$@"; }
        for _ in $(seq 150); do dk version >/dev/null 2>&1 && break; sleep 0.2; done
        if dk import "$W/busybox.tar" busybox:latest >/dev/null 2>&1 && dk build -q "$W/ctx" >/dev/null 2>&1; then
                cmds+=(-n "docker (classic)" "DOCKER_BUILDKIT=0 /usr/bin/docker -H unix://$W/docker/sock build -q --no-cache $W/ctx")
        else
                echo "bench/build: docker skipped: $(tail -2 "$W/docker/log")" >&2
        fi
fi
if command -v podman >/dev/null; then
        l="containers:2000000000:200000000"
        for f in /etc/subuid /etc/subgid; do grep -q '^containers:' $f || { echo "$l" >>$f; added+=("$l"); }; done
        printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n' >"$W/containers.conf"
        export CONTAINERS_CONF=$W/containers.conf
        pm="podman --root $W/podman/root --runroot $W/podman/run --tmpdir $W/podman/tmp"
        mkdir -p "$W/podman/tmp"
        if $pm import "$W/busybox.tar" busybox >/dev/null 2>&1 &&
                $pm build -q --no-cache --userns-uid-map=0:2000000000:65536 --userns-gid-map=0:2000000000:65536 --pull=never "$W/ctx" >/dev/null 2>"$W/podman.err"; then
                cmds+=(-n "podman (userns map)" "$pm build -q --no-cache --userns-uid-map=0:2000000000:65536 --userns-gid-map=0:2000000000:65536 --pull=never $W/ctx")
        else
                echo "bench/build: podman skipped: $(tail -2 "$W/podman.err")" >&2
        fi
fi
hyperfine --warmup 1 --runs "$runs" --export-markdown "$W/out.md" "${cmds[@]}" >&2
cat "$W/out.md"
