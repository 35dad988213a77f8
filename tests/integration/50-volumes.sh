#!/usr/bin/env bash
# Volumes and bind mounts under remapping (seeds/004 T2, T3, T6 and the
# three "volume permissions" options), named volumes, sharing across ID
# ranges, :idmap binds and the ownership helper. Each protection is also
# shown to fall away with --userns=host, so the checks can fail.
. "$(dirname "$0")/lib.sh"
require_root

engine_env

# --- T2: a mode-600 root file stays unreadable --------------------------------
echo "HOST SECRET: db_password=hunter2" >"$T/host-secret.txt"
chmod 600 "$T/host-secret.txt"
out=$(gb run --rm -v "$T/host-secret.txt:/data/secret:ro" "${R[@]}" cat /data/secret 2>&1)
check_match "T2: remapped root cannot read a host mode-600 root file" 'Permission denied' "$out"
check_eq "T2 without remapping (--userns=host) reads it: the check can fail" "HOST SECRET: db_password=hunter2" \
        "$(gb run --rm --userns=host -v "$T/host-secret.txt:/data/secret:ro" "${R[@]}" cat /data/secret)"

# --- T3: a root-owned directory stays unwritable ------------------------------
mkdir -p "$T/host-dir" && chmod 755 "$T/host-dir"
out=$(gb run --rm -v "$T/host-dir:/data" "${R[@]}" sh -c 'echo pwned > /data/hack.txt' 2>&1)
check_match "T3: remapped root cannot write a root-owned host directory" 'Permission denied' "$out"
check_eq "T3: nothing was written on the host" "" "$(ls "$T/host-dir")"
gb run --rm --userns=host -v "$T/host-dir:/data" "${R[@]}" sh -c 'echo pwned > /data/hack.txt'
check_eq "T3 without remapping writes: the check can fail" "hack.txt" "$(ls "$T/host-dir")"

# --- T6 / option 1: a directory pre-owned by the base UID ---------------------
mkdir -p "$T/container-write"
out=$(gb volume chown "$T/container-write" 0)
check_match "volume chown prints the arithmetic for root" '^0 0 -> host 400000' "$out"
out=$(gb run --rm -v "$T/container-write:/data" "${R[@]}" sh -c "echo 'hello from container' > /data/testfile.txt && ls -ln /data/")
check_match "T6: inside, the file looks root-owned" ' 0 +0 .*testfile.txt' "$out"
check_eq "T6: on the host it belongs to base+0 (400000)" "400000:400000" "$(stat -c %u:%g "$T/container-write/testfile.txt")"

# --- option 2: a container user other than root (www-data, 33) ---------------
mkdir -p "$T/nginx-logs"
out=$(gb volume chown --rootfs "$T/rootfs" "$T/nginx-logs" www-data)
check_match "volume chown resolves www-data through the image's passwd: 33 -> 400033" \
        '^www-data 33 -> host 400033 \(uid\), 33 -> host 400033' "$out"
gb run --rm -u www-data -v "$T/nginx-logs:/var/log/nginx" "${R[@]}" sh -c 'echo GET / > /var/log/nginx/access.log'
check_eq "option 2: www-data's file is owned by base+33 on the host" "400033:400033" \
        "$(stat -c %u:%g "$T/nginx-logs/access.log" 2>&1)"
check_fails "option 2: www-data cannot write a directory owned by base+0" \
        gb run --rm -u www-data -v "$T/container-write:/data" "${R[@]}" touch /data/x

tar --numeric-owner -C "$T/rootfs" -cf "$T/img.tar" .
gb import "$T/img.tar" webimg >/dev/null
mkdir -p "$T/by-image"
out=$(gb volume chown --image webimg "$T/by-image" www-data)
check_match "volume chown --image resolves names through the image's /etc/passwd" '^www-data 33 -> host 400033' "$out"
check_eq "... and chowns to it" "400033:400033" "$(stat -c %u:%g "$T/by-image")"

# --- option 3: named volumes, no chown needed ---------------------------------
check_eq "volume create" "nginx-data" "$(gb volume create --label tier=web nginx-data)"
gb run --rm -v nginx-data:/var/log/nginx "${R[@]}" sh -c 'echo log > /var/log/nginx/access.log'
vpath=$(gb volume inspect nginx-data | sed -n 's/.*"Mountpoint": "\(.*\)".*/\1/p')
check_eq "option 3: the volume lives in the remap area" "$T/data/400000.400000/volumes/nginx-data/_data" "$vpath"
check_eq "option 3: root's file in the volume is base-owned" "400000:400000" "$(stat -c %u:%g "$vpath/access.log")"
mkdir -p "$T/rootfs/var/www/html" && echo index >"$T/rootfs/var/www/html/index.html" && chown -R 33:33 "$T/rootfs/var/www"
gb run --rm -u www-data -v webroot:/var/www "${R[@]}" sh -c 'echo new > /var/www/new.html'
wpath=$(gb volume inspect webroot | sed -n 's/.*"Mountpoint": "\(.*\)".*/\1/p')
check_eq "option 3 as www-data: an empty volume is filled from the image's directory" "index" \
        "$(cat "$wpath/html/index.html")"
check_eq "... keeping the image's ownership, shifted (33 -> 400033)" "400033:400033" \
        "$(stat -c %u:%g "$wpath/html/index.html")"
check_eq "... and www-data could write to it without any chown" "400033:400033" "$(stat -c %u:%g "$wpath/new.html")"
check_match "volume ls" 'nginx-data' "$(gb volume ls)"
check_match "volume inspect shows labels" '"tier": "web"' "$(gb volume inspect nginx-data)"

# --- read-only, sharing, nocopy ------------------------------------------------
check_fails "a :ro volume is read-only" gb run --rm -v nginx-data:/v:ro "${R[@]}" touch /v/x
check_fails "--mount readonly bind is read-only" gb run --rm --mount "type=bind,src=$T/container-write,dst=/d,readonly" "${R[@]}" touch /d/x
gb run -d --name writer -v shared:/s "${R[@]}" sh -c 'echo from-writer > /s/msg; sleep 300' >/dev/null
wait_until gb exec writer test -s /s/msg
check_eq "two containers of the same range share a volume" "from-writer" "$(gb run --rm -v shared:/s "${R[@]}" cat /s/msg)"
out=$(gb run --rm --userns=auto -v shared:/s "${R[@]}" sh -c 'cat /proc/self/uid_map; ls -ln /s/msg; echo auto > /s/auto')
check_match "an --userns=auto container (its own range) reads it" '^ +0 +1000000 +65536' "$out"
check_match "... sees the writer's file as root-owned through the idmapped volume" ' 0 +0 .*/s/msg' "$out"
spath=$(gb volume inspect shared | sed -n 's/.*"Mountpoint": "\(.*\)".*/\1/p')
check_eq "... and its writes land in the volume's own IDs (400000), not its range" "400000:400000" \
        "$(stat -c %u:%g "$spath/auto")"
out=$(gb volume rm shared 2>&1)
check_match "volume rm refuses a volume in use" 'volume is in use' "$out"
gb rm -f writer >/dev/null
check_eq "volume rm once unused" "shared" "$(gb volume rm shared)"
check_eq "nocopy leaves a new volume empty" "" \
        "$(gb run --rm -v empty:/var/www:nocopy "${R[@]}" ls /var/www)"

out=$(gb run --rm --mount type=tmpfs,dst=/scratch,tmpfs-size=1m,tmpfs-mode=700 "${R[@]}" \
        sh -c 'grep " /scratch " /proc/mounts; stat -c %a /scratch')
check_match "--mount type=tmpfs honours tmpfs-size and tmpfs-mode" 'size=1024k,mode=700' "$out"
check_match "... nosuid,nodev,noexec as Docker" 'nosuid,nodev,noexec' "$out"

# --- :idmap binds ---------------------------------------------------------------
mkdir -p "$T/idm" && echo data >"$T/idm/f" && chown -R 1234:1234 "$T/idm"
out=$(gb run --rm -v "$T/idm:/m:idmap" "${R[@]}" sh -c 'ls -ln /m/f; echo x > /m/created; grep " /m " /proc/self/mounts')
check_match ":idmap: host UID 1234 shows as 1234 inside" ' 1234 +1234 .*/m/f' "$out"
check_match ":idmap: always nosuid,nodev" 'nosuid,nodev' "$out"
check_eq ":idmap: a file root creates belongs to host root (the documented risk)" "0:0" "$(stat -c %u:%g "$T/idm/created")"
out=$(gb run --rm -v "$T/idm:/m" "${R[@]}" ls -ln /m/f)
check_match "without :idmap the same file is unmapped (nobody)" ' 65534 +65534 ' "$out"
check_fails ":idmap with --userns=host is refused" gb run --rm --userns=host -v "$T/idm:/m:idmap" "${R[@]}" true

# --- bind sources, anonymous volumes, rm -v ------------------------------------
gb run --rm -v "$T/made/by/run:/x" "${R[@]}" true
check "-v creates a missing host path" test -d "$T/made/by/run"
out=$(gb run --rm --mount "type=bind,src=$T/missing,dst=/x" "${R[@]}" true 2>&1)
check_match "--mount type=bind with a missing source is an error" 'bind source path does not exist' "$out"
gb run --name anon -v /cache "${R[@]}" sh -c 'echo c > /cache/f' >/dev/null
aname=$(gb inspect -f '{{json .Mounts}}' anon | sed -n 's/.*"Name":"\([0-9a-f]\{64\}\)".*/\1/p')
check_match "an anonymous volume gets a random name" '^[0-9a-f]{64}$' "$aname"
check_match "inspect Mounts uses Docker's fields" '"Type":"volume".*"Destination":"/cache".*"Driver":"local"' \
        "$(gb inspect -f '{{json .Mounts}}' anon)"
gb rm -v anon >/dev/null
check_fails "rm -v removes the anonymous volume" gb volume inspect "$aname"
check "... and keeps named ones" gb volume inspect nginx-data
gb run --rm -v /tmpcache "${R[@]}" true
check_eq "run --rm removes its anonymous volume" "$(gb volume ls -q | wc -l)" "$(gb volume ls -q | grep -vc '^[0-9a-f]\{64\}$')"
out=$(gb volume prune)
check_match "volume prune removes unused volumes" 'nginx-data' "$out"

# --- the helper with a multi-range map (seeds/002: 0..19 -> 200000, 20.. -> 250000)
printf 'root:200000:20\nroot:250000:65516\n' >"$T/subuid2"
cp "$T/subuid2" "$T/subgid2"
mkdir -p "$T/multi"
out=$(GHOSTBOX_SUBUID_FILE=$T/subuid2 GHOSTBOX_SUBGID_FILE=$T/subgid2 "${G[@]}" volume chown "$T/multi" 33:19)
check_match "helper across ranges: uid 33 -> 250013, gid 19 -> 200019" '^33:19 33 -> host 250013 \(uid\), 19 -> host 200019' "$out"
check_eq "... and chowns to it" "250013:200019" "$(stat -c %u:%g "$T/multi")"

# A bind source below a directory only host root may enter (a 0700 home or
# CI checkout): the source is opened by the engine as host root, as Docker's
# daemon does; the container still reads only what its IDs may.
mkdir -p "$T/private/shared" && chmod 0700 "$T/private" && echo readable >"$T/private/shared/f" &&
        chmod 0755 "$T/private/shared" && chmod 0644 "$T/private/shared/f"
check_eq "bind from below a 0700 directory" readable "$(gb run --rm -v "$T/private/shared:/d" "${R[@]}" cat /d/f 2>&1)"
echo secret >"$T/private/shared/s" && chmod 0600 "$T/private/shared/s"
check_match "... its 0600 root file stays unreadable inside" 'Permission denied' \
        "$(gb run --rm -v "$T/private/shared:/d" "${R[@]}" cat /d/s 2>&1)"

done_testing
