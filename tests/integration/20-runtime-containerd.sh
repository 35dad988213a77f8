#!/usr/bin/env bash
# Debian's containerd drives ghostbox-runtime: an OCI image archive built here
# is imported with `ctr images import` and run with `ctr run --runc-binary`,
# without and with a user namespace. containerd runs with its own temp
# root, state and socket, and is stopped at the end.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/runtime-lib.sh"

if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null ||
        ! command -v containerd-shim-runc-v2 >/dev/null; then
        bash "$GB_TOP/scripts/deps.sh" test >/dev/null 2>&1 || true
fi
if ! command -v containerd >/dev/null || ! command -v containerd-shim-runc-v2 >/dev/null; then
        echo "1..0 # SKIP containerd could not be installed (apt-get install containerd failed)"
        exit 0
fi

# An OCI image layout of a busybox rootfs, as a tar archive.
make_busybox_rootfs "$T/img-root"
mkdir -p "$T/oci/blobs/sha256"
tar -C "$T/img-root" --numeric-owner --owner=0 --group=0 -cf "$T/layer.tar" .
blob() { # FILE -> prints digest, stores the blob
        local d
        d=$(sha256sum "$1" | cut -d' ' -f1)
        cp "$1" "$T/oci/blobs/sha256/$d"
        echo "$d"
}
layer=$(blob "$T/layer.tar")
lsize=$(stat -c %s "$T/layer.tar")
cat >"$T/config.json" <<J
{"architecture": "amd64", "os": "linux",
 "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]},
 "rootfs": {"type": "layers", "diff_ids": ["sha256:$layer"]}}
J
cfg=$(blob "$T/config.json")
csize=$(stat -c %s "$T/config.json")
cat >"$T/manifest.json" <<J
{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
 "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:$cfg", "size": $csize},
 "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:$layer", "size": $lsize}]}
J
man=$(blob "$T/manifest.json")
msize=$(stat -c %s "$T/manifest.json")
echo '{"imageLayoutVersion": "1.0.0"}' >"$T/oci/oci-layout"
cat >"$T/oci/index.json" <<J
{"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
 "digest": "sha256:$man", "size": $msize,
 "annotations": {"org.opencontainers.image.ref.name": "docker.io/library/gbtest:1"}}]}
J
tar -C "$T/oci" -cf "$T/image.tar" .

# Our own containerd.
CD=$T/containerd
mkdir -p "$CD/root" "$CD/state"
cat >"$CD/config.toml" <<TOML
version = 2
root = "$CD/root"
state = "$CD/state"
[grpc]
  address = "$CD/sock"
[ttrpc]
  address = "$CD/sock.ttrpc"
[debug]
  address = "$CD/debug.sock"
[plugins."io.containerd.grpc.v1.cri"]
  disable_cgroup = true
TOML
# A wrapper that records each call, to prove ghostbox-runtime did the work.
cat >"$T/rt-wrap" <<W
#!/bin/sh
echo "\$*" >>"$T/rt-calls"
exec "$GB_RUNTIME" "\$@"
W
chmod +x "$T/rt-wrap"
# ctr 1.6 drops --runc-binary when --uidmap is given; containerd's shims
# inherit its PATH, so "runc" there is ghostbox-runtime as well.
mkdir -p "$T/bin"
ln -s "$T/rt-wrap" "$T/bin/runc"
RUNC_OPTS="--runc-binary $T/rt-wrap --runc-root $T/runc-root"
PATH="$T/bin:$PATH" containerd --config "$CD/config.toml" >"$CD/log" 2>&1 &
cdpid=$!
at_exit "kill $cdpid; wait $cdpid; umount -R '$CD/state' '$CD/root' 2>/dev/null"
at_exit "rmdir /run/containerd/runc/gbtest$$ 2>/dev/null"
ctr_() { ctr --address "$CD/sock" --namespace "gbtest$$" "$@"; }
for _ in $(seq 100); do ctr_ version >/dev/null 2>&1 && break; sleep 0.1; done
check "containerd started with its own root/state/socket" ctr_ version

check "ctr images import of the OCI archive" ctr_ images import --no-unpack=false "$T/image.tar"
check_match "the image is listed" "gbtest:1" "$(ctr_ images ls -q)"
out=$(ctr_ run --rm $RUNC_OPTS docker.io/library/gbtest:1 gb1 sh -c 'echo hello-from-ghostbox; id -u' 2>&1)
check_match "ctr run --runc-binary ghostbox-runtime runs the image" "hello-from-ghostbox" "$out"
check_match "containerd called ghostbox-runtime (create, start, delete)" "create .*gb1.*start gb1.*delete" \
        "$(tr '\n' ' ' <"$T/rt-calls")"

out=$(ctr_ run --rm --uidmap 0:165536:65536 --gidmap 0:165536:65536 \
        docker.io/library/gbtest:1 gb2 sh -c 'cat /proc/self/uid_map; id -u' 2>&1)
check_match "with --uidmap: the container runs in a user namespace" "^ +0 +165536 +65536" "$out"
check_match "with --uidmap: containerd called ghostbox-runtime create for it" "create .* gb2" "$(cat "$T/rt-calls")"
check_match "with --uidmap: id -u is 0 inside" "^0$" "$(tail -1 <<<"$out" | tr -d '\r')"

out=$(ctr_ run --rm $RUNC_OPTS docker.io/library/gbtest:1 gb3 sh -c 'exit 3' 2>&1; echo "rc=$?")
check_match "exit codes pass through containerd" "rc=3" "$out"

# create/start/exec/kill/delete as the shim drives them, detached.
ctr_ run -d $RUNC_OPTS docker.io/library/gbtest:1 gb4 sleep 1000 >/dev/null 2>&1
check_match "a detached task runs" "gb4 +[0-9]+ +RUNNING" "$(ctr_ task ls)"
check_match "ctr task exec (runtime exec --process --detach)" "in-exec" \
        "$(ctr_ task exec --exec-id e1 gb4 sh -c 'echo in-exec' 2>&1)"
check_match "ctr task ps (runtime ps --format json)" "[0-9]+" "$(ctr_ task ps gb4 2>&1)"
ctr_ task kill -s SIGKILL gb4 >/dev/null 2>&1
for _ in $(seq 50); do ctr_ task ls | grep -q "gb4.*STOPPED" && break; sleep 0.1; done
check "ctr task delete" ctr_ task delete gb4
check "ctr container delete" ctr_ container delete gb4
[ "$_t_n" -gt 0 ] && grep -i "error" "$CD/log" | grep -i ghostbox | head -5 | while read -r l; do diag "$l"; done
done_testing
