#!/usr/bin/env bash
# Image store: import (plain/gzip/zstd/stdin, --change), docker-save and OCI
# layout archives built here from busybox-static, save/load round trips with
# identical IDs, images/tag/rmi, truncated and corrupt archives, the
# "image in use" refusal, and images listed regardless of remapping.
. "$(dirname "$0")/lib.sh"
require_root
DR=$T/data
gb() { "$GHOSTBOX" --data-root "$DR" "$@"; }
TOOL=$GB_BUILD/tests/helpers/gb-rootfs-tool
sha() { sha256sum "$1" | cut -d' ' -f1; }

make_busybox_rootfs "$T/rf"
tar -C "$T/rf" -cf "$T/rf.tar" .
gzip -kn "$T/rf.tar"
zstd -q "$T/rf.tar" -o "$T/rf.tar.zst"
diff_id=sha256:$(sha "$T/rf.tar")

# --- import
id=$(gb import --change 'CMD ["/bin/sh","-c","echo hi"]' --change 'ENV FOO=bar' --change 'WORKDIR /root' \
        --change 'USER 33' --change 'LABEL org.test=yes' --change 'ENTRYPOINT /bin/true' "$T/rf.tar" bb:plain 2>&1)
check_match "import plain tar prints the image ID" '^sha256:[0-9a-f]{64}$' "$id"
check_eq "layer stored under its diff ID (sha256 of the tar)" "1" \
        "$(ls "$DR/layers/sha256" | grep -c "^${diff_id#sha256:}$")"
check_eq "image ID is the sha256 of the stored config" "$id" "sha256:$(sha "$DR/images/sha256/${id#sha256:}.json")"
cfg=$(cat "$DR/images/sha256/${id#sha256:}.json")
check_match "--change CMD" '"Cmd":\["/bin/sh","-c","echo hi"\]' "$cfg"
check_match "--change ENV (added to the default PATH)" '"Env":\["PATH=[^"]*","FOO=bar"\]' "$cfg"
check_match "--change WORKDIR/USER/LABEL/ENTRYPOINT" \
        '"Entrypoint":\["/bin/sh","-c","/bin/true"\].*"Labels":\{"org.test":"yes"\}.*"User":"33","WorkingDir":"/root"' "$cfg"
check_match "config has rootfs.diff_ids" "\"diff_ids\":\[\"$diff_id\"\]" "$cfg"
info=$(cat "$DR/layers/info/${diff_id#sha256:}.json")
check_match "layer metadata records highest UID (www-data 33)" '"max_uid": 33' "$info"
check_match "layer metadata records the file holding it" '"max_uid_path": "/var/www"' "$info"
check_fails "--change with an unknown instruction fails" gb import --change 'RUN rm -rf /' "$T/rf.tar"

idg=$(gb import "$T/rf.tar.gz" bb:gz)
idz=$(gb import - bb:zst <"$T/rf.tar.zst")
check_eq "gzip and zstd (stdin) imports share the one layer" "1" "$(ls "$DR/layers/sha256" | wc -l)"
check_match "gzip layer recorded as such" '"compression": "none"' "$info"
check_match "import from stdin" '^sha256:' "$idz"

# --- a progress bar on a terminal, nothing on a pipe
err=$("$GHOSTBOX" --data-root "$T/dataP" import "$T/rf.tar.gz" 2>&1 >/dev/null)
check_eq "no progress output when stderr is not a terminal" "" "$err"
if command -v script >/dev/null; then
        out=$(script -qec "'$GHOSTBOX' --data-root '$T/dataP' import '$T/rf.tar.gz'" /dev/null)
        check_match "a progress bar on a terminal" "Importing \[=+\] 100% " "$out"
fi

# --- images / tag / -q / json
out=$(gb images)
check_match "images lists the tags" "bb +plain +${id:7:12}" "$out"
check_eq "images -q prints unique short IDs" "$(printf '%s\n' "${id:7:12}" "${idg:7:12}" "${idz:7:12}" | sort)" \
        "$(gb images -q | sort)"
check_match "images --format json" '"Repository":"bb","Tag":"plain"' "$(gb images --format json)"
check "tag" gb tag bb:plain other/name:v1
check_match "tag shows up" "other/name +v1 +${id:7:12}" "$(gb images)"
check_fails "tag of a missing image fails" gb tag nosuch:img x:y
check_fails "tag with an invalid name fails" gb tag bb:plain 'Bad Name'

# --- images stay listed whatever the remap setting (one global store)
check_eq "images listed with remapping off and on" "$(gb --userns-remap '' images -q | sort)" \
        "$(gb --userns-remap default images -q | sort)"

# --- save / load round trip (same IDs), into a fresh store
check "save" gb save -o "$T/saved.tar" bb:plain other/name:v1 bb:gz
tar -tf "$T/saved.tar" >"$T/members"
check_match "save writes both layouts" "manifest.json" "$(grep -x -e manifest.json -e index.json -e oci-layout "$T/members" | tr '\n' ' ')"
out=$("$GHOSTBOX" --data-root "$T/data2" load -i "$T/saved.tar")
check_match "load reports the tags" "Loaded image: bb:plain" "$out"
check_eq "round trip keeps the image IDs" "$(gb images -q --no-trunc | sort -u | grep -v "${idz}")" \
        "$("$GHOSTBOX" --data-root "$T/data2" images -q --no-trunc | sort -u)"
check_eq "round trip keeps the diff IDs" "${diff_id#sha256:}" "$(ls "$T/data2/layers/sha256")"
# The OCI half alone (no manifest.json) loads to the same IDs.
mkdir "$T/ocionly" && tar -C "$T/ocionly" -xf "$T/saved.tar" && rm "$T/ocionly/manifest.json"
tar -C "$T/ocionly" -cf "$T/ocionly.tar" .
out=$("$GHOSTBOX" --data-root "$T/data3" load -i "$T/ocionly.tar" 2>&1)
check_match "load of the OCI layout half" "Loaded image: other/name:v1" "$out"
check_eq "OCI half gives the same IDs" "$("$GHOSTBOX" --data-root "$T/data2" images -q --no-trunc | sort -u)" \
        "$("$GHOSTBOX" --data-root "$T/data3" images -q --no-trunc | sort -u)"

# --- a docker-save archive built by hand: two layers, the second with
# whiteouts, gzip layer, whole archive gzip-compressed.
mkdir -p "$T/l2/data" "$T/l2/opq" "$T/ds"
echo new >"$T/l2/opq/y"
: >"$T/l2/data/.wh.a"
: >"$T/l2/opq/.wh..wh..opq"
mkdir -p "$T/rf/data" "$T/rf/opq" && echo a >"$T/rf/data/a" && echo b >"$T/rf/data/b" && echo x >"$T/rf/opq/x"
tar -C "$T/rf" -cf "$T/l1.tar" .
tar -C "$T/l2" -cf "$T/l2.tar" .
d1=$(sha "$T/l1.tar"); d2=$(sha "$T/l2.tar")
mkdir -p "$T/ds/$d1" "$T/ds/$d2"
cp "$T/l1.tar" "$T/ds/$d1/layer.tar"
gzip -n <"$T/l2.tar" >"$T/ds/$d2/layer.tar"
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s","sha256:%s"]}}' "$d1" "$d2" >"$T/ds/cfg.json"
cid=$(sha "$T/ds/cfg.json"); mv "$T/ds/cfg.json" "$T/ds/$cid.json"
printf '[{"Config":"%s.json","RepoTags":["docker/saved:1"],"Layers":["%s/layer.tar","%s/layer.tar"]}]' "$cid" "$d1" "$d2" >"$T/ds/manifest.json"
tar -C "$T/ds" -czf "$T/docker-save.tar.gz" .
out=$(gb load -i "$T/docker-save.tar.gz" 2>&1)
check_match "load docker-save archive (gzip'd, gzip layer)" "Loaded image: docker/saved:1" "$out"
check_eq "docker-save image ID is its config digest" "sha256:$cid" "$(gb images -q --no-trunc | grep "$cid")"
L2=$DR/layers/sha256/$d2
check_eq "whiteout became an overlayfs 0/0 char device" "character special file 0,0" "$(stat -c '%F %t,%T' "$L2/data/a")"
check_eq "opaque marker became trusted.overlay.opaque=y" "y" \
        "$(python3 -c 'import os,sys; print(os.getxattr(sys.argv[1],"trusted.overlay.opaque").decode())' "$L2/opq")"
check_eq "no .wh. files stored" "" "$(find "$L2" -name '.wh.*')"
rf=$("$TOOL" prepare "$DR" "$T/run" cwh docker/saved:1 idmap 0:100000:65536 | cut -d' ' -f1)
at_exit "$TOOL release $DR $T/run cwh 0:100000:65536"
check_eq "through the overlay: whiteout hides a, opaque dir hides x" "b|y" \
        "$(ls "$rf/data" | tr '\n' ' ' | xargs)|$(ls "$rf/opq" | xargs)"
"$TOOL" release "$DR" "$T/run" cwh 0:100000:65536
rf=$("$TOOL" prepare "$DR" "$T/run" cwh2 docker/saved:1 chown 0:200000:65536 | cut -d' ' -f1)
at_exit "$TOOL release $DR $T/run cwh2 0:200000:65536"
check_eq "chown mode: shifted whiteouts and opaque dirs work the same" "b|y" \
        "$(ls "$rf/data" | tr '\n' ' ' | xargs)|$(ls "$rf/opq" | xargs)"
"$TOOL" release "$DR" "$T/run" cwh2 0:200000:65536

# --- an OCI image-layout archive built by hand: zstd and gzip layers
mkdir -p "$T/oci/blobs/sha256"
zstd -q <"$T/l1.tar" >"$T/oci/blobs/sha256/tmp1"; z1=$(sha "$T/oci/blobs/sha256/tmp1"); mv "$T/oci/blobs/sha256/tmp1" "$T/oci/blobs/sha256/$z1"
gzip -n <"$T/l2.tar" >"$T/oci/blobs/sha256/tmp2"; g2=$(sha "$T/oci/blobs/sha256/tmp2"); mv "$T/oci/blobs/sha256/tmp2" "$T/oci/blobs/sha256/$g2"
printf '{"architecture":"amd64","os":"linux","config":{"Env":["A=1"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s","sha256:%s"]},"created":"2024-01-01T00:00:00Z"}' "$d1" "$d2" >"$T/oci/blobs/sha256/c"
oc=$(sha "$T/oci/blobs/sha256/c"); mv "$T/oci/blobs/sha256/c" "$T/oci/blobs/sha256/$oc"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":"sha256:%s","size":%d},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
        "$oc" "$(stat -c %s "$T/oci/blobs/sha256/$oc")" "$z1" "$(stat -c %s "$T/oci/blobs/sha256/$z1")" "$g2" "$(stat -c %s "$T/oci/blobs/sha256/$g2")" >"$T/oci/blobs/sha256/m"
om=$(sha "$T/oci/blobs/sha256/m"); mv "$T/oci/blobs/sha256/m" "$T/oci/blobs/sha256/$om"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"io.containerd.image.name":"oci/img:zst","org.opencontainers.image.ref.name":"zst"}}]}' \
        "$om" "$(stat -c %s "$T/oci/blobs/sha256/$om")" >"$T/oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$T/oci/oci-layout"
tar -C "$T/oci" -cf "$T/oci.tar" .
out=$("$GHOSTBOX" --data-root "$T/data4" load <"$T/oci.tar" 2>&1)
check_match "load OCI layout archive (zstd + gzip layers) from stdin" "Loaded image: oci/img:zst" "$out"
check_eq "OCI image ID is its config digest" "sha256:$oc" "$("$GHOSTBOX" --data-root "$T/data4" images -q --no-trunc)"
check_eq "both layers extracted under their diff IDs" "$(printf '%s\n' "$d1" "$d2" | sort)" "$(ls "$T/data4/layers/sha256" | sort)"
check "save of a zstd/gzip-layer image" "$GHOSTBOX" --data-root "$T/data4" save -o "$T/oci-re.tar" oci/img:zst
out=$("$GHOSTBOX" --data-root "$T/data5" load -i "$T/oci-re.tar" 2>&1)
check_eq "...and load again: same ID" "sha256:$oc" "$("$GHOSTBOX" --data-root "$T/data5" images -q --no-trunc)"

# A multi-platform image (index inside the index, as Docker 25+ with the
# containerd store saves it): only the entry for this host is loaded; the
# arm64 entry points at a manifest that is not even in the archive.
cp -r "$T/oci" "$T/multi"
arch=$(uname -m); case $arch in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac
other=arm64; [ "$arch" = arm64 ] && other=amd64
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%064d","size":1,"platform":{"os":"linux","architecture":"%s"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"platform":{"os":"linux","architecture":"%s"}}]}' \
        0 "$other" "$om" "$(stat -c %s "$T/oci/blobs/sha256/$om")" "$arch" >"$T/multi/blobs/sha256/i"
mi=$(sha "$T/multi/blobs/sha256/i"); mv "$T/multi/blobs/sha256/i" "$T/multi/blobs/sha256/$mi"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":%d,"annotations":{"io.containerd.image.name":"multi/img:1"}}]}' \
        "$mi" "$(stat -c %s "$T/multi/blobs/sha256/$mi")" >"$T/multi/index.json"
tar -C "$T/multi" -cf "$T/multi.tar" .
out=$("$GHOSTBOX" --data-root "$T/data9" load -i "$T/multi.tar" 2>&1)
check_match "multi-platform OCI index: this host's image, under the outer name" "Loaded image: multi/img:1" "$out"
check_eq "...with the right config" "sha256:$oc" "$("$GHOSTBOX" --data-root "$T/data9" images -q --no-trunc)"

# --- tampered and truncated archives leave nothing behind
cp -r "$T/oci" "$T/bad" && echo junk >>"$T/bad/blobs/sha256/$g2"
tar -C "$T/bad" -cf "$T/bad.tar" .
check_fails "blob not matching its digest is refused" "$GHOSTBOX" --data-root "$T/data6" load -i "$T/bad.tar"
check_eq "...leaving no layer, image or temp dir" "0 0 0" \
        "$(ls "$T/data6/layers/sha256" | wc -l) $(ls "$T/data6/images/sha256" | wc -l) $(ls -A "$T/data6/tmp" | wc -l)"
size=$(stat -c %s "$T/rf.tar.gz")
head -c $((size / 2)) "$T/rf.tar.gz" >"$T/trunc.tar.gz"
head -c $(( $(stat -c %s "$T/rf.tar") / 2 + 100 )) "$T/rf.tar" >"$T/trunc.tar"
for f in trunc.tar.gz trunc.tar; do
        rm -rf "$T/data7"
        out=$("$GHOSTBOX" --data-root "$T/data7" import "$T/$f" trunc:1 2>&1); rc=$?
        check_eq "truncated $f: import fails" "125" "$rc"
        check_eq "truncated $f: no partial layer, image or temp dir" "0 0 0" \
                "$(ls "$T/data7/layers/sha256" | wc -l) $(ls "$T/data7/images/sha256" | wc -l) $(ls -A "$T/data7/tmp" | wc -l)"
done
diag "$out"
head -c $(( $(stat -c %s "$T/docker-save.tar.gz") - 200 )) "$T/docker-save.tar.gz" >"$T/ds-trunc.tar.gz"
check_fails "truncated docker-save archive is refused" "$GHOSTBOX" --data-root "$T/data8" load -i "$T/ds-trunc.tar.gz"
check_eq "...leaving no layer or image" "0 0" "$(ls "$T/data8/layers/sha256" | wc -l) $(ls "$T/data8/images/sha256" | wc -l)"
check_fails "garbage is refused" sh -c "head -c 5000 /dev/urandom | '$GHOSTBOX' --data-root '$T/data8' import -"

# --- rmi
check_fails "rmi by ID of a multi-tag image needs -f" gb rmi "${id:7:12}"
out=$(gb rmi other/name:v1)
check_eq "rmi of one of two tags only untags" "Untagged: other/name:v1" "$out"
"$TOOL" ref "$DR" docker/saved:1 container-abc
out=$(gb rmi -f docker/saved:1 2>&1); rc=$?
check_eq "rmi refuses an image in use, even with -f" "1" "$rc"
check_match "...naming the container" "being used by container container-abc" "$out"
rm "$DR/images/refs/$cid/container-abc"
out=$(gb rmi docker/saved:1)
check_match "rmi deletes the image once released" "Deleted: sha256:$cid" "$out"
check_eq "...and the layers no other image uses" "0 0" \
        "$(ls "$DR/layers/sha256" | grep -c "$d2") $(ls "$DR/layers/sha256" | grep -c "$d1")"
check_eq "shared layer stays while other images use it" "1" "$(ls "$DR/layers/sha256" | grep -c "${diff_id#sha256:}")"
for i in $(gb images -q | sort -u); do gb rmi -f "$i" >/dev/null; done
check_eq "removing every image empties the store" "0 0 0" \
        "$(ls "$DR/layers/sha256" | wc -l) $(ls "$DR/layers/blobs" | wc -l) $(ls "$DR/images/sha256" | wc -l)"

# --- a CLI killed mid-import leaves a temp dir; the next command sweeps it
mkfifo "$T/fifo"
"$GHOSTBOX" --data-root "$DR" import "$T/fifo" killed:1 >/dev/null 2>&1 &
kpid=$!
exec 7>"$T/fifo"
head -c 300000 "$T/rf.tar" >&7
sleep 0.3
gb images >/dev/null
check_eq "an import in progress keeps its temp dir while others run" "1" "$(ls "$DR/tmp" | grep -c '^layer-')"
kill -9 $kpid; wait $kpid 2>/dev/null; exec 7>&-
check_eq "...still there after SIGKILL" "1" "$(ls "$DR/tmp" | grep -c '^layer-')"
gb images >/dev/null
check_eq "the next command sweeps the dead import's temp dir" "0" "$(ls -A "$DR/tmp" | wc -l)"
check_eq "...and the killed import left no image or layer" "0 0" \
        "$(gb images | grep -c '^killed') $(ls "$DR/layers/sha256" | wc -l)"

# --- concurrent imports of the same tarball: one layer, all succeed
for i in 1 2 3 4; do gb import "$T/rf.tar" "par:$i" >"$T/par.$i" 2>&1 & done
wait
check_eq "4 concurrent imports: 4 tags, 1 layer" "4 1" "$(gb images | grep -c '^par ') $(ls "$DR/layers/sha256" | wc -l)"
grep -h ghostbox "$T"/par.* | sed 's/^/# /'
done_testing
