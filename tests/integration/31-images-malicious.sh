#!/usr/bin/env bash
# Malicious layer archives (issue 9's corpus, generated here by
# data/mktar.py): each is rejected or neutralised, nothing is written outside
# the store, and a rejected archive leaves no partial layer or image.
. "$(dirname "$0")/lib.sh"
require_root
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 needed to generate archives"; exit 0; }
MKTAR="python3 $(dirname "$0")/data/mktar.py"
DR=$T/data
OUT=$T/outside
mkdir -p "$OUT"
echo original >"$OUT/target"
gb() { "$GHOSTBOX" --data-root "$DR" "$@"; }
snapshot() { (cd "$OUT" && find . -printf '%p %s %n %U\n' | sort; cat target); }
before=$(snapshot)

n_layers() { find "$DR/layers/sha256" -mindepth 1 -maxdepth 1 | wc -l; }
layer_of() { ls -d "$DR"/layers/sha256/*/ 2>/dev/null | while read -r d; do [ -e "$d/ok" ] && echo "${d%/}"; done | tail -1; }

# Control: an extractor without confinement (Python's tarfile, trusting)
# does write outside with the same archive, so the checks below can fail.
$MKTAR symlink-parent "$T/control.tar" "$T/ctl"
mkdir -p "$T/ctl" "$T/ctl-x"
python3 - "$T/control.tar" "$T/ctl-x" <<'PY' 2>/dev/null
import sys, tarfile
t = tarfile.open(sys.argv[1])
try:
    t.extractall(sys.argv[2], filter="fully_trusted")
except TypeError:
    t.extractall(sys.argv[2])
PY
if [ -e "$T/ctl/symlink-parent" ]; then ok "control: an unconfined extractor writes outside (the check can fail)"
else not_ok "control: an unconfined extractor writes outside (the check can fail)"; fi

for c in dotdot dotdot-mid hardlink-host hardlink-dotdot hardlink-via-symlink long-path long-linkname huge-uid; do
        rm -rf "$DR"
        $MKTAR "$c" "$T/$c.tar" "$OUT"
        out=$(gb import "$T/$c.tar" "evil:$c" 2>&1); rc=$?
        check_eq "$c: rejected" "1" "$([ $rc -ne 0 ] && echo 1 || echo "0 ($out)")"
        check_eq "$c: no partial layer, no image, no temp left" "0 0 0" \
                "$(n_layers) $(ls "$DR/images/sha256" | wc -l) $(ls -A "$DR/tmp" | wc -l)"
        check_eq "$c: nothing written outside" "$before" "$(snapshot)"
done
diag "e.g. $(gb import "$T/dotdot.tar" 2>&1)"
diag "e.g. $(gb import "$T/hardlink-host.tar" 2>&1)"

for c in absolute symlink-parent symlink-relative-parent symlink-chain symlink-write-through hardlink-then-write \
        whiteout-escape; do
        rm -rf "$DR"
        $MKTAR "$c" "$T/$c.tar" "$OUT"
        out=$(gb import "$T/$c.tar" "evil:$c" 2>&1); rc=$?
        if [ $rc -eq 0 ]; then
                check_eq "$c: neutralised (imported, one complete layer)" "1 1" \
                        "$(n_layers) $(ls "$DR/images/sha256" | wc -l)"
        else
                check_eq "$c: rejected, no partial layer" "0 0" "$(n_layers) $(ls -A "$DR/tmp" | wc -l)"
        fi
        check_eq "$c: nothing written outside" "$before" "$(snapshot)"
        L=$(layer_of)
        case $c in
        absolute | symlink-parent | symlink-chain)
                check_eq "$c: the entry landed inside the layer" "PWNED" "$(cat "$L$OUT/$c" 2>&1)" ;;
        symlink-write-through | hardlink-then-write)
                f=$L/victim; [ $c = hardlink-then-write ] && f=$L/h
                check_eq "$c: the symlink was replaced, not written through" "regular file PWNED" \
                        "$(stat -c %F "$f") $(cat "$f")" ;;
        esac
done

# xattr injection: trusted.overlay.* (and user.overlay.*, security labels)
# never reach a layer; user.* does.
rm -rf "$DR"
$MKTAR xattr "$T/x.tar" "$OUT"
check "xattr: import" gb import "$T/x.tar" evil:xattr
L=$(layer_of)
xattrs() { python3 -c 'import os,sys; print(" ".join(sorted(os.listxattr(sys.argv[1], follow_symlinks=False))))' "$1"; }
check_eq "xattr: only user.kept survives on the dir" "user.kept" "$(xattrs "$L/inj")"
check_eq "xattr: nothing on the file" "" "$(xattrs "$L/inj/file")"

# Device nodes are kept in the layer (faithful image) but inert: the rootfs
# is mounted nodev.
rm -rf "$DR"
$MKTAR devices "$T/d.tar" "$OUT"
check "devices: import" gb import "$T/d.tar" evil:dev
L=$(layer_of)
check_eq "devices: kept as nodes in the layer" "character special file 1,1 block special file fifo" \
        "$(stat -c '%F %t,%T' "$L/dev/mem") $(stat -c %F "$L/dev/sda") $(stat -c %F "$L/dev/fifo" | cut -d' ' -f1)"
TOOL=$GB_BUILD/tests/helpers/gb-rootfs-tool
at_exit "$TOOL release $DR $T/run cdev 0:100000:65536"
rf=$("$TOOL" prepare "$DR" "$T/run" cdev evil:dev auto 0:100000:65536 | cut -d' ' -f1)
check_match "devices: rootfs mounted nodev" "nodev" "$(findmnt -no OPTIONS "$rf" 2>&1)"
check_fails "devices: /dev/mem in the rootfs cannot be opened" head -c1 "$rf/dev/mem"
"$TOOL" release "$DR" "$T/run" cdev 0:100000:65536

# A setuid-root binary keeps owner and mode in the layer; in a remapped
# container it belongs to the container's root, never host root.
rm -rf "$DR"
$MKTAR setuid "$T/s.tar" "$OUT"
check "setuid: import" gb import "$T/s.tar" evil:suid
L=$(layer_of)
check_eq "setuid: owner and mode kept in the layer" "0:0 4755 0:42 2755" \
        "$(stat -c '%u:%g %a' "$L/bin/suid") $(stat -c '%u:%g %a' "$L/bin/sgid")"
rf=$("$TOOL" prepare "$DR" "$T/run" csuid evil:suid idmap 0:100000:65536 | cut -d' ' -f1)
check_eq "setuid: seen from the host through the container's root, owned by the remapped root" "100000:100000 4755" \
        "$(stat -c '%u:%g %a' "$rf/bin/suid")"
check_eq "setuid: inside the user namespace it is root's, setuid" "/bin/suid 0 0 104755" \
        "$("$TOOL" nslist 0:100000:65536 "$rf" | grep '^/bin/suid ')"
"$TOOL" release "$DR" "$T/run" csuid 0:100000:65536

# The outer archive of `load` is hostile too: a manifest naming a layer file
# that is a symlink to a host file, or a path with "..", finds nothing.
mkdir -p "$T/evil-save/l"
ln -s "$OUT/target" "$T/evil-save/l/layer.tar"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%064d"]}}' 0 >"$T/evil-save/c.json"
printf '[{"Config":"c.json","RepoTags":["evil:save"],"Layers":["l/layer.tar"]}]' >"$T/evil-save/manifest.json"
tar -C "$T/evil-save" -cf "$T/evil-save.tar" .
rm -rf "$DR"
check_fails "load: a layer symlinked to a host file is not read" gb load -i "$T/evil-save.tar"
printf '[{"Config":"../../../../../../../../%s","RepoTags":["evil:save"],"Layers":[]}]' "$OUT/target" >"$T/evil-save/manifest.json"
tar -C "$T/evil-save" -cf "$T/evil-save2.tar" .
out=$(gb load -i "$T/evil-save2.tar" 2>&1)
check_match "load: a config path with .. does not leave the archive" "Failed to (read|open|parse)" "$out"
check_eq "load: nothing stored" "0 0" "$(n_layers) $(ls "$DR/images/sha256" | wc -l)"

check_eq "outside dir untouched after every case" "$before" "$(snapshot)"
done_testing
