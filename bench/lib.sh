# bench/lib.sh: the image and bundle every system gets, shared by run.sh and
# profile.sh. Source it; it defines functions only. Needs $base and $count
# (the host ID container root maps to, and the range size).

# make_rootfs DIR [EXTRA_FILES]: a busybox-static root (busybox, its applet
# symlinks, /etc/passwd and /etc/group), plus EXTRA_FILES small files, 1000
# per directory, for the rootfs-preparation scenario.
make_rootfs() { # DIR [EXTRA_FILES]
        local d=$1 extra=${2:-0} a i
        mkdir -p "$d"/{bin,dev,proc,sys,tmp,etc,root}
        cp "$(command -v busybox)" "$d/bin/busybox"
        for a in $("$d/bin/busybox" --list); do
                [ "$a" = busybox ] || ln -sf busybox "$d/bin/$a"
        done
        echo 'root:x:0:0:root:/root:/bin/sh' >"$d/etc/passwd"
        echo 'root:x:0:' >"$d/etc/group"
        chmod 1777 "$d/tmp"
        if [ "$extra" -gt 0 ]; then
                # Small files, 1000 per directory, like a real image's tree.
                (cd "$d" && for ((i = 0; i < extra; i++)); do
                        [ $((i % 1000)) -eq 0 ] && mkdir -p "data/d$((i / 1000))"
                        echo "$i" >"data/d$((i / 1000))/f$i"
                done)
        fi
}

# write_config BUNDLE ROOTFS ARGS_JSON: the OCI config every runtime runs:
# user namespace (0 -> $base, $count IDs) plus mount, PID, network, IPC and
# UTS namespaces, runc's default mounts, caps, masks, a read-only root.
write_config() { # BUNDLE ROOTFS ARGS_JSON
        cat >"$1/config.json" <<EOF
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": $3,
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "$2", "readonly": true},
  "hostname": "bench",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
  ],
  "linux": {
    "uidMappings": [{"containerID": 0, "hostID": $base, "size": $count}],
    "gidMappings": [{"containerID": 0, "hostID": $base, "size": $count}],
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}],
    "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
  }
}
EOF
}
