#!/usr/bin/env bash
# Published ports (-p, -P, --expose): the monitor's userspace proxy relays
# host connections to a server in the container, on the private (loopback)
# network and on a bridge network (a server bound to eth0's address only);
# random host ports are resolved into the record; a taken port fails the
# start with Docker's message and leaves nothing behind; the listener goes
# with the container and comes back with it; half-close and a 50 MiB
# transfer each way arrive intact; then the same through ghostboxd with the
# stock docker CLI and docker-compose v1. Own roots; host ports are free
# ones the kernel hands out, never fixed numbers.
. "$(dirname "$0")/lib.sh"
require_root
gbd_env
at_exit 'for n in $("${G[@]}" network ls -q 2>/dev/null); do "${G[@]}" network rm "$n"; done'

# A port nobody listens on right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# How many sockets listen on host TCP port $1 (the host's namespace).
listeners() { awk -v p=":$(printf '%04X' "$1")\$" '$2 ~ p && $4 == "0A"' /proc/net/tcp | wc -l; }
# How many UDP sockets are bound to host port $1.
udp_bound() { awk -v p=":$(printf '%04X' "$1")\$" '$2 ~ p' /proc/net/udp | wc -l; }
# Send datagrams "$2-0".."$2-2" to port $1 from one socket, print the replies.
udp_ask() {
        python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for i in range(3):
    s.sendto(("%s-%d" % (sys.argv[2], i)).encode(), ("127.0.0.1", int(sys.argv[1])))
    print(s.recvfrom(65536)[0].decode())
PY
}
fetch() { curl -sf --max-time 5 "http://127.0.0.1:$1/$2"; }
# Send a request, shut our write side, print the whole reply.
halfclose() {
        python3 - "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"request-body-12345\n")
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
sys.stdout.write(out.decode())
PY
}
# Send file $2 to port $1, shut write, wait for the server's close.
send_file() {
        python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
with open(sys.argv[2], "rb") as f:
    while True:
        b = f.read(1 << 20)
        if not b:
            break
        s.sendall(b)
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
PY
}
# httpd serving /srv/NAME (every container here shares one --rootfs).
HTTPD='mkdir -p "/srv/$0" && echo "$0" >"/srv/$0/i" && exec httpd -f -p 8080 -h "/srv/$0"'

# -- private network (loopback only in the container) ------------------------
P1=$(free_port)
check_fails "before -p: nothing answers on 127.0.0.1:$P1" fetch "$P1" i
gb run -d --name web -p "127.0.0.1:$P1:8080" "${R[@]}" sh -c "$HTTPD" hello-private >/dev/null
check "curl 127.0.0.1:$P1 reaches httpd in the container" wait_until fetch "$P1" i
check_eq "... and gets its page" hello-private "$(fetch "$P1" i)"
check_eq "ghostbox port web" "8080/tcp -> 127.0.0.1:$P1" "$(gb port web)"
check_eq "ghostbox port web 8080/tcp" "127.0.0.1:$P1" "$(gb port web 8080/tcp)"
check_fails "ghostbox port web 9999: not published" gb port web 9999
check_match "ghostbox ps PORTS" "127\.0\.0\.1:$P1->8080/tcp +web" "$(gb ps)"
check_eq "inspect: NetworkSettings.Ports" "{\"8080/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"$P1\"}]}" \
        "$(gb inspect -f '{{json .NetworkSettings.Ports}}' web)"
check_eq "inspect: HostConfig.PortBindings (Docker's shape)" \
        "{\"8080/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"$P1\"}]}" \
        "$(gb inspect -f '{{json .HostConfig.PortBindings}}' web)"
check_eq "inspect: Config.ExposedPorts" '{"8080/tcp":{}}' "$(gb inspect -f '{{json .Config.ExposedPorts}}' web)"
check_eq "one listener on $P1, in the host's namespace" 1 "$(listeners "$P1")"
MON=$(gb inspect -f '{{.Ghostbox.MonitorPid}}' web)
check_eq "the listener belongs to the container's monitor" "$MON" \
        "$(ss -Htlnp "sport = :$P1" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)"

# a second container on the same host port: Docker's message, nothing left
out=$(gb run -d --name clash -p "127.0.0.1:$P1:8080" "${R[@]}" sleep 100 2>&1)
check_match "a second -p on the same host port fails with Docker's message" \
        "Bind for 127\.0\.0\.1:$P1 failed: port is already allocated" "$out"
check_eq "... the clash container is left created, not running (as Docker)" created \
        "$(gb inspect -f '{{.State.Status}}' clash)"
check_eq "... with no process" 0 "$(gb inspect -f '{{.State.Pid}}' clash)"
check_eq "... and no bound port on record" '{"8080/tcp":null}' "$(gb inspect -f '{{json .NetworkSettings.Ports}}' clash)"
check_fails "... and no monitor left for it" pgrep -f "ghostbox-monitor.*$(gb inspect -f '{{.Id}}' clash)"
gb rm -f clash >/dev/null
check_fails "run --rm on a taken port fails" gb run --rm --name clash2 -p "$P1:8080" "${R[@]}" true
check_fails "... and leaves no record" gb inspect clash2
check_eq "... still exactly one listener on $P1" 1 "$(listeners "$P1")"
check_eq "... and web still answers" hello-private "$(fetch "$P1" i)"

# stop / start
gb stop -t 1 web >/dev/null
check_eq "after stop: nothing listens on $P1" 0 "$(listeners "$P1")"
check_fails "... curl fails" fetch "$P1" i
check_eq "... NetworkSettings.Ports cleared (null)" '{"8080/tcp":null}' "$(gb inspect -f '{{json .NetworkSettings.Ports}}' web)"
check_eq "... ghostbox port prints nothing" "" "$(gb port web)"
gb start web >/dev/null
check "after start: the port is bound again and answers" wait_until fetch "$P1" i
check_eq "... one listener" 1 "$(listeners "$P1")"

# half-close and bulk transfers
P2=$(free_port)
gb run -d --name hc -p "$P2:9000" "${R[@]}" sh -c 'while :; do nc -l -p 9000 -e sh -c "wc -c; echo reply-after-eof"; done' >/dev/null
wait_until sh -c "[ \$(listeners $P2) -eq 1 ]"
check_eq "half-close: the server reads to EOF, then replies in full" "19 reply-after-eof" \
        "$(wait_until halfclose "$P2"; halfclose "$P2" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')"
head -c $((50 << 20)) /dev/urandom >"$T/big"
SUM=$(sha256sum <"$T/big" | cut -d' ' -f1)
P3=$(free_port)
gb run -d --name sink -p "$P3:9001" "${R[@]}" sh -c 'nc -l -p 9001 >/big.in' >/dev/null
sleep 0.3
check "50 MiB host -> container through the proxy" wait_until send_file "$P3" "$T/big"
check_eq "... arrives intact (sha256)" "$SUM" "$(sha256sum <"$T/rootfs/big.in" | cut -d' ' -f1)"
cp "$T/big" "$T/rootfs/srv/hello-private/big"
check_eq "50 MiB container -> host (httpd, curl) arrives intact" "$SUM" \
        "$(curl -s --max-time 30 "http://127.0.0.1:$P1/big" | sha256sum | cut -d' ' -f1)"

# -P with --expose (random host ports, resolved in the record)
gb run -d --name all -P --expose 8080 --expose 7000-7001 "${R[@]}" sh -c "$HTTPD" hello-random >/dev/null
RP=$(gb port all 8080 | cut -d: -f2)
check_match "-P: 8080 got a random host port" '^[0-9]+$' "$RP"
check_eq "... the same one in inspect" "$RP" "$(gb inspect all | jq -r '.[0].NetworkSettings.Ports["8080/tcp"][0].HostPort')"
check_eq "... it reaches the container" hello-random "$(wait_until fetch "$RP" i; fetch "$RP" i)"
check_eq "... every exposed port is published" 3 "$(gb port all | grep -c ' -> 0\.0\.0\.0:')"
check_eq "... each with a listener of its own" 1 "$(listeners "$(gb port all 7001 | cut -d: -f2)")"

# UDP: a flow per client address (busybox has no UDP server: a static echo
# helper from the build runs in the container)
cp "$GB_BUILD/tests/helpers/gb-udp-echo" "$T/rootfs/udp-echo"
PU=$(free_port)
check_fails "before -p .../udp: no answer on udp $PU" udp_ask "$PU" early
gb run -d --name uecho -p "$PU:5353/udp" -p "$PU:5353" "${R[@]}" /udp-echo 5353 >/dev/null
check_eq "udp: datagrams reach the container's echo server and come back" "echo:a-0 echo:a-1 echo:a-2" \
        "$(wait_until udp_ask "$PU" warm; udp_ask "$PU" a | paste -sd' ')"
check_eq "... a second client gets its own replies" "echo:b-0 echo:b-1 echo:b-2" "$(udp_ask "$PU" b | paste -sd' ')"
check_eq "ghostbox port: udp and tcp on the same host port" "5353/tcp -> 0.0.0.0:$PU,5353/udp -> 0.0.0.0:$PU" \
        "$(gb port uecho | sort | paste -sd,)"
check_match "ghostbox ps: the udp port" "0\.0\.0\.0:$PU->5353/udp" "$(gb ps)"
check_match "a second container on the same udp port fails with Docker's message" \
        "Bind for 0\.0\.0\.0:$PU failed: port is already allocated" \
        "$(gb run -d --name udup -p "$PU:5353/udp" "${R[@]}" /udp-echo 5353 2>&1; gb rm -f udup >/dev/null 2>&1)"
check_eq "... the first still answers" "echo:d-0 echo:d-1 echo:d-2" "$(udp_ask "$PU" d | paste -sd' ')"
gb stop -t 1 uecho >/dev/null
check_eq "after stop: the udp socket is closed" 0 "$(udp_bound "$PU")"
check_fails "... no answer" udp_ask "$PU" late
gb rm -f uecho >/dev/null

# bridge network: the proxy connects to eth0's address
gb network create pnet >/dev/null
P4=$(free_port)
gb run -d --name brweb --network pnet -p "$P4:8080" "${R[@]}" sh -c \
        'IP=$(ip -o -4 addr show eth0 | awk "{print \$4}" | cut -d/ -f1); mkdir -p /srv/br && echo "bridge-$IP" >/srv/br/i && exec httpd -f -p "$IP:8080" -h /srv/br' >/dev/null
BIP=$(gb inspect -f '{{.NetworkSettings.Networks.pnet.IPAddress}}' brweb)
check "bridge network: curl reaches a server bound to eth0's address only" wait_until fetch "$P4" i
check_eq "... the page names that address" "bridge-$BIP" "$(fetch "$P4" i)"
PU2=$(free_port)
gb run -d --name ubr --network pnet -p "$PU2:5353/udp" "${R[@]}" /udp-echo 5353 >/dev/null
check_eq "bridge network: udp too" "echo:c-0 echo:c-1 echo:c-2" "$(wait_until udp_ask "$PU2" warm; udp_ask "$PU2" c | paste -sd' ')"
gb rm -f ubr >/dev/null
check_fails "... (the server does not listen on the container's loopback)" gb exec brweb wget -qO- http://127.0.0.1:8080/i

# flag combinations and parse errors
check_match "-p with --network none: refused as Docker does" 'conflicting options: port publishing and the container type network mode' \
        "$(gb run --rm --network none -p 8080:80 "${R[@]}" true 2>&1)"
check_match "-p with --network host: discarded with Docker's warning" 'WARNING: Published ports are discarded when using host network mode' \
        "$(gb run --rm --userns host --network host -p "$(free_port):80" "${R[@]}" true 2>&1)"
check_eq "-p '80:abc': the error names the flag, the value and the form" \
        "ghostbox: Failed to parse -p '80:abc': container port 'abc' is not a number (expected [IP:][HOSTPORT[-END]:]PORT[-END][/tcp|/udp])" \
        "$(gb run --rm -p 80:abc "${R[@]}" true 2>&1)"
check_match "-p 53:53/sctp: refused, tcp and udp only" "Failed to parse -p '53:53/sctp': sctp cannot be published" "$(gb create -p 53:53/sctp "${R[@]}" true 2>&1)"
check_match "-p [::1]:80:80: IPv6 refused with a clear error" "IPv6 host addresses are not supported" "$(gb create -p '[::1]:80:80' "${R[@]}" true 2>&1)"
check_match "--expose x: names the flag" "Failed to parse --expose 'x'" "$(gb create --expose x "${R[@]}" true 2>&1)"

# a SIGKILLed monitor takes its listeners along; the record says so
P7=$(free_port)
gb run -d --name orphan -p "$P7:8080" "${R[@]}" sleep 300 >/dev/null
check_eq "orphan: its port is bound" 1 "$(listeners "$P7")"
kill -9 "$(gb inspect -f '{{.Ghostbox.MonitorPid}}' orphan)"
check "... SIGKILL its monitor: the listener is gone" wait_until sh -c "[ \$(awk -v p=':$(printf '%04X' "$P7")\$' '\$2 ~ p && \$4 == \"0A\"' /proc/net/tcp | wc -l) -eq 0 ]"
check_eq "... and inspect shows the port unbound (null)" '{"8080/tcp":null}' "$(gb inspect -f '{{json .NetworkSettings.Ports}}' orphan)"
gb rm -f orphan >/dev/null

# the listener dies with the container: rm -f frees the port at once
gb rm -f web all hc sink brweb >/dev/null
check_eq "after rm -f: no listener left on any published port" 0 \
        "$(( $(listeners "$P1") + $(listeners "$P2") + $(listeners "$P3") + $(listeners "$P4") + $(listeners "$RP") ))"

# -- ghostboxd, docker CLI, docker-compose ------------------------------------------
if start_gbd; then ok "ghostboxd starts"; else not_ok "ghostboxd starts"; fi
if [ -z "$DOCKER" ]; then
        skip "docker CLI missing (scripts/deps.sh test installs docker.io)"
else
        P5=$(free_port)
        d run -d --name dweb -p "$P5:8080" busybox sh -c "$HTTPD" hello-docker >/dev/null
        check "docker run -d -p: curl reaches the container" wait_until fetch "$P5" i
        check_eq "... its page" hello-docker "$(fetch "$P5" i)"
        check_eq "docker port" "8080/tcp -> 0.0.0.0:$P5" "$(d port dweb)"
        check_match "docker ps: Ports" "0\.0\.0\.0:$P5->8080/tcp" "$(d ps --format '{{.Ports}}' -f name=dweb)"
        check_eq "containers/json: Docker's Ports array" "[{\"IP\":\"0.0.0.0\",\"PrivatePort\":8080,\"PublicPort\":$P5,\"Type\":\"tcp\"}]" \
                "$(api http://d/v1.43/containers/json | jq -c '.[] | select(.Names[0] == "/dweb") | .Ports')"
        check_match "docker run on the same port: the daemon's error" "port is already allocated" \
                "$(d run -d -p "$P5:80" busybox true 2>&1)"
        check_eq "docker run -P --expose: random port in docker port" 1 \
                "$(d run -d --name dall -P --expose 8080 busybox sh -c "$HTTPD" x >/dev/null; d port dall | grep -c '^8080/tcp -> 0\.0\.0\.0:[0-9]')"
        check_eq "POST create with a bad HostPort: 400" 400 \
                "$(code -X POST -H 'Content-Type: application/json' -d '{"Image":"busybox","HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":"abc"}]}}}' http://d/v1.43/containers/create)"
        check_match "... naming the field" 'HostConfig.PortBindings\[\\"80/tcp\\"\]\[0\].HostPort' "$(cat "$T/body")"
        check_eq "POST create with PortBindings not an object: 400" 400 \
                "$(code -X POST -H 'Content-Type: application/json' -d '{"Image":"busybox","HostConfig":{"PortBindings":[1]}}' http://d/v1.43/containers/create)"
        check_eq "POST create with a bad ExposedPorts key: 400" 400 \
                "$(code -X POST -H 'Content-Type: application/json' -d '{"Image":"busybox","ExposedPorts":{"x/tcp":{}}}' http://d/v1.43/containers/create)"
        PU3=$(free_port)
        d run -d --name dudp -p "$PU3:5353/udp" busybox sleep 300 >/dev/null
        check_eq "docker run -p .../udp: docker port" "5353/udp -> 0.0.0.0:$PU3" "$(d port dudp)"
        check_match "... docker ps Ports" "0\.0\.0\.0:$PU3->5353/udp" "$(d ps --format '{{.Ports}}' -f name=dudp)"
        d rm -f dweb dall dudp >/dev/null
        check_eq "after docker rm -f: the port is free" 0 "$(listeners "$P5")"
fi
if ! command -v docker-compose >/dev/null; then
        skip "docker-compose missing (scripts/deps.sh test installs it)"
else
        P6=$(free_port)
        mkdir -p "$T/proj"
        cat >"$T/proj/docker-compose.yml" <<YML
version: "3"
services:
  web:
    image: busybox
    command: sh -c 'mkdir -p /srv/c && echo hello-compose >/srv/c/i && httpd -f -p 8080 -h /srv/c'
    ports:
      - "127.0.0.1:$P6:8080"
YML
        check "docker-compose up -d with ports:" sh -c "cd '$T/proj' && timeout -k 5 120 docker-compose -p gbp up -d"
        check_eq "... the service answers on the published port" hello-compose "$(wait_until fetch "$P6" i; fetch "$P6" i)"
        check_match "... docker-compose ps shows it" "127\.0\.0\.1:$P6->8080/tcp" "$(cd "$T/proj" && timeout -k 5 60 docker-compose -p gbp ps 2>&1)"
        check "docker-compose down" sh -c "cd '$T/proj' && timeout -k 5 120 docker-compose -p gbp down"
        check_eq "... the port is free again" 0 "$(listeners "$P6")"
fi
stop_gbd
done_testing
