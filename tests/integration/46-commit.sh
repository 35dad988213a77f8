#!/usr/bin/env bash
# ghostbox commit: a container's changes become an image layer that keeps
# container IDs (so every ID range shares it, like a loaded image), with
# OCI whiteouts, v2 file capabilities and the container's config.
. "$(dirname "$0")/lib.sh"
require_root
engine_env
tar --numeric-owner -C "$T/rootfs" -cf "$T/busybox.tar" .
gb import "$T/busybox.tar" busybox >/dev/null

layers() { ls "$T/data/layers/sha256" | sort; }
cfg() { jq -c "$1" "$T/data/images/sha256/${2#sha256:}.json"; }

# A base with a directory of two files, committed from a container.
gb run --name base busybox sh -c 'mkdir /data; echo a >/data/a; echo b >/data/b' >/dev/null
id0=$(gb commit base base:1)
check_match "commit prints the new image's ID" '^sha256:[0-9a-f]{64}$' "$id0"
check_match "... and the image is listed under its name" '^base +1 ' "$(gb images)"

# The changes of a second container on top: a file chowned to 33, a
# hard link, a deleted image file, a directory replaced (opaque), env and
# a --change.
gb run --name c1 -e FOO=bar base:1 sh -c '
        echo hi >/hello; chown 33:33 /hello; ln /hello /hello2
        rm /bin/vi
        rm -rf /data; mkdir /data; echo c >/data/c' >/dev/null
before=$(layers)
id=$(gb commit -m "a message" -a "Jane <j@example.com>" -c 'CMD ["cat","/hello"]' c1 mine:v1)
new=$(comm -13 <(echo "$before") <(layers))
check_eq "commit adds exactly one layer" 1 "$(grep -c . <<<"$new")"
L=$T/data/layers/sha256/$new
check_eq "the layer keeps container IDs on disk (33, not 400033): one copy for every range" "33:33" \
        "$(stat -c %u:%g "$L/hello")"
check_eq "a deleted image file is a whiteout in the layer" "character special file 0,0" \
        "$(stat -c '%F %t,%T' "$L/bin/vi")"
check_eq "a replaced directory is opaque in the layer" y \
        "$(python3 -c 'import os,sys; print(os.getxattr(sys.argv[1],"trusted.overlay.opaque").decode())' "$L/data" 2>&1)"
check_eq "the runtime's mount-point stubs are not the container's changes" "" \
        "$(ls "$L/etc" 2>/dev/null)"

check_eq "the new image runs: --change CMD" hi "$(gb run --rm mine:v1)"
out=$(gb run --rm mine:v1 sh -c 'stat -c "%u:%g %h" /hello; ls /data; ls /bin/vi 2>&1; echo FOO=$FOO')
check_match "... the file is owned by 33 inside" '^33:33 2$' "$out"
check_match "... the replaced directory has only the new file" '^c$' "$out"
check_match "... the deleted file stays deleted" 'No such file' "$out"
check_match "... the container's env is the image's" '^FOO=bar$' "$out"
check_eq "... and under --userns=auto (another range) the owner is still 33" 33 \
        "$(gb run --rm --userns=auto mine:v1 stat -c %u /hello)"
check_eq "history: comment and author" '"a message" "Jane <j@example.com>"' \
        "$(cfg '.history[-1] | [.comment, .author] | map(tojson) | join(" ")' "$id" | tr -d '\\' | sed 's/^"//; s/"$//')"
check_match "history: created_by is the container's command" 'sh -c' "$(cfg '.history[-1].created_by' "$id")"
check_eq "rootfs: the parent's layers plus one" \
        "$(( $(cfg '.rootfs.diff_ids | length' "$id0") + 1 ))" "$(cfg '.rootfs.diff_ids | length' "$id")"

# save, then load into another data root: the same ID (the blob is the tar
# the diff ID was taken from).
gb save -o "$T/mine.tar" mine:v1
check_eq "save + load elsewhere gives the same image ID" "${id:7:12}" \
        "$("$GHOSTBOX" --data-root "$T/data2" --exec-root "$T/run2" --userns-remap root load -i "$T/mine.tar" >/dev/null &&
                "$GHOSTBOX" --data-root "$T/data2" --exec-root "$T/run2" --userns-remap root images -q mine:v1)"

# File capabilities: the container's root writes v3 (with its host root ID
# 400000); the layer must hold v2, which means "root of whoever runs it".
if command -v setcap >/dev/null && command -v getcap >/dev/null; then
        gb create --name capc busybox true >/dev/null
        gb start capc >/dev/null
        upper=$(find "$T/data" -path "*/containers/*/upper" -type d | while read -r u; do
                [ -d "$(dirname "$u")" ] && grep -q capc "$(dirname "$u")/container.json" 2>/dev/null && echo "$u"; done | head -1)
        cp "$T/rootfs/bin/busybox" "$upper/capbin" && chown 400000:400000 "$upper/capbin"
        setcap -n 400000 cap_net_raw+ep "$upper/capbin"
        check_match "(setup) the upper file carries a v3 capability with rootid 400000" 'rootid=400000' \
                "$(getcap -n "$upper/capbin")"
        cid=$(gb commit capc capimg)
        L2=$T/data/layers/sha256/$(cfg '.rootfs.diff_ids[-1]' "$cid" | tr -d '"' | cut -d: -f2)
        check_eq "a file capability is committed as v2 (no host rootid)" "$L2/capbin cap_net_raw=ep" \
                "$(getcap -n "$L2/capbin")"
        check_match "... and works for the committed image's root" 'cap_net_raw' \
                "$(gb run --rm capimg sh -c 'grep CapEff /proc/self/status; /capbin true' 2>&1; getcap "$L2/capbin")"
else
        skip "setcap/getcap missing (scripts/deps.sh test installs libcap2-bin)"
fi

# Refusals leave nothing behind.
imgs=$(gb images -q | sort)
before=$(layers)
out=$(gb commit -c 'BOGUS x' c1 junk 2>&1)
check_match "a bad --change is refused, naming it" "Failed to apply change 'BOGUS x'" "$out"
check_eq "... no image, no layer, nothing in tmp" "$imgs|$before|" \
        "$(gb images -q | sort)|$(layers)|$(ls "$T/data/tmp")"
check_match "a missing container: Docker's message" 'No such container: nope' "$(gb commit nope 2>&1)"
gb create --name rf "${R[@]}" true >/dev/null
check_match "a --rootfs container has no layer of its own" 'runs from a --rootfs directory' "$(gb commit rf 2>&1)"

# A running container commits too (no freezer: what it has written).
gb run -d --name live busybox sh -c 'echo up >/state; exec sleep 300' >/dev/null
wait_until gb exec live test -f /state
check_eq "commit of a running container" up "$(gb run --rm "$(gb commit live)" cat /state)"
gb rm -f live >/dev/null

# image prune: the untagged images no container uses; -a every unused one.
dang=$(gb commit c1)
held=$(gb commit -c 'LABEL held=1' c1)
gb create --name holder "${held:7}" true >/dev/null
check_eq "image prune without -f asks, and 'n' keeps everything" "$(gb images -q | sort)" \
        "$(echo n | gb image prune >/dev/null; gb images -q | sort)"
out=$(gb image prune -f)
check_match "image prune -f: the dangling image is deleted" "^Deleted: ${dang}\$" "$out"
check_match "... with Docker's summary line" '^Total reclaimed space: [0-9.]+[kMG]?B$' "$out"
check_match "... an untagged image a container uses stays" "${held:7:12}" "$(gb images -q)"
check_match "... tagged images stay" '^mine +v1 ' "$(gb images)"
gb rm -f holder >/dev/null
out=$(gb image prune -a -f)
check_match "image prune -a: unused tagged images go (untagged, then deleted)" 'Untagged: mine:v1' "$out"
check_eq "... the images containers use stay (c1's base:1, capc's busybox)" "base:1 busybox:latest" \
        "$(gb images | awk 'NR > 1 {print $1 ":" $2}' | sort | paste -sd' ')"
check_eq "... and their layers are all still there" "" \
        "$(for d in $(cfg '.rootfs.diff_ids[]' "$id0" | tr -d '"' | cut -d: -f2); do [ -d "$T/data/layers/sha256/$d" ] || echo "$d"; done)"
check_eq "... and base:1 still runs" "a b" "$(gb run --rm base:1 ls /data | paste -sd' ')"
done_testing
