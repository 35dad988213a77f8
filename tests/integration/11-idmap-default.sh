#!/usr/bin/env bash
# The README's first command (scripts/demo.sh) on a machine that has never
# run ghostbox: it must create the ghostremap user and group and print
# "0 <base> 65536" for both maps; a second run changes nothing.
#
# Part 1 simulates the fresh machine without disturbing this one: a copy of
# /etc with every ghostremap line removed is bind-mounted over /etc in a
# private mount namespace (util-linux unshare, used only to isolate /etc for
# the test; no container is made), and the real useradd writes into the copy.
# Part 2 runs the same command against the REAL /etc (allowed for this test):
# idempotent, and every line that was there before is kept byte for byte.
. "$(dirname "$0")/lib.sh"
require_root

G=$GHOSTBOX
unset GHOSTBOX_SUBUID_FILE GHOSTBOX_SUBGID_FILE GHOSTBOX_PASSWD_FILE GHOSTBOX_GROUP_FILE
# No daemon.json: remapping is on with "default".
export GHOSTBOX_CONFIG=$T/no-daemon.json

# ---- part 1: fresh machine in a private mount namespace ----
cp -a /etc "$T/etc"
for f in passwd group shadow gshadow subuid subgid passwd- group- shadow- gshadow-; do
        [ -f "$T/etc/$f" ] && sed -i '/^ghostremap:/d' "$T/etc/$f"
done
cp "$T/etc/subuid" "$T/subuid.before"
cp "$T/etc/subgid" "$T/subgid.before"
cat >"$T/inner.sh" <<EOF
set -e
mount --make-rprivate /
mount --bind "$T/etc" /etc
cd "$GB_TOP"
getent passwd ghostremap >"$T/pw.before" || true
bash scripts/demo.sh >"$T/demo1.out" 2>"$T/demo1.err"
getent passwd ghostremap >"$T/pw.after"
getent group ghostremap >"$T/gr.after"
md5sum /etc/passwd /etc/group /etc/shadow /etc/subuid /etc/subgid >"$T/sum1"
bash scripts/demo.sh >"$T/demo2.out" 2>"$T/demo2.err"
md5sum /etc/passwd /etc/group /etc/shadow /etc/subuid /etc/subgid >"$T/sum2"
EOF
check "fresh: demo.sh runs twice in a private /etc" unshare --mount bash "$T/inner.sh"
[ -s "$T/demo1.err" ] && diag "$(cat "$T/demo1.err")"
check_eq "fresh: no ghostremap before" "" "$(cat "$T/pw.before")"
check_match "fresh: ghostremap created, no login shell" "^ghostremap:x:[0-9]+:[0-9]+:[^:]*:/nonexistent:/usr/sbin/nologin$" \
        "$(cat "$T/pw.after")"
check_match "fresh: ghostremap group created" "^ghostremap:x:[0-9]+:" "$(cat "$T/gr.after")"
base=$(sed -n 's/^ghostremap:\([0-9]*\):65536$/\1/p' "$T/etc/subuid")
check_match "fresh: subuid got one 65536 range" "^[0-9]+$" "$base"
check_eq "fresh: subgid got the same range" "ghostremap:$base:65536" "$(grep '^ghostremap:' "$T/etc/subgid")"
check_eq "fresh: demo prints 0 $base 65536 for both maps" "0 $base 65536
0 $base 65536" "$(grep -E '^[0-9]+ [0-9]+ [0-9]+$' "$T/demo1.out")"
check_match "fresh: demo says it created the user" "created now" "$(cat "$T/demo1.out")"
check_eq "fresh: second run prints the same maps" "$(grep -E '^[0-9]+ [0-9]+ [0-9]+$' "$T/demo1.out")" \
        "$(grep -E '^[0-9]+ [0-9]+ [0-9]+$' "$T/demo2.out")"
check_eq "fresh: second run changes nothing" "$(cat "$T/sum1")" "$(cat "$T/sum2")"
check_eq "fresh: other subuid lines kept" "$(cat "$T/subuid.before")" "$(grep -v '^ghostremap:' "$T/etc/subuid")"
check_eq "fresh: other subgid lines kept" "$(cat "$T/subgid.before")" "$(grep -v '^ghostremap:' "$T/etc/subgid")"
overlap=$(awk -F: -v b="$base" '$1 != "ghostremap" && $2 + 0 < b + 65536 && b < $2 + $3 {print}' \
        "$T/etc/subuid" "$T/etc/subgid")
check_eq "fresh: the range overlaps no other owner's" "" "$overlap"
check_eq "fresh: no home directory made" "" "$(ls -d /nonexistent 2>/dev/null)"

# ---- part 1b: several first runs at once on another fresh /etc ----
rm -rf "$T/etc"
cp -a /etc "$T/etc"
for f in passwd group shadow gshadow subuid subgid passwd- group- shadow- gshadow-; do
        [ -f "$T/etc/$f" ] && sed -i '/^ghostremap:/d' "$T/etc/$f"
done
cat >"$T/inner2.sh" <<EOF
mount --make-rprivate /
mount --bind "$T/etc" /etc || exit 1
pids=()
for i in 1 2 3 4 5; do
        "$G" idmap show >"$T/par.\$i.out" 2>"$T/par.\$i.err" &
        pids+=(\$!)
done
rc=0
for p in "\${pids[@]}"; do wait "\$p" || rc=1; done
exit \$rc
EOF
check "fresh, 5 at once: all succeed" unshare --mount bash "$T/inner2.sh"
check_eq "fresh, 5 at once: one passwd entry" "1" "$(grep -c '^ghostremap:' "$T/etc/passwd")"
check_eq "fresh, 5 at once: one group entry" "1" "$(grep -c '^ghostremap:' "$T/etc/group")"
check_eq "fresh, 5 at once: one subuid line" "1" "$(grep -c '^ghostremap:' "$T/etc/subuid")"
check_eq "fresh, 5 at once: one subgid line" "1" "$(grep -c '^ghostremap:' "$T/etc/subgid")"
check_eq "fresh, 5 at once: one answer" "1" "$(cat "$T"/par.*.out | grep -E '^0 [0-9]+ 65536$' | sort -u | wc -l)"
check_eq "fresh, 5 at once: nothing on stderr" "" "$(cat "$T"/par.*.err)"

# ---- part 2: the real /etc ----
cp /etc/subuid "$T/real-subuid.before"
cp /etc/subgid "$T/real-subgid.before"
out1=$("$G" idmap show 2>&1); rc=$?
check_eq "real: idmap show succeeds" "0" "$rc"
rbase=$(sed -n 's/^ghostremap:\([0-9]*\):65536$/\1/p' /etc/subuid | head -1)
check_match "real: ghostremap has a range" "^[0-9]+$" "$rbase"
check_eq "real: maps start at the range" "0 $rbase 65536
0 $rbase 65536" "$(grep -E '^[0-9]+ [0-9]+ [0-9]+$' <<<"$out1")"
check_match "real: ghostremap user exists" "^ghostremap:x:[0-9]+:[0-9]+:" "$(getent passwd ghostremap)"
# Whatever was there before is still there, unchanged (we only append).
check_eq "real: subuid lines kept" "$(cat "$T/real-subuid.before")" \
        "$(head -c "$(stat -c %s "$T/real-subuid.before")" /etc/subuid)"
check_eq "real: subgid lines kept" "$(cat "$T/real-subgid.before")" \
        "$(head -c "$(stat -c %s "$T/real-subgid.before")" /etc/subgid)"
s1=$(md5sum /etc/subuid /etc/subgid; getent passwd ghostremap; getent group ghostremap)
out2=$("$G" idmap show 2>&1)
s2=$(md5sum /etc/subuid /etc/subgid; getent passwd ghostremap; getent group ghostremap)
check_eq "real: second run changes nothing" "$s1" "$s2"
check_eq "real: second run prints the same maps" "$(grep -E '^[0-9]+ [0-9]+ [0-9]+$' <<<"$out1")" \
        "$(grep -E '^[0-9]+ [0-9]+ [0-9]+$' <<<"$out2")"

done_testing
