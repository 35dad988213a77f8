#!/usr/bin/env bash
# Bridge networks: two remapped containers on one user-defined network reach
# each other by name and alias, a container on another network cannot reach
# them, addresses come from the subnet, nothing leaks (host links, network
# namespace mounts), and the same through ghostboxd with the docker CLI and
# docker-compose v1. Own data and exec roots; never dockerd.
. "$(dirname "$0")/lib.sh"
require_root
gbd_env
links() { ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | paste -sd' '; }
# mounts of network namespaces other than the default bridge network's
netns_other() { grep " $T/run/networks/" /proc/self/mountinfo | grep -vc "${BR_ID:-none}"; }
LINKS_BEFORE=$(links)
# Whatever happens: containers first (a network in use cannot go), then
# our networks (at_exit runs the last registered first).
at_exit 'for c in $("${G[@]}" ps -aq --no-trunc 2>/dev/null); do "${G[@]}" rm -f "$c"; done
        for n in $("${G[@]}" network ls -q 2>/dev/null); do "${G[@]}" network rm "$n"; done'

# -- ghostbox CLI --------------------------------------------------------------
check "network create n1 (auto subnet)" gb network create n1
check "network create n2 --subnet 10.231.7.0/24" gb network create --subnet 10.231.7.0/24 n2
check_fails "network create n1 again: refused" gb network create n1
check_match "... saying it exists" 'network with name n1 already exists' "$(gb network create n1 2>&1)"
check_fails "network create with host bits in the subnet: refused" gb network create --subnet 10.9.9.1/24 bad
check_match "... naming the right subnet" 'did you mean 10.9.9.0/24' "$(gb network create --subnet 10.9.9.1/24 bad 2>&1)"
check_eq "network ls: bridge, n1, n2" "bridge n1 n2" "$(gb network ls | awk 'NR > 1 {print $2}' | sort | paste -sd' ')"
SUB1=$(gb network inspect n1 | jq -r '.[0].Subnet')
check_match "n1's subnet is a /16 of 172.18-31" '^172\.(1[89]|2[0-9]|3[01])\.0\.0/16$' "$SUB1"
P1=${SUB1%.0.0/16}

gb run -d --name a1 --network n1 "${R[@]}" sleep 300 >/dev/null
gb run -d --name a2 --network n1 --network-alias web "${R[@]}" sleep 300 >/dev/null
gb run -d --name b1 --network n2 "${R[@]}" sleep 300 >/dev/null
A1=$(gb inspect -f '{{.NetworkSettings.Networks.n1.IPAddress}}' a1)
A2=$(gb inspect -f '{{.NetworkSettings.Networks.n1.IPAddress}}' a2)
B1=$(gb inspect -f '{{.NetworkSettings.Networks.n2.IPAddress}}' b1)
check_eq "a1 has the first address of n1" "$P1.0.2" "$A1"
check_eq "a2 the second" "$P1.0.3" "$A2"
check_eq "b1 the first of n2's /24" "10.231.7.2" "$B1"
check_eq "a1's eth0 has it, from inside" "$A1/16" "$(gb exec a1 ip -o -4 addr show eth0 | awk '{print $4}')"
check_eq "a1's default route: n1's gateway" "default via $P1.0.1 dev eth0" "$(gb exec a1 ip route | grep default | sed 's/ *$//')"
check_eq "a1's MAC: Docker's 02:42 + address" "02:42:ac:$(printf '%02x' "$(echo "$P1" | cut -d. -f2)"):00:02" \
        "$(gb exec a1 cat /sys/class/net/eth0/address)"
check_match "a1 is remapped (its root is host UID 400000)" '^ *0 +400000 +65536$' "$(gb exec a1 cat /proc/self/uid_map)"
check "a1 pings a2 by name" gb exec a1 ping -c1 -W2 a2
check "a1 pings a2 by its alias (web)" gb exec a1 ping -c1 -W2 web
check "a2 pings a1 by name" gb exec a2 ping -c1 -W2 a1
check "a1 pings a2 by its short ID" gb exec a1 ping -c1 -W2 "$(gb inspect -f '{{.Id}}' a2 | cut -c1-12)"
check_match "a1's /etc/hosts was updated when a2 joined" "^$A2	a2 web" "$(gb exec a1 cat /etc/hosts)"
check_fails "b1 (n2) cannot reach a1 by address" gb exec b1 ping -c1 -W1 "$A1"
check_fails "... nor resolve its name" gb exec b1 ping -c1 -W1 a1
check_fails "a1 cannot reach b1 either" gb exec a1 ping -c1 -W1 "$B1"
check "network connect n2 a1 (running)" gb network connect --alias a1-on-n2 n2 a1
check_match "... a1 gets eth1 with an address of n2" '^10\.231\.7\.3/24$' "$(gb exec a1 ip -o -4 addr show eth1 | awk '{print $4}')"
check_eq "... its default route stays on eth0" "default via $P1.0.1 dev eth0" "$(gb exec a1 ip route | grep default | sed 's/ *$//')"
check "... a1 now reaches b1 by name" gb exec a1 ping -c1 -W2 b1
check "... and b1 reaches a1 by its alias" gb exec b1 ping -c1 -W2 a1-on-n2
check "... a1 still reaches a2 on n1" gb exec a1 ping -c1 -W2 a2
check_fails "network connect n2 a1 again: refused" gb network connect n2 a1
check "network disconnect n2 a1" gb network disconnect n2 a1
check_fails "... eth1 is gone from a1" gb exec a1 ip link show eth1
check_fails "... b1 no longer resolves a1's alias" gb exec b1 ping -c1 -W1 a1-on-n2
check "... a1 still reaches a2" gb exec a1 ping -c1 -W2 a2
# busybox httpd/wget across the network: TCP, not only ICMP
gb exec -d a2 sh -c 'mkdir -p /tmp/w && echo tcp-ok >/tmp/w/i && httpd -f -p 8080 -h /tmp/w' >/dev/null
check_eq "a1 fetches a page from web:8080" tcp-ok \
        "$(gb exec a1 sh -c 'for i in $(seq 25); do wget -qO- http://web:8080/i && exit; sleep 0.2; done')"
check_eq "a container without --network: loopback only (the default is unchanged)" lo \
        "$(gb run --rm "${R[@]}" ls /sys/class/net)"
check_match "--network bridge: the default bridge network" '^172\.' \
        "$(gb run --rm --network bridge "${R[@]}" sh -c "ip -o -4 addr show eth0 | awk '{print \$4}'")"
printf '{"default-network": "bridge"}\n' >"$T/defnet.json"
check_match "daemon.json default-network: a container without --network joins it" '^172\.' \
        "$(GHOSTBOX_CONFIG=$T/defnet.json gb run --rm "${R[@]}" sh -c "ip -o -4 addr show eth0 | awk '{print \$4}'")"
check_eq "... --network private still gets loopback only" lo \
        "$(GHOSTBOX_CONFIG=$T/defnet.json gb run --rm --network private "${R[@]}" ls /sys/class/net)"
check_fails "--network of a missing network: refused" gb run --rm --network nonet "${R[@]}" true
check_match "... naming it" 'network nonet not found' "$(gb run --rm --network nonet "${R[@]}" true 2>&1)"
check_fails "--network host is refused while remapped" gb run --rm --network host "${R[@]}" true

# restart: the container's namespace is new, so is its veth
gb stop -t 1 a2 >/dev/null
check_fails "network rm n1 while a1/a2 are on it: refused" gb network rm n1
check_match "... active endpoints" 'has active endpoints' "$(gb network rm n1 2>&1)"
gb start a2 >/dev/null
check_eq "a2 keeps its address across a restart" "$A2" "$(gb exec a2 ip -o -4 addr show eth0 | awk '{print $4}' | cut -d/ -f1)"
check "... and is reachable again" gb exec a1 ping -c1 -W2 a2
gb rm -f a2 >/dev/null
check_fails "after rm a2: a1 no longer resolves it" gb exec a1 ping -c1 -W1 a2
check_eq "... its address is free again (the next container gets it)" "$A2" \
        "$(gb run --rm --network n1 "${R[@]}" sh -c "ip -o -4 addr show eth0 | awk '{print \$4}' | cut -d/ -f1")"
gb rm -f a1 b1 >/dev/null
check_eq "network inspect n1: no containers left" '{}' "$(gb network inspect n1 | jq -c '.[0].Endpoints')"
check "network rm n1 n2" gb network rm n1 n2
BR_ID=$(gb network inspect bridge | jq -r '.[0].Id')
check_eq "their namespaces are unmounted (only the default bridge's is left)" 0 "$(netns_other)"
check_eq "no host link was added or left behind" "$LINKS_BEFORE" "$(links)"

# -- ghostboxd, docker CLI, docker-compose --------------------------------------
if start_gbd; then ok "ghostboxd starts"; else not_ok "ghostboxd starts"; fi
if [ -z "$DOCKER" ]; then
        skip "docker CLI missing (scripts/deps.sh test installs docker.io)"
else
        check_match "docker network create dn1" '^[0-9a-f]{64}$' "$(d network create --label team=x dn1)"
        check_match "docker network create with a subnet" '^[0-9a-f]{64}$' "$(d network create --subnet 10.232.0.0/24 dn2)"
        check_match "docker network ls" 'dn1 +bridge +local' "$(d network ls)"
        check_eq "docker network ls -f label=team=x" dn1 "$(d network ls -q -f label=team=x --format '{{.Name}}')"
        check_eq "docker network inspect: subnet" 10.232.0.0/24 "$(d network inspect -f '{{(index .IPAM.Config 0).Subnet}}' dn2)"
        check_match "docker network create dn1 again: conflict" 'already exists' "$(d network create dn1 2>&1)"
        check_eq "POST /networks/create of an existing name: 409" 409 \
                "$(code -X POST -H 'Content-Type: application/json' -d '{"Name":"dn1"}' http://d/v1.43/networks/create)"
        check_eq "POST /networks/create with a bad subnet: 400" 400 \
                "$(code -X POST -H 'Content-Type: application/json' -d '{"Name":"x","IPAM":{"Config":[{"Subnet":"10.1.2.3/33"}]}}' http://d/v1.43/networks/create)"
        check_eq "POST /networks/create with another driver: 400" 400 \
                "$(code -X POST -H 'Content-Type: application/json' -d '{"Name":"x","Driver":"overlay"}' http://d/v1.43/networks/create)"
        d run -d --name s1 --network dn1 busybox sleep 300 >/dev/null
        check "docker run --network dn1 --network-alias: ping by alias" \
                d run --rm --network dn1 --network-alias peer busybox ping -c1 -W2 s1
        check_match "docker inspect: NetworkSettings.Networks.dn1.IPAddress" '^172\.' \
                "$(d inspect -f '{{.NetworkSettings.Networks.dn1.IPAddress}}' s1)"
        check_match "docker network inspect dn1: s1 in Containers" '"Name": "s1"' "$(d network inspect dn1)"
        check_match "docker network rm dn1 while in use: refused" 'active endpoints' "$(d network rm dn1 2>&1)"
        check_eq "DELETE /networks/dn1 while in use: 409" 409 "$(code -X DELETE http://d/v1.43/networks/dn1)"
        check_eq "DELETE /networks/bridge: 403" 403 "$(code -X DELETE http://d/v1.43/networks/bridge)"
        check "docker network connect dn2 s1" d network connect dn2 s1
        check_match "... s1 is on both" 'dn1 dn2|dn2 dn1' "$(d inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' s1)"
        check_match "... with an address of dn2 on eth1" '^10\.232\.0\.' "$(d exec s1 ip -o -4 addr show eth1 | awk '{print $4}')"
        check "docker network disconnect dn2 s1" d network disconnect dn2 s1
        check_eq "POST /networks/host/connect: 403" 403 \
                "$(code -X POST -H 'Content-Type: application/json' -d '{"Container":"s1"}' http://d/v1.43/networks/host/connect)"
        d rm -f s1 >/dev/null
        check_eq "docker network rm dn1" dn1 "$(d network rm dn1)"
        check_eq "docker network prune removes dn2" dn2 "$(api -X POST http://d/v1.43/networks/prune | jq -r '.NetworksDeleted[]')"
        check_eq "DELETE /networks/dn1 again: 404" 404 "$(code -X DELETE http://d/v1.43/networks/dn1)"
fi
if ! command -v docker-compose >/dev/null; then
        skip "docker-compose missing (scripts/deps.sh test installs it)"
else
        mkdir -p "$T/proj"
        cat >"$T/proj/docker-compose.yml" <<'YML'
version: "3"
services:
  web:
    image: busybox
    command: sh -c 'mkdir -p /www && echo hello-from-web >/www/index.html && httpd -f -p 8080 -h /www'
  client:
    image: busybox
    depends_on: [web]
    command: sh -c 'for i in $$(seq 20); do wget -qO- http://web:8080/ && exit 0; sleep 0.25; done; exit 1'
YML
        out=$(cd "$T/proj" && timeout -k 5 120 docker-compose -p gbt up --exit-code-from client 2>&1)
        rc=$?
        check_eq "docker-compose up: the client's exit code is 0" 0 "$rc"
        check_match "... it fetched the page from service web by name" 'client_1.*hello-from-web' "$out"
        check_match "... on the project's network" '"Name": "gbt_default"' "$(d network inspect gbt_default 2>&1)"
        check "docker-compose down" sh -c "cd '$T/proj' && timeout -k 5 120 docker-compose -p gbt down"
        check_fails "... removed the network" d network inspect gbt_default
fi
stop_gbd
for n in $(gb network ls -q); do gb network rm "$n" >/dev/null 2>&1; done
check_eq "no network namespace mount left but the default bridge's" 0 "$(netns_other)"
check_eq "no host link was added or left behind (after the daemon)" "$LINKS_BEFORE" "$(links)"
done_testing
