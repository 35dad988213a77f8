#!/usr/bin/env bash
# ghostboxd's container filesystem endpoints: /containers/{id}/archive
# (HEAD/GET/PUT, i.e. `docker cp` both ways), /export and /changes
# (`docker diff`), driven with curl and the stock docker CLI (never dockerd).
# Every container is remapped: its root is host UID 400000.
. "$(dirname "$0")/lib.sh"
require_root
gbd_env
# Mounts below $T, once the count holds still (an exiting container's
# monitor may still be tearing its mounts down).
mounts() {
        local a b
        for _ in $(seq 40); do
                a=$(grep -c " $T" /proc/self/mountinfo); sleep 0.1; b=$(grep -c " $T" /proc/self/mountinfo)
                [ "$a" = "$b" ] && break
        done
        echo "$b"
}

if start_gbd; then ok "ghostboxd starts and answers /_ping"; else not_ok "ghostboxd starts and answers /_ping"; fi

# A host file the container must never reach, and a container whose /etc
# links point at the host's view of things.
mkdir -p "$T/hostsecret"
echo "host secret" >"$T/hostsecret/passwd"
echo "host-original" >"$T/hostsecret/target"

run=$(api -X POST -H 'Content-Type: application/json' \
        -d '{"Image":"busybox","Cmd":["sh","-c","echo in-container >/etc/mine; ln -s /etc /etclink; ln -s '"$T"'/hostsecret /escape; ln -s ../../../../../../../../'"$T"'/hostsecret /escape2; mkdir /tmp/d; echo one >/tmp/d/f; rm /bin/true; sleep 300"]}' \
        http://d/v1.41/containers/create | jq -r .Id)
check_eq "create a container" 204 "$(code -X POST "http://d/v1.41/containers/$run/start")"
for _ in $(seq 100); do [ "$(api "http://d/v1.41/containers/$run/archive?path=/tmp/d/f" -o /dev/null -w '%{http_code}')" = 200 ] && break; sleep 0.05; done

# -- HEAD: the path stat header ----------------------------------------------
hdr=$(curl -sI --unix-socket "$SOCK" "http://d/v1.41/containers/$run/archive?path=/etc/mine" | tr -d '\r' |
        sed -n 's/^X-Docker-Container-Path-Stat: //p' | base64 -d)
check_eq "HEAD archive: stat name and size" "mine 13" "$(jq -r '"\(.name) \(.size)"' <<<"$hdr")"
check_eq "... mode is Go's FileMode (0644 regular)" 420 "$(jq -r .mode <<<"$hdr")"
hdr=$(curl -sI --unix-socket "$SOCK" "http://d/v1.41/containers/$run/archive?path=/tmp/d" | tr -d '\r' |
        sed -n 's/^X-Docker-Container-Path-Stat: //p' | base64 -d)
check_eq "... a directory carries Go's ModeDir bit" 1 "$(jq -r '(.mode / 2147483648 | floor)' <<<"$hdr")"
hdr=$(curl -sI --unix-socket "$SOCK" "http://d/v1.41/containers/$run/archive?path=/escape" | tr -d '\r' |
        sed -n 's/^X-Docker-Container-Path-Stat: //p' | base64 -d)
check_eq "... a symlink to a host path: linkTarget is inside the container, not the host dir" \
        "$T/hostsecret" "$(jq -r .linkTarget <<<"$hdr")"
check_eq "HEAD of a missing path: 404" 404 "$(code -I "http://d/v1.41/containers/$run/archive?path=/nope")"
check_eq "GET of a missing path: 404" 404 "$(code "http://d/v1.41/containers/$run/archive?path=/nope")"
check_match "... Docker's message" "Could not find the file /nope in container $run" "$(cat "$T/body")"
check_eq "archive of a missing container: 404" 404 "$(code "http://d/v1.41/containers/nosuch/archive?path=/")"
check_eq "archive without path: 400" 400 "$(code "http://d/v1.41/containers/$run/archive")"

# -- docker cp out ------------------------------------------------------------
mkdir -p "$T/out"
d cp "$run:/etc/mine" "$T/out/mine" 2>>"$T/gbd.log"
check_eq "docker cp out of a running container: a file" "in-container" "$(cat "$T/out/mine" 2>&1)"
d cp "$run:/tmp/d" "$T/out/" 2>>"$T/gbd.log"
check_eq "docker cp out: a directory" "one" "$(cat "$T/out/d/f" 2>&1)"
d cp "$run:/tmp/d/." "$T/out/contents" 2>>"$T/gbd.log"
check_eq "docker cp out of DIR/. copies the contents" "one" "$(cat "$T/out/contents/f" 2>&1)"
api "http://d/v1.41/containers/$run/archive?path=/etc/mine" -o "$T/mine.tar"
check_eq "GET archive: tar IDs are the container's (0:0), not the host's 400000" "0/0" \
        "$(tar --numeric-owner -tvf "$T/mine.tar" | awk '{print $2}')"

# -- symlinks out of the root: resolved inside the container -----------------
# Control: the links really lead to the host when a path is followed the
# naive way (on the host, from the root's mount point), so the checks below
# fail if resolution were not confined to the container's root.
rootfs=$(readlink -f "$T/data/containers/$run")/rootfs
check_eq "control: /escape/passwd followed on the host IS the host's file" "host secret" "$(cat "$rootfs/escape/passwd")"
check_eq "control: so is /escape2/passwd" "host secret" "$(cat "$rootfs/escape2/passwd")"
d cp "$run:/escape/passwd" "$T/out/esc" 2>"$T/cp.err"
check "cp out through a symlink to a host dir: nothing of the host's is read" \
        test ! -e "$T/out/esc" -o "$(cat "$T/out/esc" 2>/dev/null)" != "host secret"
check_match "... the path is not found inside the container" "Could not find|No such" "$(cat "$T/cp.err")"
check_fails "... with ../ in the link too" test "$(d cp "$run:/escape2/passwd" - 2>/dev/null | tar -xOf - 2>/dev/null)" = "host secret"
d cp "$run:/etclink/mine" "$T/out/viaetc" 2>>"$T/gbd.log"
check_eq "... a link inside the container (/etclink -> /etc) is followed inside it" "in-container" "$(cat "$T/out/viaetc" 2>&1)"
echo "from-host" >"$T/target"
d cp "$T/target" "$run:/escape/target" 2>"$T/cp.err"
check_eq "cp in through a symlink to a host dir: the host file is untouched" "host-original" "$(cat "$T/hostsecret/target")"
check_eq "... no file appears in the host dir" "passwd target" "$(ls "$T/hostsecret" | tr '\n' ' ' | sed 's/ $//')"
d exec "$run" mkdir -p "$T/hostsecret" >/dev/null 2>&1
d cp "$T/target" "$run:/escape/target" 2>>"$T/gbd.log"
check_eq "... once the link's target exists in the container, the copy lands there" "from-host" \
        "$(d exec "$run" cat "$T/hostsecret/target" 2>&1)"
check_eq "... and still not on the host" "host-original" "$(cat "$T/hostsecret/target")"
# A tar whose entries climb out of the destination.
python3 - "$T/evil.tar" "$T" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    data = b"pwned\n"
    i = tarfile.TarInfo("../../../../../../../../" + sys.argv[2] + "/hostsecret/evil"); i.size = len(data)
    t.addfile(i, io.BytesIO(data))
EOF
check_eq "PUT a tar with ../ entries: 400" 400 "$(code -X PUT -T "$T/evil.tar" "http://d/v1.41/containers/$run/archive?path=/tmp")"
check "... nothing written on the host" test ! -e "$T/hostsecret/evil"
python3 - "$T/abs.tar" "$T" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    data = b"pwned\n"
    i = tarfile.TarInfo(sys.argv[2] + "/hostsecret/abs"); i.size = len(data)
    t.addfile(i, io.BytesIO(data))
    l = tarfile.TarInfo("hop"); l.type = tarfile.SYMTYPE; l.linkname = sys.argv[2] + "/hostsecret"
    t.addfile(l)
    i = tarfile.TarInfo("hop/viahop"); i.size = len(data)
    t.addfile(i, io.BytesIO(data))
EOF
check_eq "PUT absolute names and a symlink-then-file tar: accepted, kept inside" 200 \
        "$(code -X PUT -T "$T/abs.tar" "http://d/v1.41/containers/$run/archive?path=/tmp")"
check "... nothing written on the host" test ! -e "$T/hostsecret/abs" -a ! -e "$T/hostsecret/viahop"
check_eq "... the absolute name landed below the destination" "pwned" "$(d exec "$run" cat "/tmp$T/hostsecret/abs" 2>&1)"

# CVE-2018-15664: the container swaps a directory for a symlink to the
# host's directory while copies run. Each resolution is one openat2() with
# the container's root as "/", so a swap can only make the path miss or
# find the container's own files.
race=$(d run -d busybox sh -c "mkdir -p /w/d; echo container-file >/w/d/passwd; while :; do mv /w/d /w/real; ln -s $T/hostsecret /w/d; rm /w/d; mv /w/real /w/d; done" 2>>"$T/gbd.log")
printf 'from-race\n' >"$T/target"
tar -C "$T" -cf "$T/race.tar" target
leaked=0 got=0
for _ in $(seq 150); do
        out=$(api "http://d/v1.41/containers/$race/archive?path=/w/d/passwd" | tar -xOf - 2>/dev/null)
        [ "$out" = "host secret" ] && leaked=$((leaked + 1))
        [ "$out" = "container-file" ] && got=$((got + 1))
        api -X PUT -T "$T/race.tar" "http://d/v1.41/containers/$race/archive?path=/w/d" >/dev/null
done
check_eq "symlink-swap race: 150 reads never returned the host's file" 0 "$leaked"
check "... (and the race was live: some reads found the container's file, got $got)" test "$got" -gt 0
check_eq "... 150 writes never touched the host's dir" "passwd target/host-original" \
        "$(ls "$T/hostsecret" | tr '\n' ' ' | sed 's/ $//')/$(cat "$T/hostsecret/target")"
d rm -f "$race" >/dev/null 2>&1

# -- docker cp in: ownership ---------------------------------------------------
cdir=$(readlink -f "$T/data/containers/$run")/upper
mkdir -p "$T/in/sub"
echo "hello" >"$T/in/sub/file"
chown -R 1234:1234 "$T/in"
d cp "$T/in/sub" "$run:/tmp/" 2>>"$T/gbd.log"
check_eq "docker cp into a running container: the file is there" "hello" "$(d exec "$run" cat /tmp/sub/file 2>&1)"
check_eq "... owned on the host by the container's root (400000), not host root" "400000:400000" \
        "$(stat -c %u:%g "$cdir/tmp/sub/file")"
check_eq "... and root inside" "0 0" "$(d exec "$run" stat -c '%u %g' /tmp/sub/file 2>&1)"
d cp -a "$T/in/sub" "$run:/tmp/suba" 2>>"$T/gbd.log"
tar -C "$T/in" -cf - sub | d cp - "$run:/var" 2>>"$T/gbd.log"
check_eq "docker cp - (a tar on stdin) into a directory" "hello" "$(d exec "$run" cat /var/sub/file 2>&1)"
check_eq "docker cp -a (copyUIDGID): the tar's 1234 shifted to host 401234" "401234:401234" \
        "$(stat -c %u:%g "$cdir/tmp/suba/file" 2>&1)"
check_eq "... 1234 inside" "1234 1234" "$(d exec "$run" stat -c '%u %g' /tmp/suba/file 2>&1)"
python3 - "$T/bigid.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    i = tarfile.TarInfo("bigid"); i.size = 1; i.uid = 70000; i.gid = 0
    t.addfile(i, io.BytesIO(b"x"))
EOF
check_eq "copyUIDGID with an owner outside the container's range: 400" 400 \
        "$(code -X PUT -T "$T/bigid.tar" "http://d/v1.41/containers/$run/archive?path=/tmp&copyUIDGID=1")"
gzip -c "$T/bigid.tar" >"$T/bigid.tgz"
check_eq "a gzipped tar is accepted (owner: the container's root)" 200 \
        "$(code -X PUT -T "$T/bigid.tgz" "http://d/v1.41/containers/$run/archive?path=/tmp")"
check_eq "... owned 400000 on the host" 400000 "$(stat -c %u "$cdir/tmp/bigid" 2>&1)"
echo garbage >"$T/garbage"
check_eq "PUT of something not a tar: 400" 400 "$(code -X PUT -T "$T/garbage" "http://d/v1.41/containers/$run/archive?path=/tmp")"
check_eq "PUT into a missing directory: 404" 404 "$(code -X PUT -T "$T/bigid.tar" "http://d/v1.41/containers/$run/archive?path=/nodir")"
check_eq "PUT onto a file: 400" 400 "$(code -X PUT -T "$T/bigid.tar" "http://d/v1.41/containers/$run/archive?path=/etc/mine")"
python3 - "$T/dirfile.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    i = tarfile.TarInfo("d"); i.size = 1
    t.addfile(i, io.BytesIO(b"x"))
EOF
check_eq "noOverwriteDirNonDir: a file over a directory is refused" 400 \
        "$(code -X PUT -T "$T/dirfile.tar" "http://d/v1.41/containers/$run/archive?path=/tmp&noOverwriteDirNonDir=true")"
check_eq "... the directory is intact" "one" "$(d exec "$run" cat /tmp/d/f 2>&1)"

# -- stopped containers -------------------------------------------------------
d stop -t 0 "$run" >/dev/null 2>&1
stopped=$(d create busybox cat /tostopped 2>>"$T/gbd.log")
before=$(mounts)
echo "to-stopped" >"$T/tostopped"
d cp "$T/tostopped" "$stopped:/tostopped" 2>>"$T/gbd.log"
d cp "$T/tostopped" "$run:/tostopped" 2>>"$T/gbd.log"
check_eq "docker cp into a created container and into an exited one" "to-stopped to-stopped" \
        "$(d cp "$stopped:/tostopped" - 2>&1 | tar -xOf - 2>&1) $(d cp "$run:/tostopped" - 2>&1 | tar -xOf - 2>&1)"
check_eq "... no mount left behind" "$before" "$(mounts)"
sdir=$(readlink -f "$T/data/containers/$stopped")/upper
check_eq "... owned by 400000 on the host" 400000 "$(stat -c %u "$sdir/tostopped" 2>&1)"
check_eq "... and the container sees it when started" "to-stopped" "$(d start -a "$stopped" 2>&1)"
if [ -x /usr/bin/docker ] && [ "$(readlink -f /usr/bin/docker)" != "$(readlink -f "$DOCKER")" ]; then
        check_eq "docker 20.10 CLI: cp out of an exited container" "to-stopped" \
                "$(timeout -k 5 60 /usr/bin/docker cp "$stopped:/tostopped" - 2>&1 | tar -xOf - 2>&1)"
else
        skip "no second docker CLI at /usr/bin/docker"
fi

# --rootfs containers: the directory holds the container's IDs (the
# container sees it through an idmapped mount), so copies go there unshifted.
rf=$(gb create "${R[@]}" stat -c '%u %g %s' /rfcopy 2>>"$T/gbd.log")
d cp "$T/tostopped" "$rf:/rfcopy" 2>>"$T/gbd.log"
check_eq "docker cp into a --rootfs container: stored with its root's on-disk ID (0)" 0 "$(stat -c %u "$T/rootfs/rfcopy" 2>&1)"
check_eq "... which the container sees as its root" "0 0 11" "$(gb start -a "$rf" 2>&1)"
rm -f "$T/rootfs/rfcopy"
gb rm -f "$rf" >/dev/null 2>&1

ro=$(d create --read-only busybox true 2>>"$T/gbd.log")
check_eq "PUT into a --read-only container: 403" 403 "$(code -X PUT -T "$T/bigid.tar" "http://d/v1.41/containers/$ro/archive?path=/tmp")"
d rm -f "$ro" >/dev/null 2>&1

# -- export ---------------------------------------------------------------------
d export "$run" -o "$T/export.tar" 2>>"$T/gbd.log"
check_match "docker export: the tar lists bin/busybox" '^bin/busybox$' "$(tar -tf "$T/export.tar" 2>&1)"
check_match "... with the container's changes" '^etc/mine$' "$(tar -tf "$T/export.tar" 2>&1)"
check_eq "... and container IDs (root 0/0)" "0/0" "$(tar --numeric-owner -tvf "$T/export.tar" etc/mine | awk '{print $2}')"
check_fails "... nothing of the host behind /escape" sh -c "tar -tf '$T/export.tar' | grep -q hostsecret/passwd"

# -- a name that is not UTF-8 (JSON needs UTF-8; tars carry bytes) ----------
python3 - "$T/latin1.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape") as t:
    i = tarfile.TarInfo("caf\udce9"); i.size = 1
    t.addfile(i, io.BytesIO(b"x"))
EOF
api -X PUT -T "$T/latin1.tar" "http://d/v1.41/containers/$run/archive?path=/tmp" >/dev/null
hdr=$(curl -sI --unix-socket "$SOCK" "http://d/v1.41/containers/$run/archive?path=/tmp/caf%E9" | tr -d '\r' |
        sed -n 's/^X-Docker-Container-Path-Stat: //p' | base64 -d)
check_eq "HEAD of a non-UTF-8 name: the stat JSON has U+FFFD" "caf�" "$(jq -r .name <<<"$hdr" 2>&1)"
check_eq "... GET archive carries the raw name" 1 "$(api "http://d/v1.41/containers/$run/archive?path=/tmp" | tar --quoting-style=escape -tf - 2>/dev/null | grep -cxF 'tmp/caf\351')"

# -- ghostbox cp (the CLI, no daemon) ------------------------------------------
gb cp "$run:/etc/mine" "$T/out/cli-mine"
check_eq "ghostbox cp out, renamed on the way" "in-container" "$(cat "$T/out/cli-mine" 2>&1)"
check_eq "... owned by the caller" 0 "$(stat -c %u "$T/out/cli-mine")"
gb cp "$T/in/sub" "$run:/tmp/clisub"
check_eq "ghostbox cp in, renamed: owned by 400000 on the host" 400000:400000 "$(stat -c %u:%g "$cdir/tmp/clisub/file" 2>&1)"
gb cp -a "$T/in/sub/file" "$run:/tmp/"
check_eq "ghostbox cp -a in: 1234 shifted to 401234" 401234 "$(stat -c %u "$cdir/tmp/file" 2>&1)"
check_eq "ghostbox cp CONTAINER:PATH -: a tar on stdout" "hello" "$(gb cp "$run:/tmp/clisub/file" - | tar -xOf -)"
check_fails "ghostbox cp out through the host-pointing link reads nothing of the host" \
        sh -c "$(printf '%q ' "${G[@]}") cp '$run:/escape/passwd' - 2>/dev/null | tar -xOf - | grep -q 'host secret'"

# -- diff -------------------------------------------------------------------------
diff=$(d diff "$run" 2>&1)
check_match "docker diff: A for an added file" '^A /etc/mine$' "$diff"
check_match "... C for a directory changed" '^C /etc$' "$diff"
check_match "... D for a deleted file" '^D /bin/true$' "$diff"
check_match "... A for the added directory's file" '^A /tmp/d/f$' "$diff"
mod=$(d run -d busybox sh -c 'echo x >>/etc/group' 2>>"$T/gbd.log")
d wait "$mod" >/dev/null 2>&1
check_eq "docker diff after only appending to /etc/group: just that file (no /etc, no mount point stubs)" \
        "C /etc/group" "$(d diff "$mod" 2>&1)"
d rm -f "$mod" >/dev/null 2>&1
check_eq "GET /changes: JSON Kind 2 for the deletion" 2 \
        "$(api "http://d/v1.41/containers/$run/changes" | jq '.[] | select(.Path == "/bin/true") | .Kind')"
check_eq "changes of a missing container: 404" 404 "$(code "http://d/v1.41/containers/nosuch/changes")"

d rm -f "$run" "$stopped" >/dev/null 2>&1
check_eq "after rm: no mount of ours left" 0 "$(grep -c " $T/data" /proc/self/mountinfo)"
done_testing
