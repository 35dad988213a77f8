#!/usr/bin/env bash
# ghostbox run IMAGE: the image store, the shared idmapped layer view (or
# chowned copies), the remapping, and clean removal.
. "$(dirname "$0")/lib.sh"
require_root

make_busybox_rootfs "$T/rootfs"
cp "$T/rootfs/bin/busybox" "$T/rootfs/bin/suid-busybox"
chmod 4755 "$T/rootfs/bin/suid-busybox"
tar --numeric-owner -C "$T/rootfs" -cf "$T/busybox.tar" .
printf 'root:400000:65536\nghostbox-auto:1000000:2000000\n' >"$T/subuid"
cp "$T/subuid" "$T/subgid"
echo '{}' >"$T/idmap.json"
echo '{"storage-shift": "chown"}' >"$T/chown.json"
export GHOSTBOX_SUBUID_FILE=$T/subuid GHOSTBOX_SUBGID_FILE=$T/subgid
G=("$GHOSTBOX" --config "$T/idmap.json" --data-root "$T/data" --exec-root "$T/run" --userns-remap root)
C=("$GHOSTBOX" --config "$T/chown.json" --data-root "$T/data" --exec-root "$T/run" --userns-remap root)
gb() { timeout 60 "${G[@]}" "$@"; }
at_exit 'for c in $("${G[@]}" ps -aq --no-trunc 2>/dev/null); do "${G[@]}" rm -f "$c"; done'

check_match "import a busybox image" '^sha256:[0-9a-f]{64}$' "$(gb import "$T/busybox.tar" busybox)"
check_match "run --rm busybox: the remapped uid_map" '^ +0 +400000 +65536$' "$(gb run --rm busybox cat /proc/self/uid_map)"
gb run -d --name web busybox sleep 300 >/dev/null
check_eq "inspect: idmap storage" "idmap" "$(gb inspect -f '{{.Ghostbox.StorageMode}}' web)"
check_match "ps shows the image" 'busybox' "$(gb ps)"
out=$(gb rmi busybox 2>&1)
check_match "rmi refuses while a container uses the image" 'being used by container' "$out"
gb rm -f web >/dev/null
check_eq "run --rm leaves no mount of the data root" 0 "$(grep -c " $T/data" /proc/self/mountinfo)"

listing='find / -xdev \( -path /proc -o -path /sys -o -path /dev \) -prune -o -print0 | xargs -0 stat -c "%n %u %g %a" | sort'
idmap_view=$(gb run --rm busybox sh -c "$listing")
chown_view=$(timeout 60 "${C[@]}" run --rm busybox sh -c "$listing")
check_eq "idmap and chown modes give identical views inside" "$idmap_view" "$chown_view"
check_match "... including the setuid binary, root-owned, mode 4755" '^/bin/suid-busybox 0 0 4755$' "$idmap_view"
gb run -d --name ch busybox sleep 300 >/dev/null
timeout 60 "${C[@]}" run -d --name ch2 busybox sleep 300 >/dev/null
check_eq "inspect: chown storage when daemon.json says so" "chown" "$(gb inspect -f '{{.Ghostbox.StorageMode}}' ch2)"
gb rm -f ch ch2 >/dev/null
out=$(gb run --rm busybox sh -c 'echo hi > /root/new; stat -c "%u" /root/new')
check_eq "a file the container writes is root-owned inside" 0 "$out"
check_match "--userns=host sees the image's true ownership" '^0 0 4755$' \
        "$(gb run --rm --userns=host busybox stat -c '%u %g %a' /bin/suid-busybox)"
check_match "--userns=auto runs the same image in its own range" '^ +0 +1000000 +65536$' \
        "$(gb run --rm --userns=auto busybox cat /proc/self/uid_map)"
out=$(gb run --rm nosuchimage true 2>&1); rc=$?
check_eq "a missing image: exit 125" 125 $rc
check_match "... with a message that says how to get it" "Unable to find image 'nosuchimage' locally" "$out"
check_eq "images still listed with remapping off (no masking)" "busybox" \
        "$("$GHOSTBOX" --config "$T/idmap.json" --data-root "$T/data" --userns-remap "" images | awk 'NR>1{print $1}')"
# File capabilities (issue 4): a ping carrying cap_net_raw works for a
# non-root user in a remapped container; the same binary without it does not.
mkdir -p "$T/rootfs/opt/cap"
cp "$T/rootfs/bin/busybox" "$T/rootfs/opt/cap/ping"
setcap cap_net_raw+ep "$T/rootfs/opt/cap/ping"
tar --numeric-owner --xattrs --xattrs-include='security.capability' -C "$T/rootfs" -cf "$T/cap.tar" .
gb import "$T/cap.tar" capimg >/dev/null
check "file capability: ping with cap_net_raw works as uid 1000, remapped" \
        gb run --rm -u 1000 capimg /opt/cap/ping -c1 -W2 127.0.0.1
check_fails "... and without the capability it is denied (the check can fail)" \
        gb run --rm -u 1000 capimg ping -c1 -W2 127.0.0.1
check "... in chown mode too" timeout 60 "${C[@]}" run --rm -u 1000 capimg /opt/cap/ping -c1 -W2 127.0.0.1
check_eq "no mounts left" 0 "$(grep -c " $T/" /proc/self/mountinfo)"

done_testing
