#!/usr/bin/env bash
# ghostboxd: the Engine API over its unix socket, driven with curl and with
# the stock docker CLI (never dockerd). Every container is remapped.
. "$(dirname "$0")/lib.sh"
require_root
gbd_env

# Not through check: its command substitution would keep GBD_PID in a subshell.
if start_gbd; then ok "ghostboxd starts and answers /_ping"; else not_ok "ghostboxd starts and answers /_ping"; fi
check_eq "socket mode 0660 owned by root" "660 0" "$(stat -c '%a %u' "$SOCK")"

# daemon.json's hosts and group; a missing group is an error naming it.
printf '{"hosts": ["unix://%s/cfg.sock"], "group": "daemon"}\n' "$T" >"$T/cfg.json"
"$GBD" --config-file "$T/cfg.json" --data-root "$T/data" --exec-root "$T/run" --userns-remap root 2>>"$T/gbd.log" &
cfg_pid=$!
at_exit "kill $cfg_pid"
for _ in $(seq 100); do [ -S "$T/cfg.sock" ] && break; sleep 0.05; done
check_eq "daemon.json hosts + group: the socket is 0660 root:daemon" "660 root daemon" "$(stat -c '%a %U %G' "$T/cfg.sock")"
kill $cfg_pid
out=$(timeout 10 "$GBD" -H "unix://$T/nogroup.sock" --group no-such-group-x --data-root "$T/data" --exec-root "$T/run" --userns-remap root 2>&1)
check_match "--group naming a missing group: refused, saying how to fix" "group 'no-such-group-x' does not exist.*groupadd" "$out"

# systemd socket activation: the daemon takes the inherited listening fd.
if command -v systemd-socket-activate >/dev/null; then
        systemd-socket-activate -E GHOSTBOX_SUBUID_FILE -E GHOSTBOX_SUBGID_FILE -E GHOSTBOX_CONFIG -l "$T/act.sock" "$GBD" -H fd:// --data-root "$T/data" --exec-root "$T/run" \
                --userns-remap root 2>>"$T/gbd.log" &
        act_pid=$!
        at_exit "kill $act_pid"
        for _ in $(seq 100); do [ -S "$T/act.sock" ] && break; sleep 0.05; done
        check_eq "socket activation (LISTEN_FDS): /_ping over the inherited socket" OK \
                "$(curl -s --max-time 10 --unix-socket "$T/act.sock" http://d/_ping)"
        kill $act_pid
else
        skip "systemd-socket-activate not installed"
fi

# -- curl: the protocol -----------------------------------------------------
hdrs=$(curl -sI --unix-socket "$SOCK" http://d/_ping | tr -d '\r')
check_match "HEAD /_ping advertises Api-Version 1.4x" '^Api-Version: 1\.4[1-9]$' "$hdrs"
check_eq "GET /v1.24/version (the CLI's fallback prefix)" 200 "$(code http://d/v1.24/version)"
check_eq "GET /version without a prefix" 200 "$(code http://d/version)"
check_eq "a version above ours is refused with 400" 400 "$(code http://d/v9.99/version)"
check_match "... naming the supported range" 'supported API version range' "$(cat "$T/body")"
check_match "info: SecurityOptions has name=userns" '"name=userns"' "$(api http://d/v1.41/info)"
check_eq "bad JSON: 400" 400 "$(code -X POST -H 'Content-Type: application/json' -d '{"Image":' http://d/v1.41/containers/create)"
check_match "... with a Docker-style message" '^\{"message":"invalid JSON' "$(cat "$T/body")"
check_eq "a wrongly typed field: 400" 400 "$(code -X POST -H 'Content-Type: application/json' -d '{"Image":"busybox","Tty":"yes"}' http://d/v1.41/containers/create)"
check_match "... naming the field" 'Tty' "$(cat "$T/body")"
check_eq "missing image: 404" 404 "$(code -X POST -H 'Content-Type: application/json' -d '{"Image":"nope:1"}' http://d/v1.41/containers/create)"
check_match "... \"No such image: X\" (the CLI's cue to pull)" '"No such image: nope:1"' "$(cat "$T/body")"
check_eq "pull (images/create): a clear 404" 404 "$(code -X POST 'http://d/v1.41/images/create?fromImage=nope&tag=1')"
check_match "... saying there is no registry access" 'does not pull from registries' "$(cat "$T/body")"
check_eq "unknown container: 404" 404 "$(code http://d/v1.41/containers/nothere/json)"
check_eq "unknown path: 404" 404 "$(code http://d/v1.41/nothing)"
head -c 5000000 /dev/zero | tr '\0' ' ' >"$T/big"
check_eq "a body over the limit: 413" 413 "$(code -X POST -H 'Content-Type: application/json' --data-binary @"$T/big" http://d/v1.41/containers/create)"
raw() { # raw REQUEST: send bytes, print the answer until the daemon closes
        python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode())
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
print(out.decode(errors="replace"), end="")' "$SOCK" "$1"
}
check_match "a malformed request line: 400" '^HTTP/1.1 400' "$(raw $'GARBAGE\r\n\r\n')"
check_match "Content-Length with chunked (smuggling): 400" '^HTTP/1.1 400' \
        "$(raw $'POST /_ping HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')"
check_match "a chunked JSON body is decoded" '"message":"No such image: nope:2"' \
        "$(raw $'POST /v1.41/containers/create HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n10\r\n{"Image":"nope:2\r\n2\r\n"}\r\n0\r\n\r\n')"

# A client that sends nothing holds one handler, not the daemon.
python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.send(b"GET /_pi"); time.sleep(20)' "$SOCK" &
slow=$!
at_exit "kill $slow"
sleep 0.2
for i in $(seq 50); do api -o /dev/null -w '%{http_code}\n' http://d/v1.41/_ping & done >"$T/conc"
wait_n=0
while [ "$(grep -c 200 "$T/conc")" -lt 50 ] && [ $wait_n -lt 100 ]; do sleep 0.1; wait_n=$((wait_n + 1)); done
check_eq "50 concurrent clients, while one stalls mid-request" 50 "$(grep -c 200 "$T/conc")"
kill $slow 2>/dev/null

# create/start/wait/logs over curl; the CLI sees it.
id=$(api -X POST -H 'Content-Type: application/json' \
        -d '{"Image":"busybox","Cmd":["sh","-c","echo out; echo err >&2; exit 7"],"HostConfig":{"Binds":["'"$T"':/host:ro"]}}' \
        'http://d/v1.41/containers/create?name=apic' | jq -r .Id)
check_match "create over curl gives an ID" '^[0-9a-f]{64}$' "$id"
check_match "ghostbox ps -a sees the API's container" 'apic' "$(gb ps -a)"
check_eq "start: 204" 204 "$(code -X POST http://d/v1.41/containers/apic/start)"
check_eq "wait: StatusCode 7" 7 "$(api -X POST http://d/v1.41/containers/apic/wait | jq .StatusCode)"
api 'http://d/v1.41/containers/apic/logs?stdout=1&stderr=1' >"$T/logs"
check_eq "logs: stdcopy frames, stdout (1) and stderr (2)" "0100000000000004 6f75740a 0200000000000004 6572720a" \
        "$(od -An -tx1 -v "$T/logs" | tr -d ' \n' | sed 's/^\(.\{16\}\)\(.\{8\}\)\(.\{16\}\)\(.\{8\}\)$/\1 \2 \3 \4/')"
check_eq "Binds: the host directory, read-only" /host "$(api http://d/v1.41/containers/apic/json | jq -r '.Mounts[0].Destination')"
id2=$(api -X POST -H 'Content-Type: application/json' -d '{"Image":"busybox","Cmd":["sleep","300"]}' 'http://d/v1.41/containers/create?name=apic2' | jq -r .Id)
code -X POST http://d/v1.41/containers/apic2/start >/dev/null
check_eq "a name in use: 409" 409 "$(code -X POST -H 'Content-Type: application/json' -d '{"Image":"busybox"}' 'http://d/v1.41/containers/create?name=apic2')"
check_match "... Docker's message" 'is already in use by container' "$(cat "$T/body")"
check_eq "removing a running container without force: 409" 409 "$(code -X DELETE http://d/v1.41/containers/apic2)"
check_eq "kill with an unknown signal: 400" 400 "$(code -X POST 'http://d/v1.41/containers/apic2/kill?signal=NOPE')"
check_match "... naming it" 'Invalid signal: NOPE' "$(cat "$T/body")"
check_eq "... with force=1: 204" 204 "$(code -X DELETE 'http://d/v1.41/containers/apic2?force=1')"
check_eq "delete: 204" 204 "$(code -X DELETE http://d/v1.41/containers/apic)"
check_fails "... and it is gone for the CLI too" gb inspect apic

if [ -z "$DOCKER" ]; then
        skip "no docker CLI (scripts/deps.sh test installs docker.io)"
        done_testing
        exit 0
fi

# -- the stock docker CLI ---------------------------------------------------
check_match "docker version: the server answers" 'ghostbox' "$(d version 2>&1)"
check_match "docker info: userns among the security options" '^ +userns$' "$(d info 2>&1)"
check_match "docker run --rm: the remapped uid_map" '^ +0 +400000 +65536$' "$(d run --rm busybox cat /proc/self/uid_map)"
d run --rm busybox sh -c 'exit 3'
check_eq "docker run --rm: the exit code" 3 "$?"
check_eq "docker run: stdout and stderr kept apart" "out" "$(d run --rm busybox sh -c 'echo out; echo err >&2' 2>/dev/null)"
check_eq "docker run -i: stdin reaches the container" "HELLO" "$(echo hello | d run --rm -i busybox tr a-z A-Z)"
# After stdin's EOF the client's socket stays readable (at EOF): the monitor
# must stop reading it, not spin on it for the rest of the container's life.
(echo hi | d run --rm -i --name spin busybox sh -c 'cat; sleep 3' >/dev/null) &
spin_pid=$!
sleep 2
mon=$(pgrep -f "ghostbox-monitor.*$T.*" | head -1)
ticks=$(awk '{print $14 + $15}' "/proc/$mon/stat" 2>/dev/null)
check_match "a half-closed attach: the monitor idles (CPU ticks in 2 s: ${ticks:-none}, a spin is ~200)" '^[0-9]$|^[1-4][0-9]$' "${ticks:-none}"
wait $spin_pid
out=$(on_tty "$TTY_TIMEOUT $DOCKER run --rm -it busybox sh -c 'tty; exit 0'")
check_match "docker run -it: a tty inside" '/dev/pts/[0-9]' "$out"
[[ $out == */dev/pts/* ]] || dump_state
out=$(on_tty_typed $'hello\n' "$TTY_TIMEOUT $DOCKER run --rm -it busybox sh -c 'read x; echo got:\$x'")
check_match "docker run -it, typing on an open terminal: the line reaches the shell" 'got:hello' "$out"
[[ $out == *got:hello* ]] || dump_state
check_eq "docker run --rm leaves no container" "" "$(gb ps -aq)"

# An AutoRemove that fails (here: an immutable directory in the upper layer)
# must not leave `wait?condition=removed` waiting forever: Docker answers
# with the error, and the record says why the container is still there.
rid=$(d run -d --rm busybox sh -c 'mkdir /pin; touch /pin/x; sleep 1')
upper=
for _ in $(seq 50); do
        upper=$(find "$T/data" -path "*/containers/$rid/upper/pin" -type d 2>/dev/null | head -1)
        [ -n "$upper" ] && break
        sleep 0.05
done
if [ -n "$upper" ] && chattr +i "$upper" 2>/dev/null; then
        wout=$(curl -s --max-time 30 --unix-socket "$SOCK" -X POST "http://d/containers/$rid/wait?condition=removed")
        check_match "AutoRemove failing: wait?condition=removed answers with the error" \
                '"StatusCode":0.*"Message":"autoremove failed: .*upper' "$wout"
        check_match "... and inspect shows it in State.Error" 'autoremove failed' \
                "$(d inspect --format '{{.State.Error}}' "$rid")"
        chattr -i "$upper"
        check_eq "... a later rm -f removes it" "" "$(d rm -f "$rid" >/dev/null; gb ps -aq)"
else
        skip "chattr +i not supported on $T (the autoremove failure path is not exercised)"
        d rm -f "$rid" >/dev/null 2>&1
fi

id=$(d run -d --name web busybox sh -c 'echo started; exec sleep 300')
check_match "docker run -d prints the ID" '^[0-9a-f]{64}$' "$id"
check_match "docker ps -q lists it" "^${id:0:12}\$" "$(d ps -q)"
pid=$(d inspect --format '{{.State.Pid}}' web)
check_match "docker inspect --format {{.State.Pid}}" '^[1-9][0-9]*$' "$pid"
check_eq "... the same pid as ghostbox inspect" "$pid" "$(gb inspect -f '{{.State.Pid}}' web)"
check_eq "... which runs as host uid 400000 (remapped root)" 400000 "$(stat -c %u "/proc/$pid")"
wait_until sh -c "[ \"\$(timeout -k 5 30 $DOCKER logs web 2>/dev/null)\" = started ]"
check_eq "docker logs" started "$(d logs web)"
check_match "docker top: the container's process, with its host (remapped) uid" "^400000 +$pid " "$(d top web)"
check_match "docker events --since replays from the records" '^start web$' \
        "$(d events --since 10m --until 0s --filter event=start --format '{{.Action}} {{.Actor.Attributes.name}}')"
check_eq "docker exec: output and exit code" "out 4" "$(d exec web sh -c 'echo out; echo err >&2; exit 4' 2>/dev/null | tr -d '\n'; echo " ${PIPESTATUS[0]}")"
check_eq "docker exec -i: stdin" "HI" "$(echo hi | d exec -i web tr a-z A-Z)"
check_eq "docker exec -u 33" "uid=33(www-data) gid=33(www-data)" "$(d exec -u 33 web id)"
out=$(on_tty "$TTY_TIMEOUT $DOCKER exec -it web tty")
check_match "docker exec -it: a tty" '/dev/pts/[0-9]' "$out"
[[ $out == */dev/pts/* ]] || dump_state
d exec web nope 2>/dev/null
check_eq "docker exec of a missing command: 127" 127 "$?"
d run -d --name labelled -l app=web busybox sleep 300 >/dev/null
check_eq "docker ps --filter label=app=web: labels reach the record" labelled "$(d ps --filter label=app=web --format '{{.Names}}')"
check_eq "docker ps --filter name=" labelled "$(d ps --filter name=abell --format '{{.Names}}')"
check_match "an unsupported filter: 400 naming it" "invalid filter 'bogus'" "$(d ps --filter bogus=1 2>&1)"
d run --name ex3 busybox sh -c 'exit 3' >/dev/null 2>&1
d run -d --name withvol -v vf:/data busybox sleep 300 >/dev/null
names() { d ps "$@" --format '{{.Names}}' | sort | paste -sd' '; }
check_eq "docker ps --filter ancestor=busybox" "labelled web withvol" "$(names --filter ancestor=busybox)"
check_eq "... ancestor=busybox:latest and by image ID" "labelled web withvol labelled web withvol" \
        "$(names --filter ancestor=busybox:latest) $(names --filter ancestor="$(d inspect -f '{{.Id}}' busybox | cut -c8-19)")"
check_eq "... exited=3 (no -a needed)" "ex3" "$(names --filter exited=3)"
check_eq "... volume=vf" "withvol" "$(names --filter volume=vf)"
check_eq "... since=labelled -a" "ex3 withvol" "$(names -a --filter since=labelled)"
check_eq "... before=ex3 -a" "labelled web" "$(names -a --filter before=ex3)"
check_match "... before= a missing container: 404" "No such container: nope" "$(d ps --filter before=nope 2>&1)"
d rm -f labelled ex3 withvol >/dev/null
d volume rm vf >/dev/null
gb run -d --name fromcli "${R[@]}" sleep 300 >/dev/null
check_match "docker ps sees a container the CLI made" 'fromcli' "$(d ps)"
check_match "ghostbox ps sees the one docker made" 'web' "$(gb ps)"

stop_gbd
check_fails "ghostboxd is down" curl -sf --max-time 5 --unix-socket "$SOCK" http://d/_ping
check_eq "containers keep running while ghostboxd is down" 0 "$(kill -0 "$pid" && echo 0)"
start_gbd
check_eq "... and after its restart, docker sees the same process" "true $pid" "$(d inspect --format '{{.State.Running}} {{.State.Pid}}' web)"

check_eq "docker stop" web "$(d stop -t 1 web)"
check_match "... exited" '^exited' "$(d inspect --format '{{.State.Status}}' web)"
check_eq "docker rm -f" "web fromcli" "$(d rm -f web fromcli | tr '\n' ' ' | sed 's/ $//')"
check_eq "... gone for the CLI" "" "$(gb ps -aq)"

timeout -k 5 20 "$DOCKER" events --filter type=container --format '{{.Action}} {{.Actor.Attributes.name}}' >"$T/events" 2>&1 &
ev_pid=$!
at_exit "kill $ev_pid"
sleep 0.3
gb run -d --name evt "${R[@]}" sleep 1 >/dev/null
for _ in $(seq 100); do grep -q '^die evt' "$T/events" && break; sleep 0.05; done
gb rm evt >/dev/null
for _ in $(seq 100); do grep -q '^destroy evt' "$T/events" && break; sleep 0.05; done
kill $ev_pid 2>/dev/null
check_eq "docker events: create, start, die, destroy (of a container the CLI ran)" \
        "create evt,start evt,die evt,destroy evt" "$(grep ' evt$' "$T/events" | paste -sd,)"

check_eq "docker volume create" vol1 "$(d volume create vol1)"
check_match "docker volume ls" 'vol1' "$(d volume ls)"
check_eq "a volume written by one container, read by the next" hi "$(d run --rm -v vol1:/data busybox sh -c 'echo hi > /data/f; cat /data/f')"
check_eq "docker volume rm" vol1 "$(d volume rm vol1)"

gb save -o "$T/saved.tar" busybox
check_match "docker load" 'Loaded image: busybox' "$(d load -i "$T/saved.tar")"
d tag busybox mybox:1
check_match "docker tag + images" 'mybox +1' "$(d images)"
check_match "docker rmi" 'Untagged: mybox:1' "$(d rmi mybox:1)"
check_match "docker run of a missing image: the daemon's message" 'does not pull from registries' "$(d run --rm nope:1 true 2>&1)"

# A second docker CLI (Debian's 20.10 at /usr/bin and a current one at
# /usr/local/bin, or GB_DOCKER2): the core flow with it too.
for d2 in ${GB_DOCKER2:-} /usr/bin/docker /usr/local/bin/docker; do
        [ -x "$d2" ] && [ "$(readlink -f "$d2")" != "$(readlink -f "$DOCKER")" ] || continue
        v=$(timeout -k 5 30 "$d2" version --format '{{.Client.Version}}' 2>/dev/null)
        check_match "docker $v: run --rm, remapped" '^ +0 +400000 +65536$' "$(timeout -k 5 60 "$d2" run --rm busybox cat /proc/self/uid_map)"
        timeout -k 5 60 "$d2" run --rm busybox sh -c 'exit 4'
        check_eq "docker $v: the exit code" 4 "$?"
        break
done

# A Docker SDK: Debian's python3-docker (docker-py), version negotiated.
if /usr/bin/python3 -c 'import docker' 2>/dev/null; then
        out=$(timeout -k 5 60 /usr/bin/python3 - "$SOCK" <<'PY' 2>&1
import sys, docker
c = docker.DockerClient(base_url="unix://" + sys.argv[1], version="auto", timeout=30)
print(c.containers.run("busybox", ["cat", "/proc/self/uid_map"], remove=True).decode().split())
ct = c.containers.run("busybox", ["sh", "-c", "echo sdk; exit 3"], detach=True, name="sdk")
print(ct.wait()["StatusCode"], ct.logs().decode().strip(), c.containers.get("sdk").attrs["State"]["Status"])
ct.remove()
print(sorted(t for i in c.images.list() for t in i.tags))
PY
)
        check_match "docker-py: containers.run is remapped" "^\['0', '400000', '65536'\]$" "$out"
        check_match "docker-py: detach, wait, logs, inspect" '^3 sdk exited$' "$out"
        check_match "docker-py: images.list" "'busybox:latest'" "$out"
else
        not_ok "python3-docker is not installed (scripts/deps.sh test installs it)"
fi

check_match "ghostboxd logged no crash" '^$' "$(grep -i 'segfault\|abort' "$T/gbd.log")"
done_testing
