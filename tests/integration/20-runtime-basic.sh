#!/usr/bin/env bash
# ghostbox-runtime lifecycle in a user namespace: spec, run, create/start,
# state, kill, delete, exec, list, ps, features, exit codes and signals,
# runc-style errors and JSON logs.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/runtime-lib.sh"

B=$T/b1
rt_bundle "$B"
check "spec writes a config.json with a user namespace" \
        jq -e '.linux.namespaces | map(.type) | index("user")' "$B/config.json"
check_fails "spec refuses to overwrite config.json" bash -c "cd '$B' && '$GB_RUNTIME' spec"
base=$(jq -r '.linux.uidMappings[0].hostID' "$B/config.json")
size=$(jq -r '.linux.uidMappings[0].size' "$B/config.json")

rt_args "$B" sh -c 'cat /proc/self/uid_map; id -u; id -g'
out=$(cd "$B" && rt run c1 2>&1)
check_match "uid_map inside is the configured mapping" "^ +0 +$base +$size\$" "$out"
check_eq "id -u and id -g are 0 inside" "0 0" "$(tail -2 <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
check_fails "run removed the container afterwards" test -e "$RT_ROOT/c1"

# create / start / state / host view / kill / delete
rt_args "$B" sleep 1000
# The init keeps create's stdio (as with runc): give it files, not a pipe.
check "create" rt_bg create --bundle "$B" --pid-file "$T/c2.pid" c2
check_eq "state is created" created "$(rt state c2 | jq -r .status)"
pid=$(cat "$T/c2.pid")
check_eq "state pid = pid file" "$pid" "$(rt state c2 | jq -r .pid)"
check_eq "the init waits in create (has not exec'd yet)" ghostbox-runtim "$(cat /proc/"$pid"/comm)"
check "start" rt start c2
check_eq "state is running" running "$(rt state c2 | jq -r .status)"
sleep 0.1
check_eq "host sees the mapped UID (ps -o uid)" "$base" "$(ps -o uid= -p "$pid" | tr -d ' ')"
check_eq "process runs sleep" sleep "$(cat /proc/"$pid"/comm)"
check_match "list shows it" "^c2 +$pid +running" "$(rt list)"
check_eq "ps --format json lists the init" "[$pid]" "$(rt ps --format json c2)"
check_fails "delete refuses a running container" rt delete c2
out=$(rt exec c2 sh -c 'echo from-exec; id -u; cat /proc/self/uid_map' 2>&1)
check_match "exec runs in the container" "from-exec" "$out"
check_match "exec sees the same uid_map" "^ +0 +$base +$size\$" "$out"
check_eq "exec exit code propagates" 7 "$(rt exec c2 sh -c 'exit 7'; echo $?)"
rt_bg exec --detach --pid-file "$T/e.pid" c2 sleep 1000
epid=$(cat "$T/e.pid" 2>/dev/null)
check_eq "exec --detach runs in the container's pid namespace" \
        "$(readlink /proc/"$pid"/ns/pid)" "$(readlink /proc/"$epid"/ns/pid 2>/dev/null)"
check_match "ps lists the exec'd process" "$epid" "$(rt ps --format json c2)"
cat >"$T/proc.json" <<'J'
{"args": ["sh", "-c", "echo $FOO; pwd"], "env": ["FOO=bar", "PATH=/bin"], "cwd": "/tmp", "user": {"uid": 0, "gid": 0}}
J
check_eq "exec --process FILE" "bar /tmp" "$(rt exec --process "$T/proc.json" c2 | tr '\n' ' ' | sed 's/ $//')"
check_match "kill with an unknown signal: refused, naming it" "unknown signal 'NOPE'" "$(rt kill c2 NOPE 2>&1)"
check "kill with a signal name" rt kill c2 KILL
for _ in $(seq 50); do [ "$(rt state c2 | jq -r .status)" = stopped ] && break; sleep 0.05; done
check_eq "state is stopped after kill" stopped "$(rt state c2 | jq -r .status)"
check_fails "the exec'd process died with the pid namespace" test -d "/proc/$epid/fd"
check "delete" rt delete c2
check_fails "state after delete fails" rt state c2
check_match "state of a missing container names it" "container does not exist: c2" "$(rt state c2 2>&1)"

# exit codes and signals of run
rt_args "$B" sh -c 'exit 42'
check_eq "run propagates the exit code" 42 "$(cd "$B" && rt run c3; echo $?)"
rt_args "$B" sleep 1000
(cd "$B" && exec "$GB_RUNTIME" --root "$RT_ROOT" run c4 >/dev/null 2>&1) &
rpid=$!
for _ in $(seq 50); do [ "$(rt state c4 2>/dev/null | jq -r .status)" = running ] && break; sleep 0.05; done
rt kill c4 KILL
wait $rpid
check_eq "run reports death by signal as 128+n" 137 $?
rt_args "$B" sh -c 'trap "exit 9" USR1; while :; do sleep 0.05; done'
(cd "$B" && exec "$GB_RUNTIME" --root "$RT_ROOT" run c5 >/dev/null 2>&1) &
rpid=$!
for _ in $(seq 50); do [ "$(rt state c5 2>/dev/null | jq -r .status)" = running ] && break; sleep 0.05; done
sleep 0.2
kill -USR1 $rpid
wait $rpid
check_eq "run forwards signals to the container" 9 $?

# detach + kill --all
rt_args "$B" sleep 1000
check "run --detach" rt_bg run --detach --bundle "$B" c6
check_eq "detached container runs" running "$(rt state c6 | jq -r .status)"
check "kill --all" rt kill --all c6 9
for _ in $(seq 50); do [ "$(rt state c6 | jq -r .status)" = stopped ] && break; sleep 0.05; done
check_eq "stopped after kill --all" stopped "$(rt state c6 | jq -r .status)"
check "delete a stopped container" rt delete c6

# runc-style errors and logs
check_eq "exit code 1 on error" 1 "$(rt start nosuch 2>/dev/null; echo $?)"
"$GB_RUNTIME" --root "$RT_ROOT" --log "$T/log.json" --log-format json start nosuch 2>/dev/null
check "--log-format json writes a JSON line containerd can read" \
        jq -e 'select(.level == "error" and (.msg | test("nosuch")) and (.time | length > 0))' "$T/log.json"
check_match "--version" "^ghostbox-runtime version .*" "$("$GB_RUNTIME" --version)"
check "features is JSON with seccomp and idmap" \
        bash -c "'$GB_RUNTIME' features | jq -e '.linux.seccomp.enabled and (.linux.namespaces | index(\"user\"))'"
check "global --systemd-cgroup is accepted" "$GB_RUNTIME" --root "$RT_ROOT" --systemd-cgroup list
done_testing
