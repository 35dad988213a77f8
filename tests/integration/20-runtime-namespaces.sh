#!/usr/bin/env bash
# linux.namespaces: create each type, join by path (network from `ip netns`,
# user + pid of another container), cgroup mounts on this host's cgroup
# layout (v1, v2 or hybrid), --no-pivot, exec options.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/runtime-lib.sh"

B=$T/b
rt_bundle "$B"
rt_cfg "$B" 'c["linux"]["namespaces"].append({"type": "cgroup"})' \
        'c["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]})'
rt_args "$B" sh -c 'for n in user mnt pid net ipc uts cgroup; do readlink /proc/self/ns/$n; done; grep " /sys/fs/cgroup" /proc/self/mountinfo | head -1'
out=$( (cd "$B" && rt run n1) 2>&1)
for n in user mnt pid net ipc uts cgroup; do
        check_fails "a new $n namespace is created" grep -qx "$(readlink /proc/self/ns/$n)" <<<"$out"
done
check_match "a cgroup mount works on this host's cgroup layout" " /sys/fs/cgroup " "$out"

# Join a network namespace by path.
if ip netns add "gbrt$$" 2>/dev/null; then
        at_exit "ip netns del gbrt$$"
        rt_cfg "$B" 'c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"] + [{"type": "network", "path": "/run/netns/gbrt'$$'"}]' \
                'c["mounts"] = [m for m in c["mounts"] if m["type"] not in ("sysfs", "cgroup")]'
        rt_args "$B" readlink /proc/self/ns/net
        check_eq "a network namespace joined by path (ip netns) is used" "net:[$(stat -L -c %i "/run/netns/gbrt$$")]" \
                "$( (cd "$B" && rt run n2) 2>&1)"
else
        skip "ip netns add failed"
fi

# Join another container's user and pid namespaces (a pod).
B2=$T/b2
rt_bundle "$B2"
rt_args "$B2" sleep 1000
rt_bg run --detach --bundle "$B2" pod
ppid=$(rt state pod | jq -r .pid)
rt_cfg "$B" 'c["linux"]["namespaces"] = [{"type": "mount"}, {"type": "user", "path": "/proc/'"$ppid"'/ns/user"}, {"type": "pid", "path": "/proc/'"$ppid"'/ns/pid"}]' \
        'del c["linux"]["uidMappings"]; del c["linux"]["gidMappings"]; del c["hostname"]' \
        'c["mounts"] = [m for m in c["mounts"] if m["type"] not in ("sysfs", "cgroup", "mqueue")]'
rt_args "$B" sh -c 'cat /proc/self/uid_map; ps -o pid,args'
out=$( (cd "$B" && rt run n3) 2>&1)
check_match "joined user namespace: same mapping as the pod" "^ +0 +$(jq -r '.linux.uidMappings[0].hostID' "$B2/config.json") " "$out"
check_match "joined pid namespace: the pod's init is visible as pid 1" "^ +1 .*sleep 1000" "$out"
rt delete --force pod

# --no-pivot (MS_MOVE + chroot), and exec into such a container.
rt_bundle "$T/b3"
rt_args "$T/b3" sleep 1000
check "create --no-pivot" rt_bg create --no-pivot --bundle "$T/b3" np
check "start" rt start np
out=$(rt exec --user 33:33 --env FOO=bar --cwd /tmp np sh -c 'id -u; id -g; echo $FOO; pwd; ls /bin/busybox' 2>&1)
check_eq "exec --user --env --cwd in a --no-pivot container" "33 33 bar /tmp /bin/busybox" "$(tr '\n' ' ' <<<"$out" | sed 's/ $//')"
rt delete --force np
done_testing
