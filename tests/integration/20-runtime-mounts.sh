#!/usr/bin/env bash
# config.json mounts: bind mounts and the seeds' T2/T3 through them, ro and
# propagation flags, tmpfs, devices from the host (mknod denied), masked and
# read-only paths, read-only root, idmapped mounts, sysctl, hostname.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/runtime-lib.sh"

B=$T/b
rt_bundle "$B"
base=$(jq -r '.linux.uidMappings[0].hostID' "$B/config.json")

# Host side of T2/T3 (seeds/004), in our own temp dir.
echo "HOST SECRET: db_password=hunter2" >"$T/host-secret.txt"
chmod 600 "$T/host-secret.txt"
mkdir -p "$T/host-dir" "$T/shared" "$T/ro-src"
chmod 755 "$T/host-dir"
chmod 1777 "$T/shared" "$T/ro-src"
rt_cfg "$B" '
c["mounts"] += [
  {"destination": "/mnt/secret.txt", "type": "bind", "source": "'"$T"'/host-secret.txt", "options": ["rbind", "rw"]},
  {"destination": "/mnt/host-dir", "type": "bind", "source": "'"$T"'/host-dir", "options": ["rbind", "rw"]},
  {"destination": "/mnt/shared", "type": "bind", "source": "'"$T"'/shared", "options": ["bind", "rw", "nosuid", "nodev", "rprivate"]},
  {"destination": "/mnt/ro", "type": "bind", "source": "'"$T"'/ro-src", "options": ["bind", "ro", "noexec"]},
  {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m", "mode=1777"]},
]'
run_in() { (cd "$B" && rt run "c$RANDOM$RANDOM" "$@") 2>&1; }
set_args() { rt_args "$B" sh -c "$1"; }

set_args 'cat /mnt/secret.txt'
out=$(run_in)
check_match "T2: a mode-600 host root file is unreadable through a bind mount" "Permission denied" "$out"
set_args 'touch /mnt/host-dir/pwned'
out=$(run_in)
check_match "T3: a root-owned host dir is unwritable through a bind mount" "Permission denied" "$out"
check_fails "T3: nothing was written on the host" test -e "$T/host-dir/pwned"
set_args 'echo hi >/mnt/shared/f && echo wrote'
check_match "control: a world-writable bind mount is writable" "^wrote" "$(run_in)"
check_eq "files created land on the host as the mapped UID" "$base" "$(stat -c %u "$T/shared/f")"
set_args 'echo hi >/mnt/ro/f'
check_match "an ro bind mount refuses writes" "Read-only file system" "$(run_in)"
set_args 'grep " /mnt/ro " /proc/self/mountinfo'
check_match "ro,noexec flags are set on the bind mount" " /mnt/ro ro,[^ ]*noexec" "$(run_in)"
set_args 'grep " /mnt/shared " /proc/self/mountinfo'
check_match "nosuid,nodev flags on the rw bind" " /mnt/shared rw,nosuid,nodev" "$(run_in)"
set_args 'grep " /scratch " /proc/self/mountinfo; dd if=/dev/zero of=/scratch/big bs=1k count=2048 2>&1'
out=$(run_in)
check_match "tmpfs mounted with its options" " /scratch rw,nosuid.* tmpfs tmpfs " "$out"
check_match "tmpfs size=1m is enforced" "No space left on device" "$out"
set_args 'touch /newfile'
check_match "root.readonly makes / read-only" "Read-only file system" "$(run_in)"

# Devices
set_args 'mknod /dev/mynull c 1 3 && echo made'
check_match "mknod is denied inside the user namespace" "Operation not permitted" "$(run_in)"
set_args 'stat -c "%F %t:%T" /dev/null /dev/zero /dev/urandom; echo x >/dev/null && echo null-ok; head -c 4 /dev/zero | wc -c'
out=$(run_in)
check_match "/dev/null is the host's char device 1:3" "character special file 1:3" "$out"
check_match "/dev/null is writable" "null-ok" "$out"
rt_cfg "$B" 'c["linux"]["devices"] = [{"path": "/dev/myzero", "type": "c", "major": 1, "minor": 5, "fileMode": 438}]'
set_args 'stat -c "%F %t:%T" /dev/myzero; head -c 3 /dev/myzero | od -An -tx1'
out=$(run_in)
check_match "linux.devices: a device is bind-mounted from the host node with its number" "1:5" "$out"
check_match "linux.devices: and works" "00 00 00" "$out"
rt_cfg "$B" 'c["linux"]["devices"] = [{"path": "/dev/nosuch", "type": "c", "major": 250, "minor": 250}]'
check_match "a device the host lacks is a clear error" "has no device c 250:250" "$(run_in)"
rt_cfg "$B" 'del c["linux"]["devices"]'

# Masked and read-only paths
# (This kernel has no /proc/kcore or /proc/sysrq-trigger: use files it has.)
test -e /proc/timer_list || diag "host has no /proc/timer_list"
set_args 'wc -c </proc/timer_list; ls /proc/acpi | wc -l; ls /proc/bus | wc -l; grep " /proc/bus " /proc/self/mountinfo; echo x > /proc/sys/kernel/domainname'
out=$(run_in)
check_match "maskedPaths: /proc/timer_list reads empty" "^0$" "$(head -1 <<<"$out")"
check_eq "maskedPaths: /proc/acpi is empty" 0 "$(sed -n 2p <<<"$out")"
check_match "readonlyPaths: /proc/bus is mounted read-only" " /proc/bus ro," "$out"
check_match "readonlyPaths: /proc/sys is read-only" "domainname: Read-only file system" "$out"
set_args 'grep -E " /proc/(timer_list|acpi) " /proc/self/mountinfo'
out=$(run_in)
check_match "/proc/timer_list is covered by a bind of /dev/null" " /proc/timer_list " "$out"
check_match "/proc/acpi is covered by a read-only tmpfs" " /proc/acpi ro,.* tmpfs " "$out"
rt_cfg "$B" 'c["mounts"].append({"destination": "/proc/timer_list", "type": "bind", "source": "/proc/timer_list", "options": ["bind"]})'
set_args 'true'
check_match "a bind mount into /proc (mask bypass) is refused" "inside /proc" "$(run_in)"
rt_cfg "$B" 'c["mounts"].pop()'

# hostname, sysctl (namespaced), idmapped mount
rt_cfg "$B" 'c["hostname"] = "box1"; c["domainname"] = "dom1"; c["linux"]["sysctl"] = {"kernel.shmmax": "12345678"}'
set_args 'hostname; cat /proc/sys/kernel/domainname; cat /proc/sys/kernel/shmmax'
check_eq "hostname, domainname and a namespaced sysctl" "box1 dom1 12345678" "$(run_in | tr '\n' ' ' | sed 's/ $//')"
rt_cfg "$B" 'del c["linux"]["sysctl"]'

mkdir -p "$T/idm"
echo data >"$T/idm/owned-by-root"
chmod 755 "$T/idm"
rt_cfg "$B" '
m = c["linux"]["uidMappings"]
c["mounts"].append({"destination": "/idm", "type": "bind", "source": "'"$T"'/idm", "options": ["bind", "rw"],
                    "uidMappings": m, "gidMappings": c["linux"]["gidMappings"]})'
set_args 'stat -c %u /idm/owned-by-root; touch /idm/new && echo wrote'
out=$(run_in)
check_match "idmapped mount: a host-root file appears owned by container root" "^0$" "$(head -1 <<<"$out")"
check_match "idmapped mount: container root can write the host-root dir" "wrote" "$out"
check_eq "idmapped mount: the new file is owned by host root on disk" 0 "$(stat -c %u "$T/idm/new" 2>&1)"
rt_cfg "$B" 'c["mounts"][-1] = {"destination": "/idm", "type": "bind", "source": "'"$T"'/idm", "options": ["bind", "idmap"]}'
set_args 'stat -c %u /idm/owned-by-root'
check_eq "the \"idmap\" option alone uses the container's own mapping" 0 "$(run_in)"
done_testing
