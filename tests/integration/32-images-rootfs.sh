#!/usr/bin/env bash
# Container root filesystems: idmap mode (one shared idmapped view of the
# layer store per mapping) and chown mode (shifted copies made once) give the
# same view inside the user namespace; file capabilities work in a remapped
# container in both; out-of-range IDs fail at prepare; release leaves no
# mount behind; --userns=host sees true ownership.
. "$(dirname "$0")/lib.sh"
require_root
command -v setcap >/dev/null || { echo "1..0 # SKIP setcap (libcap2-bin) needed"; exit 0; }
DR=$T/data
RUN=$T/run
TOOL=$GB_BUILD/tests/helpers/gb-rootfs-tool
gb() { "$GHOSTBOX" --data-root "$DR" "$@"; }
M1=0:100000:65536
M2=0:300000:65536
mounts() { grep -c " $T" /proc/self/mountinfo; }
at_exit 'for c in a1 a2 a3 b1 b2 b3 c1 c2 h1 big1 p1 p2 p3 p4 p5 p6 p7 p8; do for m in $M1 $M2 host 0:400000:1000; do $TOOL release $DR $RUN $c $m; done; done'

make_busybox_rootfs "$T/rf"
cp "$BUSYBOX" "$T/rf/bin/capbox"
setcap cap_net_raw+ep "$T/rf/bin/capbox"
# A v3 capability carrying a rootid (as written inside a user namespace whose
# root is host UID 1000): meaningless on this host, normalised at import.
cp "$BUSYBOX" "$T/rf/bin/capbox3"
setcap -n 1000 cap_net_raw+ep "$T/rf/bin/capbox3"
chmod 4755 "$T/rf/bin/busybox"
mkdir -p "$T/rf/home/user" && chown 1000:1000 "$T/rf/home/user"
tar --xattrs --xattrs-include='security.capability' -C "$T/rf" -cf "$T/rf.tar" .
gb import "$T/rf.tar" img:1 >/dev/null
check_match "probe reports the mode and why" "^(idmap|chown): " "$("$TOOL" probe "$DR" auto)"
check_match "forced chown is reported as forced" '^chown: forced by "storage-shift": "chown"' "$("$TOOL" probe "$DR" chown)"

# --- idmap: three containers, two mappings -> two views, not one per layer
# per container.
base=$(mounts)
a1=$("$TOOL" prepare "$DR" "$RUN" a1 img:1 idmap $M1); rf_a1=${a1%% *}
a2=$("$TOOL" prepare "$DR" "$RUN" a2 img:1 idmap $M1); rf_a2=${a2%% *}
b1=$("$TOOL" prepare "$DR" "$RUN" b1 img:1 idmap $M2); rf_b1=${b1%% *}
check_match "idmap mode in use" "^$DR/100000.100000/containers/a1/rootfs idmap " "$a1"
check_eq "views = distinct mappings (2), not layers x containers" "2" "$("$TOOL" views "$RUN")"
check_eq "mounts: 3 overlays + 2 views" "5" "$(( $(mounts) - base ))"
check_eq "per-remap area is 0700 and owned by the remapped root" "700 100000:100000" \
        "$(stat -c '%a %u:%g' "$DR/100000.100000")"
check_eq "upper dir owned by the remapped root" "100000:100000" "$(stat -c '%u:%g' "$DR/100000.100000/containers/a1/upper")"
check_eq "layer files on disk keep the image's ownership" "0:0 33:33" \
        "$(stat -c '%u:%g' "$DR"/layers/sha256/*/bin/busybox) $(stat -c '%u:%g' "$DR"/layers/sha256/*/var/www)"
check_eq "host sees container files at base+uid" "100000 100033 101000" \
        "$(stat -c %u "$rf_a1/bin/busybox") $(stat -c %u "$rf_a1/var/www") $(stat -c %u "$rf_a1/home/user")"
check_eq "setuid bit kept, owner is the container's root, not host root" "4755 100000" \
        "$(stat -c '%a %u' "$rf_a1/bin/busybox")"
check "rootfs mounted nodev" sh -c "findmnt -no OPTIONS '$rf_a1' | grep -q nodev"
"$TOOL" nsexec $M1 "$rf_a1" 1000 1000 /bin/busybox sh -c 'echo hello >/home/user/new'
check_eq "a file the container's UID 1000 creates lands at host 101000 (T6)" "101000:101000" \
        "$(stat -c '%u:%g' "$DR/100000.100000/containers/a1/upper/home/user/new")"
caps=$("$TOOL" nsexec $M1 "$rf_a1" 1000 1000 /bin/capbox grep CapEff /proc/self/status)
check_match "idmap: file capability cap_net_raw effective for UID 1000 in the remapped container" "CapEff:\s+0000000000002000" "$caps"
caps=$("$TOOL" nsexec $M1 "$rf_a1" 1000 1000 /bin/capbox3 grep CapEff /proc/self/status)
check_match "idmap: a v3 capability with a foreign rootid works too (normalised at import)" "CapEff:\s+0000000000002000" "$caps"
caps=$("$TOOL" nsexec $M1 "$rf_a1" 1000 1000 /bin/busybox grep CapEff /proc/self/status)
check_match "control: the same binary without the xattr gets no capability" "CapEff:\s+0000000000000000" "$caps"
check_match "getcap on the host shows the v3 rootid of the remapped root" "rootid=100000" "$(getcap -n "$rf_a1/bin/capbox")"

# --- chown mode: shifted copies per mapping, reused
c1=$("$TOOL" prepare "$DR" "$RUN" c1 img:1 chown $M2); rf_c1=${c1%% *}
t1=$(echo "$c1" | cut -d' ' -f3)
c2=$("$TOOL" prepare "$DR" "$RUN" c2 img:1 chown $M2); rf_c2=${c2%% *}
t2=$(echo "$c2" | cut -d' ' -f3)
check_match "chown mode in use" " chown " "$c1"
check_eq "one shifted copy per layer per mapping, reused" "1" "$(ls "$DR/300000.300000/shifted/"*/ | wc -l)"
diag "chown prepare: first ${t1}s (copy), second ${t2}s (reuse)"
check_eq "shifted copy owned by base+uid" "300000 300033" \
        "$(stat -c %u "$DR"/300000.300000/shifted/*/*/bin/busybox) $(stat -c %u "$DR"/300000.300000/shifted/*/*/var/www)"
caps=$("$TOOL" nsexec $M2 "$rf_c1" 1000 1000 /bin/capbox grep CapEff /proc/self/status)
check_match "chown: file capability effective in the remapped container" "CapEff:\s+0000000000002000" "$caps"

# --- both modes, same view inside (owners, modes, every path)
"$TOOL" nslist $M2 "$rf_b1" | sort >"$T/idmap.list"
"$TOOL" nslist $M2 "$rf_c2" | sort >"$T/chown.list"
check_eq "idmap and chown views list the same entries" "$(wc -l <"$T/idmap.list")" "$(wc -l <"$T/chown.list")"
check "idmap and chown views are identical (path uid gid mode)" diff "$T/idmap.list" "$T/chown.list"
check_match "listing covers the tree (> 250 entries)" "^[0-9]{3,}$" "$(wc -l <"$T/idmap.list")"
check_eq "inside: busybox is root's and setuid, www is 33" "/bin/busybox 0 0 104755|/var/www 33 33 40755" \
        "$(grep '^/bin/busybox ' "$T/idmap.list")|$(grep '^/var/www ' "$T/idmap.list")"

# --- --userns=host: the true ownership
h1=$("$TOOL" prepare "$DR" "$RUN" h1 img:1 auto host); rf_h1=${h1%% *}
check_match "unremapped container lives in 0.0/" "^$DR/0.0/containers/h1/rootfs " "$h1"
check_eq "unremapped container sees host-true owners" "0 4755 33" \
        "$(stat -c '%u %a' "$rf_h1/bin/busybox") $(stat -c %u "$rf_h1/var/www")"

# --- out-of-range IDs: error at prepare naming file, ID and range
small=0:400000:1000
out=$("$TOOL" prepare "$DR" "$RUN" big1 img:1 auto $small 2>&1); rc=$?
check_eq "image with UID 1000 in a 1000-ID range fails" "1" "$rc"
check_match "...naming the file, the ID and the range" "'/home/user'.*UID 1000.*range 0-999" "$out"
check_eq "...without taking a view reference" "" "$(ls "$RUN"/idmapped/*.refs/ | grep big1)"
check_eq "...and no rootfs dir" "" "$(ls "$DR/400000.400000/containers" 2>/dev/null)"

# --- release: everything unmounted, views dropped with their last user
for c in a1 a2; do "$TOOL" release "$DR" "$RUN" $c $M1; done
check_eq "last container of a mapping drops its view" "1" "$("$TOOL" views "$RUN")"
"$TOOL" release "$DR" "$RUN" b1 $M2
for c in c1 c2; do "$TOOL" release "$DR" "$RUN" $c $M2; done
"$TOOL" release "$DR" "$RUN" h1 host
check_eq "after release: no mounts, no views" "$base 0" "$(mounts) $("$TOOL" views "$RUN")"
check_eq "upper/work/rootfs removed" "" "$(ls "$DR/100000.100000/containers")"
check "release is idempotent" "$TOOL" release "$DR" "$RUN" a1 $M1

# --- 8 containers of one mapping prepared concurrently: one view, 8 overlays
for i in 1 2 3 4 5 6 7 8; do "$TOOL" prepare "$DR" "$RUN" p$i img:1 idmap $M1 >/dev/null & done
wait
check_eq "8 concurrent prepares: 1 shared view + 8 overlays" "1 9" "$("$TOOL" views "$RUN") $(( $(mounts) - base ))"
for i in 1 2 3 4 5 6 7 8; do "$TOOL" release "$DR" "$RUN" p$i $M1 & done
wait
check_eq "...all released: nothing mounted" "$base 0" "$(mounts) $("$TOOL" views "$RUN")"

# --- a view nobody holds (crash after mounting it, or a container removed
# without release) is unmounted by the next prepare
b2=$("$TOOL" prepare "$DR" "$RUN" b2 img:1 idmap $M2)
rm -rf "$RUN"/idmapped/*.refs
b3=$("$TOOL" prepare "$DR" "$RUN" b3 img:1 idmap $M1)
check_eq "orphaned view collected, the new one mounted" "1" "$("$TOOL" views "$RUN")"
umount "${b2%% *}"
"$TOOL" release "$DR" "$RUN" b2 $M2
"$TOOL" release "$DR" "$RUN" b3 $M1
check_eq "...and nothing left mounted" "$base 0" "$(mounts) $("$TOOL" views "$RUN")"

# --- preparation does not depend on image size in idmap mode (no walk):
# the recorded maxima decide the range check.
python3 - "$DR"/layers/info/*.json <<'PY'
import json, sys
for p in sys.argv[1:]:
    j = json.load(open(p)); j["max_uid"] = 70000; j["max_uid_path"] = "/recorded"; json.dump(j, open(p, "w"))
PY
out=$("$TOOL" prepare "$DR" "$RUN" a3 img:1 idmap $M1 2>&1)
check_match "the range check uses the recorded maxima (no tree walk)" "'/recorded'.*UID 70000" "$out"

# --- rmi takes the chown-mode shifted copies of its layers along
check_eq "a shifted copy exists before rmi" "1" "$(ls "$DR"/300000.300000/shifted/*/ | wc -l)"
gb rmi img:1 >/dev/null
check_eq "rmi removes the shifted copies too" "0" "$(ls "$DR"/300000.300000/shifted/*/ | wc -l)"
done_testing
