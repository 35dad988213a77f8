#!/usr/bin/env bash
# The engine CLI end to end with real containers: ghostbox run/create/
# start/ps/inspect/logs/stop/kill/rm/wait/rename, the remapping rules,
# --userns=auto, exit codes, stdio, the monitor's truthfulness after a
# SIGKILL. Runs from a busybox directory (--rootfs) with throwaway
# subuid/subgid files: remap user root, default range 400000+65536, an
# auto pool at 1000000.
. "$(dirname "$0")/lib.sh"
require_root

engine_env

# --- the remapping, and what the host sees ---------------------------------
out=$(gb run --rm "${R[@]}" cat /proc/self/uid_map)
check_match "run --rm: uid_map inside is 0 400000 65536" '^ +0 +400000 +65536$' "$out"
out=$(gb run --rm "${R[@]}" cat /proc/self/gid_map)
check_match "run --rm: gid_map inside is 0 400000 65536" '^ +0 +400000 +65536$' "$out"
check_eq "root inside is uid 0" "uid=0(root) gid=0(root)" "$(gb run --rm "${R[@]}" id)"
id=$(gb run -d --name sleeper "${R[@]}" sleep 300)
check_match "run -d prints the full ID" '^[0-9a-f]{64}$' "$id"
pid=$(gb inspect -f '{{.State.Pid}}' sleeper)
check_eq "host sees the container's root as UID 400000 (ps -o uid)" "400000" "$(ps -o uid= -p "$pid" | tr -d ' ')"
check_eq "inspect: Running" "true running" "$(gb inspect -f '{{.State.Running}} {{.State.Status}}' sleeper)"
check_eq "inspect: UsernsMode empty (remapped)" "" "$(gb inspect -f '{{.HostConfig.UsernsMode}}' sleeper)"
check_eq "inspect: the container's UID map" '[{"ContainerID":0,"HostID":400000,"Size":65536}]' \
        "$(gb inspect -f '{{json .Ghostbox.UidMap}}' sleeper)"
check_match "ps lists it as Up" "sleeper" "$(gb ps)"
check_eq "ps -q gives the short ID" "${id:0:12}" "$(gb ps -q)"
check_match "inspect prints a JSON array with Docker's fields" '"Id": "'"$id"'"' "$(gb inspect sleeper)"
area=$(stat -c '%u:%g %a' "$T/data/400000.400000")
check_eq "per-remap area is 0700 and owned by the remapped root" "400000:400000 700" "$area"
check_fails "rm refuses a running container" gb rm sleeper
check "stop -t 1" gb stop -t 1 sleeper
check_match "ps -a: Exited (137) after SIGKILL on timeout" 'Exited \(137\)' "$(gb ps -a)"
check_eq "ps (running only) is empty" "" "$(gb ps -q)"
check "rm" gb rm sleeper
check_fails "rm again: no such container" gb rm sleeper
check_eq "no record left" "" "$(gb ps -aq)"

# --- exit codes and stdio --------------------------------------------------
gb run --rm "${R[@]}" sh -c 'exit 7'
check_eq "exit code propagates" 7 $?
gb run --rm "${R[@]}" /nonexistent 2>/dev/null
check_eq "missing command: 127" 127 $?
gb run --rm "${R[@]}" /etc/passwd 2>/dev/null
check_eq "not executable: 126" 126 $?
gb run --rm --name x "${R[@]}" --nosuchflag true 2>/dev/null
check_eq "bad flag: 125" 125 $?
out=$(gb run --rm "${R[@]}" sh -c 'echo out; echo err >&2' 2>"$T/err")
check_eq "stdout reaches stdout" out "$out"
check_eq "stderr reaches stderr" err "$(cat "$T/err")"
check_eq "-i passes stdin" "hello" "$(echo hello | gb run --rm -i "${R[@]}" cat)"
out=$(on_tty "$TTY_TIMEOUT ${G[*]} run --rm -t ${R[*]} sh -c 'tty; stty size'")
check_match "-t gives the container a pty" '^/dev/pts/[0-9]+' "$out"
check_match "-it, typing on an open terminal: the line reaches the shell" 'got:hello' \
        "$(on_tty_typed $'hello\n' "$TTY_TIMEOUT ${G[*]} run --rm -it ${R[*]} sh -c 'read x; echo got:\$x'")"
check_eq "--rm leaves no record" "" "$(gb ps -aq)"
check_eq "--rm leaves no mount" 0 "$(grep -c " $T/data" /proc/self/mountinfo)"

# --- flags -----------------------------------------------------------------
printf 'A=1\n# comment\n\nB=two words\n' >"$T/env"
out=$(gb run --rm -e X=y --env-file "$T/env" -w /tmp -u 33:33 --hostname web "${R[@]}" \
        sh -c 'echo "$X $A $B $(pwd) $(id -u):$(id -g) $(hostname)"')
check_eq "-e --env-file -w -u --hostname" "y 1 two words /tmp 33:33 web" "$out"
check_fails "--read-only: the root is read-only" gb run --rm --read-only "${R[@]}" touch /x
check "--read-only --tmpfs /run: tmpfs writable" gb run --rm --read-only --tmpfs /run "${R[@]}" touch /run/x
check_eq "--cap-drop ALL: no effective capabilities" "CapEff:	0000000000000000" \
        "$(gb run --rm --cap-drop ALL "${R[@]}" grep CapEff /proc/self/status)"
check_eq "default caps: Docker's 14" "00000000a80425fb" \
        "$(gb run --rm "${R[@]}" sh -c 'grep CapEff /proc/self/status' | awk '{print $2}')"
check_fails "mknod is denied in a user namespace" gb run --rm "${R[@]}" mknod /tmp/d c 1 3
check "... while without one (--userns=host) the same mknod works: the check can fail" \
        gb run --rm --userns=host "${R[@]}" mknod /tmp/d c 1 3
check_fails "unshare of a nested user namespace is denied by the default seccomp profile" \
        gb run --rm "${R[@]}" unshare -U true
check "--security-opt seccomp=unconfined lifts it" \
        gb run --rm --security-opt seccomp=unconfined "${R[@]}" unshare -U true
check_eq "--network none: loopback only" "lo" \
        "$(gb run --rm --network none "${R[@]}" ls /sys/class/net)"
check "loopback is up" gb run --rm "${R[@]}" ping -c1 -W2 127.0.0.1
check_fails "--entrypoint overrides the command" gb run --rm --entrypoint /bin/false "${R[@]}"
# PID 1 of a PID namespace has no default signal actions: a plain `sleep`
# ignores SIGTERM (as in Docker without --init), so trap it.
gb run -d --name dup "${R[@]}" sh -c 'trap "exit 143" TERM; sleep 300 & wait' >/dev/null
out=$(gb run --rm --name dup "${R[@]}" true 2>&1)
check_match "name conflict: Docker's message" 'is already in use by container' "$out"
check "rename" gb rename dup dup2
check_eq "renamed" "/dup2" "$(gb inspect -f '{{.Name}}' dup2)"
out=$(gb kill -s SIGNOPE dup2 2>&1); rc=$?
check_eq "kill -s with an unknown signal: refused (125), naming it" "125 ghostbox: invalid signal: SIGNOPE" "$rc $out"
check "kill -s TERM" gb kill -s TERM dup2
check_eq "wait prints the exit code" 143 "$(gb wait dup2)"
check "rm after kill" gb rm dup2

out=$(gb run --rm --init "${R[@]}" ps -o pid,args)
check_match "--init: PID 1 is ghostbox-init at /sbin/docker-init" '^ +1 /sbin/docker-init -- ps' "$out"
gb run -d --init --name tini "${R[@]}" sleep 300 >/dev/null
gb stop -t 30 tini >/dev/null
check_eq "--init: SIGTERM reaches the command (exit 143 at once, not a SIGKILL)" 143 \
        "$(gb inspect -f '{{.State.ExitCode}}' tini)"
check_fails "--init: the init binary is read-only inside" gb run --rm --init "${R[@]}" sh -c 'echo x >>/sbin/docker-init'
gb rm tini >/dev/null

check_eq "--security-opt no-new-privileges" "NoNewPrivs:	1" \
        "$(gb run --rm --security-opt no-new-privileges "${R[@]}" grep NoNewPrivs /proc/self/status)"
check_eq "without it no_new_privs is off" "NoNewPrivs:	0" "$(gb run --rm "${R[@]}" grep NoNewPrivs /proc/self/status)"
eff=$(gb run --rm --cap-add NET_ADMIN "${R[@]}" grep CapEff /proc/self/status | awk '{print $2}')
check_eq "--cap-add NET_ADMIN sets bit 12" 1 "$(( (0x$eff >> 12) & 1 ))"
check_match "--userns=auto:size=1000 maps 1000 IDs" '^ +0 +[0-9]+ +1000$' \
        "$(gb run --rm --userns=auto:size=1000 "${R[@]}" cat /proc/self/uid_map)"
check_eq "--pid=host --userns=host sees the host's PID 1" "$(readlink /proc/1/ns/pid)" \
        "$(gb run --rm --pid=host --userns=host "${R[@]}" readlink /proc/1/ns/pid)"
id=$(gb create --name later "${R[@]}" sh -c 'echo started; exit 5')
check_eq "create leaves it Created" "created" "$(gb inspect -f '{{.State.Status}}' later)"
out=$(gb start -a later); rc=$?
check_eq "start -a streams the output" "started" "$out"
check_eq "start -a returns the exit code" 5 $rc
check_match "ps --format json: one object per line with Docker's keys" '^later Exited \(5\) ' \
        "$(gb ps -a --format json | jq -r 'select(.Names == "later") | .Names + " " + .Status')"
gb rm later >/dev/null
gb run -d --name follow "${R[@]}" sh -c 'for i in 1 2 3; do echo tick$i; sleep 0.2; done' >/dev/null
check_eq "logs -f follows until the container exits" "$(printf 'tick1\ntick2\ntick3')" "$(gb logs -f follow)"
gb rm follow >/dev/null
gb run -d --name att "${R[@]}" sh -c 'sleep 0.5; echo late; exit 4' >/dev/null
out=$(gb attach --no-stdin att); rc=$?
check_eq "attach streams what the container prints from then on" "late" "$out"
check_eq "attach returns the container's exit code" 4 $rc
gb rm att >/dev/null
gb run -d --name exd "${R[@]}" sleep 300 >/dev/null
gb exec -d exd sh -c 'echo detached > /tmp/marker'
wait_until gb exec exd test -s /tmp/marker
check_eq "exec -d runs in the background" "detached" "$(gb exec exd cat /tmp/marker)"
gb rm -f exd >/dev/null

# --- the refusals (seeds/000, /004) ----------------------------------------
for flag in --privileged --pid=host --network=host; do
        out=$(gb run --rm $flag "${R[@]}" true 2>&1)
        rc=$?
        if [ $rc -eq 125 ] && grep -q -- '--userns=host' <<<"$out"; then ok "$flag refused under remapping"
        else not_ok "$flag refused under remapping"; diag "rc=$rc" "$out"; fi
done
check_match "--userns=host: no user namespace" '^ +0 +0 +4294967295$' \
        "$(gb run --rm --userns=host "${R[@]}" cat /proc/self/uid_map)"
check_eq "--userns=host recorded as UsernsMode host" "host" \
        "$(gb create --userns=host --name hosty "${R[@]}" true >/dev/null && gb inspect -f '{{.HostConfig.UsernsMode}}' hosty)"
gb rm hosty >/dev/null
check "--privileged with --userns=host is allowed" gb run --rm --privileged --userns=host "${R[@]}" true

# --- --userns=auto ---------------------------------------------------------
out=$(gb run --rm --userns=auto "${R[@]}" cat /proc/self/uid_map)
check_match "--userns=auto: a range from the pool, not the default" '^ +0 +1000000 +65536$' "$out"
for i in $(seq 1 20); do
        gb run -d --userns=auto --name auto$i "${R[@]}" sleep 300 >"$T/auto$i.out" 2>&1 &
done
wait
bases=$(for i in $(seq 1 20); do gb inspect -f '{{json .Ghostbox.UidMap}}' auto$i 2>/dev/null; done |
        sed -n 's/.*"HostID":\([0-9]*\).*/\1/p' | sort -n)
check_eq "20 concurrent --userns=auto runs all started" 20 "$(wc -l <<<"$bases")"
check_eq "... with 20 distinct ranges" 20 "$(uniq <<<"$bases" | wc -l)"
overlap=$(awk 'NR>1 && $1-prev < 65536 {print "overlap at " $1} {prev=$1}' <<<"$bases")
check_eq "... none overlapping" "" "$overlap"
p1=$(gb inspect -f '{{.State.Pid}}' auto1)
b1=$(gb inspect -f '{{json .Ghostbox.UidMap}}' auto1 | sed -n 's/.*"HostID":\([0-9]*\).*/\1/p')
check_eq "host sees an auto container's root as the base of its own range" "$b1" "$(ps -o uid= -p "$p1" | tr -d ' ')"
check_match "... which lies in the ghostbox-auto pool" '^[12][0-9]{6}$' "$b1"
for i in $(seq 1 20); do gb rm -f auto$i >/dev/null; done
check_eq "rm releases auto ranges" '{"reservations":[]}' "$(tr -d ' \n' <"$T/data/userns-auto.json")"

# --- exec ----------------------------------------------------------------
gb run -d --name ex "${R[@]}" sleep 300 >/dev/null
check_eq "exec runs as the container's root" "uid=0(root) gid=0(root)" "$(gb exec ex id)"
check_eq "exec -u -w -e" "33 /tmp bar" "$(gb exec -u www-data -w /tmp -e FOO=bar ex sh -c 'echo $(id -u) $(pwd) $FOO')"
gb exec ex sh -c 'exit 3'
check_eq "exec returns the process's exit code" 3 $?
check_eq "exec -i passes stdin" "piped" "$(echo piped | gb exec -i ex cat)"
gb exec ex /nope 2>/dev/null
check_eq "exec of a missing command: 127" 127 $?
check_match "exec -t gives a pty" '^/dev/pts/[0-9]+' "$(on_tty "$TTY_TIMEOUT ${G[*]} exec -t ex tty")"
xpid=$(gb inspect -f '{{.State.Pid}}' ex)
check_eq "exec'd process joins the container's PID namespace" \
        "$(readlink /proc/$xpid/ns/pid)" "$(gb exec ex readlink /proc/self/ns/pid)"
check_eq "... and its user namespace" "$(readlink /proc/$xpid/ns/user)" "$(gb exec ex readlink /proc/self/ns/user)"
gb stop -t 0 ex >/dev/null
check_fails "exec into a stopped container fails" gb exec ex true
gb rm ex >/dev/null

# --- CVE-2019-5736: the monitor of an unremapped container is sealed ------
gb run -d --userns=host --name hostc "${R[@]}" sleep 300 >/dev/null
mp=$(gb inspect -f '{{.Ghostbox.MonitorPid}}' hostc)
check_match "--userns=host: the monitor runs from a sealed memfd, not the host binary" 'memfd:' \
        "$(readlink /proc/$mp/exe)"
check_eq "... and is still seen as alive" "" "$(gb inspect -f '{{.State.Error}}' hostc)"
gb rm -f hostc >/dev/null
gb run -d --name remc "${R[@]}" sleep 300 >/dev/null
mp=$(gb inspect -f '{{.Ghostbox.MonitorPid}}' remc)
check_match "remapped: the monitor binary is not writable by the container's root, no copy needed" \
        'ghostbox-monitor$' "$(readlink /proc/$mp/exe)"
gb rm -f remc >/dev/null

# --- monitor killed with SIGKILL -------------------------------------------
gb run -d --name orphan "${R[@]}" sleep 300 >/dev/null
mon=$(gb inspect -f '{{.Ghostbox.MonitorPid}}' orphan)
init=$(gb inspect -f '{{.State.Pid}}' orphan)
kill -9 "$mon"
sleep 0.2
check_match "monitor SIGKILLed, container alive: ps still says Up" 'Up' "$(gb ps -a)"
check_match "inspect reports the lost monitor" 'monitor process died' "$(gb inspect -f '{{.State.Error}}' orphan)"
kill -9 "$init"
wait_until sh -c "! kill -0 $init"
check_match "then the container dies: ps says Exited" 'Exited \(137\)' "$(gb ps -a)"
check "rm cleans up after a dead monitor" gb rm orphan
check_eq "no mounts left" 0 "$(grep -c " $T/" /proc/self/mountinfo)"
check_eq "no state left" "" "$(ls "$T/run/containers" 2>/dev/null)"

# --- logs ------------------------------------------------------------------
gb run --name talker "${R[@]}" sh -c 'for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2' >/dev/null 2>&1
check_eq "logs after exit" "$(printf 'line1\nline2\nline3\nline4\nline5')" "$(gb logs talker 2>/dev/null)"
check_eq "logs --tail 2" "$(printf 'line5')" "$(gb logs --tail 2 talker 2>/dev/null)"
check_eq "logs keeps stderr apart" "oops" "$(gb logs talker 2>&1 >/dev/null)"
check_match "logs -t adds timestamps" '^20[0-9-]+T[0-9:.]+Z line1$' "$(gb logs -t talker 2>/dev/null | head -1)"
check_match "json-file format on disk" '^\{"log":"line1\\n","stream":"stdout","time":"' \
        "$(head -1 "$(gb inspect -f '{{.LogPath}}' talker)")"
gb rm talker >/dev/null

done_testing
