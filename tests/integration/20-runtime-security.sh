#!/usr/bin/env bash
# process settings: the five capability sets (read from /proc/self/status),
# no_new_privs, seccomp (with argument filters), rlimits, umask, user,
# additionalGids, oomScoreAdj, fd hygiene, and clear errors for what the host
# cannot grant.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/runtime-lib.sh"

B=$T/b
rt_bundle "$B"
base=$(jq -r '.linux.uidMappings[0].hostID' "$B/config.json")
run_in() { (cd "$B" && rt run "c$RANDOM$RANDOM" "$@") 2>&1; }
set_args() { rt_args "$B" sh -c "$1"; }
status_field() { awk -v f="$1:" '$1 == f {print $2}' <<<"$2"; }

rt_cfg "$B" '
c["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 63}
c["process"]["capabilities"] = {
  "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
  "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
  "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
  "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
  "ambient": ["CAP_NET_BIND_SERVICE"]}
c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}]
c["process"]["oomScoreAdj"] = 500'
set_args 'cat /proc/self/status; echo umask=$(umask); echo ids=$(id -u) $(id -g) $(id -G); echo nofile=$(ulimit -n)/$(ulimit -Hn); echo oom=$(cat /proc/self/oom_score_adj)'
out=$(run_in)
check_eq "CapBnd = bounding (CHOWN, KILL, NET_BIND_SERVICE)" 0000000000000421 "$(status_field CapBnd "$out")"
check_eq "CapInh = inheritable (KILL, NET_BIND_SERVICE)" 0000000000000420 "$(status_field CapInh "$out")"
check_eq "CapAmb = ambient (NET_BIND_SERVICE)" 0000000000000400 "$(status_field CapAmb "$out")"
check_eq "CapPrm of a non-root user = its ambient set after exec" 0000000000000400 "$(status_field CapPrm "$out")"
check_eq "CapEff likewise" 0000000000000400 "$(status_field CapEff "$out")"
check_eq "NoNewPrivs from the default spec" 1 "$(status_field NoNewPrivs "$out")"
check_match "umask 0077" "umask=0077" "$out"
check_match "user 1000:1000 with additionalGids 10 20" "ids=1000 1000 1000 10 20|ids=1000 1000 10 20 1000" "$out"
check_match "rlimit NOFILE 100/200" "nofile=100/200" "$out"
check_match "oomScoreAdj" "oom=500" "$out"

rt_cfg "$B" 'c["process"]["user"] = {"uid": 0, "gid": 0}' \
       'c["process"]["capabilities"] = {k: ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER"] for k in ["bounding", "permitted", "effective"]}'
set_args 'grep -E "^Cap(Prm|Eff|Bnd)" /proc/self/status'
out=$(run_in)
check_eq "container root gets exactly the bounding set" "0000000000000b 0000000000000b 0000000000000b" \
        "$(awk '{print substr($2,3)}' <<<"$out" | tr '\n' ' ' | sed 's/ $//')"

# seccomp
rt_cfg "$B" 'c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
  "syscalls": [
    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
    {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 511, "op": "SCMP_CMP_EQ"}]},
    {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 2, "value": 511, "op": "SCMP_CMP_EQ"}]}]}'
set_args 'grep ^Seccomp: /proc/self/status; mkdir /tmp/d && echo mkdir-ok; touch /tmp/f; chmod 755 /tmp/f && echo chmod755-ok; chmod 777 /tmp/f && echo chmod777-ok'
rt_cfg "$B" 'c["root"]["readonly"] = False'
out=$(run_in)
check_match "seccomp filter is active" "Seccomp:.*2" "$out"
check_match "seccomp rule denies mkdir with EPERM" "mkdir: can't create directory '/tmp/d': Operation not permitted" "$out"
check_match "seccomp arg filter allows chmod 755" "chmod755-ok" "$out"
check_fails "seccomp arg filter denies chmod 777" grep -q chmod777-ok <<<"$out"
rt_cfg "$B" 'del c["linux"]["seccomp"]'
check_match "control: without the filter mkdir works" "mkdir-ok" "$(run_in)"

# fds: nothing of the runtime's reaches the container; --preserve-fds passes
# 3.. Looked at from the host, on a process that is not a shell (a shell
# itself opens fds while it runs a pipeline).
rt_args "$B" sleep 1000
rt_bg run --detach --bundle "$B" c-fds 5</etc/hostname 7<"$T"
check_eq "only 0 1 2 reach the container (CVE-2024-21626 class)" "0 1 2" \
        "$(ls /proc/"$(rt state c-fds | jq -r .pid)"/fd | sort -n | tr '\n' ' ' | sed 's/ $//')"
rt delete --force c-fds
rt_bg run --detach --preserve-fds 1 --bundle "$B" c-fds2 3</etc/hostname 7<"$T"
pid=$(rt state c-fds2 | jq -r .pid)
check_eq "--preserve-fds 1 passes fd 3 only" "0 1 2 3" "$(ls /proc/"$pid"/fd | sort -n | tr '\n' ' ' | sed 's/ $//')"
check_eq "... and fd 3 is the one given" /etc/hostname "$(readlink /proc/"$pid"/fd/3)"
rt delete --force c-fds2

# user 33 as the host sees it
rt_cfg "$B" 'c["process"]["user"] = {"uid": 33, "gid": 33}'
rt_args "$B" sleep 1000
rt_bg run --detach --bundle "$B" c-uid
pid=$(rt state c-uid | jq -r .pid)
check_eq "container uid 33 is host uid base+33" "$((base + 33))" "$(ps -o uid= -p "$pid" | tr -d ' ')"
rt delete --force c-uid

# LSM labels: applied at exec where the LSM is enabled, else a warning.
rt_cfg "$B" 'c["process"]["apparmorProfile"] = "docker-default"' 'c["process"]["user"] = {"uid": 0, "gid": 0}'
rt_args "$B" sh -c 'cat /proc/self/attr/current 2>/dev/null; echo ran'
out=$(run_in)
if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then
        check_match "apparmorProfile is applied" "docker-default" "$out"
else
        check_match "apparmorProfile on a host without AppArmor: a warning naming the field" \
                "process.apparmorProfile: AppArmor is not enabled on this host" "$out"
        check_match "... and the container runs" "ran" "$out"
fi
rt_cfg "$B" 'del c["process"]["apparmorProfile"]'

# What the host cannot grant is named, with the reason.
hard=$(ulimit -Hn)
rt_cfg "$B" 'c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": '"$((hard + 1000))"'}]'
out=$(run_in)
check_match "a hard rlimit above the host's is refused, naming limit and capability" \
        "RLIMIT_NOFILE hard limit $((hard + 1000)) is above this host's $hard.*CAP_SYS_RESOURCE" "$out"
rt_cfg "$B" 'c["process"]["rlimits"] = []'
if [ $(( 0x$(awk '/^CapBnd/ {print $2}' /proc/self/status) >> 24 & 1 )) -eq 0 ]; then
        rt_cfg "$B" 'c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "user"]' \
               'del c["linux"]["uidMappings"]; del c["linux"]["gidMappings"]' \
               'c["process"]["capabilities"]["bounding"].append("CAP_SYS_RESOURCE")'
        out=$(run_in)
        check_match "without a user namespace, CAP_SYS_RESOURCE (withheld by this host) is named" \
                "CAP_SYS_RESOURCE cannot be granted: the host withholds it" "$out"
else
        skip "host root has CAP_SYS_RESOURCE: nothing withheld to report"
fi
done_testing
