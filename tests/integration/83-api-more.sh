#!/usr/bin/env bash
# ghostboxd, more of the Engine API: rename, save/history, exec and
# container resize, attach with logs, update, networks. Driven with curl
# and the stock docker CLI (never dockerd); its own data and exec roots.
. "$(dirname "$0")/lib.sh"
require_root
gbd_env
if start_gbd; then ok "ghostboxd starts"; else not_ok "ghostboxd starts"; fi

# -- rename (curl) ----------------------------------------------------------
gb create --name ren1 "${R[@]}" true >/dev/null
gb create --name ren2 "${R[@]}" true >/dev/null
check_eq "rename: 204" 204 "$(code -X POST 'http://d/v1.43/containers/ren1/rename?name=renamed')"
check_match "... the CLI sees the new name" 'renamed' "$(gb ps -a --format '{{.Names}}')"
check_fails "... and the old one is free" gb inspect ren1
check_eq "rename to a name in use: 409" 409 "$(code -X POST 'http://d/v1.43/containers/renamed/rename?name=ren2')"
check_match "... Docker's conflict message" '^\{"message":"Conflict. The container name \\"/ren2\\" is already in use by container' "$(cat "$T/body")"
check_eq "rename to an invalid name: 400" 400 "$(code -X POST 'http://d/v1.43/containers/renamed/rename?name=-bad')"
check_match "... naming the allowed characters" 'Invalid container name \(-bad\)' "$(cat "$T/body")"
check_eq "rename without a name: 400" 400 "$(code -X POST 'http://d/v1.43/containers/renamed/rename')"
check_eq "rename to its own name: 400" 400 "$(code -X POST 'http://d/v1.43/containers/renamed/rename?name=renamed')"
check_eq "rename of a missing container: 404" 404 "$(code -X POST 'http://d/v1.43/containers/nothere/rename?name=xx')"
check_match "... No such container" 'No such container: nothere' "$(cat "$T/body")"
gb rm renamed ren2 >/dev/null

# -- networks, update (curl) ------------------------------------------------
check_eq "networks: bridge, host, none, private" "bridge host none private" "$(api http://d/v1.43/networks | jq -r '.[].Name' | paste -sd' ')"
check_eq "network inspect private: driver null" null "$(api http://d/v1.43/networks/private | jq -r .Driver)"
check_eq "network inspect bridge: driver bridge (84-network tests it)" bridge "$(api http://d/v1.43/networks/bridge | jq -r .Driver)"
check_eq "network inspect of a missing one: 404" 404 "$(code http://d/v1.43/networks/nonet)"
check_match "... Docker's message" 'network nonet not found' "$(cat "$T/body")"
check_eq "network rm of a built-in one: 403" 403 "$(code -X DELETE http://d/v1.43/networks/host)"
gb create --name upd "${R[@]}" true >/dev/null
check_eq "update with a memory limit: 501" 501 "$(code -X POST -H 'Content-Type: application/json' -d '{"CpuShares":0,"Memory":10485760,"RestartPolicy":{"Name":"","MaximumRetryCount":0}}' http://d/v1.43/containers/upd/update)"
check_match "... naming the field" '"message":"Cannot update container [0-9a-f]+: Memory is not supported' "$(cat "$T/body")"
check_eq "update with nothing set: 200" 200 "$(code -X POST -H 'Content-Type: application/json' -d '{"CpuShares":0,"Memory":0}' http://d/v1.43/containers/upd/update)"
check_eq "update of a missing container: 404" 404 "$(code -X POST -H 'Content-Type: application/json' -d '{"Memory":1}' http://d/v1.43/containers/nothere/update)"
gb rm upd >/dev/null

# -- save / history (curl) --------------------------------------------------
check_eq "images/{name}/get: 200" 200 "$(code http://d/v1.43/images/busybox/get)"
check_match "... a tar with manifest.json and index.json" 'index.json.*manifest.json|manifest.json.*index.json' "$(tar -tf "$T/body" | paste -sd' ')"
check_eq "images/get?names=: the same archive" "$(sha256sum <"$T/body")" "$(api 'http://d/v1.43/images/get?names=busybox' | sha256sum)"
check_eq "save of a missing image: 404" 404 "$(code 'http://d/v1.43/images/get?names=busybox&names=nope:1')"
check_match "... No such image" 'No such image: nope:1' "$(cat "$T/body")"
api http://d/v1.43/images/busybox/history >"$T/hist"
check_eq "history: the image's ID on the newest row" "$(gb inspect -f '{{.Id}}' busybox 2>/dev/null || api http://d/v1.43/images/busybox/json | jq -r .Id)" "$(jq -r '.[0].Id' "$T/hist")"
check_eq "... its size is the layer's" "$(api http://d/v1.43/images/busybox/json | jq .Size)" "$(jq '[.[].Size] | add' "$T/hist")"
check_eq "history of a missing image: 404" 404 "$(code http://d/v1.43/images/nope/history)"

# -- SIGHUP reloads daemon.json (debug, labels) -----------------------------
printf '{"debug": false, "labels": ["zone=a"]}\n' >"$T/reload.json"
"$GBD" --config-file "$T/reload.json" -H "unix://$T/hup.sock" --data-root "$T/data" --exec-root "$T/run" \
        --userns-remap root 2>"$T/hup.log" &
hup_pid=$!
at_exit "kill $hup_pid"
for _ in $(seq 100); do [ -S "$T/hup.sock" ] && break; sleep 0.05; done
hinfo() { curl -s --max-time 10 --unix-socket "$T/hup.sock" http://d/v1.43/info | jq -c '[.Debug, .Labels]'; }
check_eq "daemon.json debug and labels in /info" '[false,["zone=a"]]' "$(hinfo)"
printf '{"debug": true, "labels": ["zone=b", "tier=x"]}\n' >"$T/reload.json"
kill -HUP $hup_pid
for _ in $(seq 50); do grep -q reloaded "$T/hup.log" && break; sleep 0.05; done
check_eq "SIGHUP: the new debug and labels apply" '[true,["zone=b","tier=x"]]' "$(hinfo)"
check_match "... debug logs requests" 'debug: GET /info' "$(cat "$T/hup.log")"
printf '{"debug": false, "labels": ["nokey"]}\n' >"$T/reload.json"
kill -HUP $hup_pid
for _ in $(seq 50); do grep -q 'not reloaded' "$T/hup.log" && break; sleep 0.05; done
check_match "SIGHUP with a bad file: an error naming it" 'not reloaded.*labels.*key=value' "$(cat "$T/hup.log")"
check_eq "... and the previous configuration stays" '[true,["zone=b","tier=x"]]' "$(hinfo)"
printf '{"group": "daemon"}\n' >"$T/reload.json"
kill -HUP $hup_pid
for _ in $(seq 50); do grep -q 'need a restart' "$T/hup.log" && break; sleep 0.05; done
check_match "SIGHUP changing group: a warning that it needs a restart" 'need a restart' "$(cat "$T/hup.log")"
check_eq "... the socket keeps its group (root), the daemon serves on" "root OK" \
        "$(stat -c %G "$T/hup.sock") $(curl -s --max-time 10 --unix-socket "$T/hup.sock" http://d/_ping)"
kill $hup_pid

if [ -z "$DOCKER" ]; then
        skip "no docker CLI (scripts/deps.sh test installs docker.io)"
        done_testing
        exit 0
fi

# -- the docker CLI ---------------------------------------------------------
d create --name aa busybox true >/dev/null
d rename aa bb
check_eq "docker rename aa bb: docker ps shows bb" bb "$(d ps -a --format '{{.Names}}')"
d create --name cc busybox true >/dev/null
out=$(d rename bb cc 2>&1)
check_match "docker rename onto a used name: Docker's conflict error" 'Error response from daemon: Conflict. The container name "/cc" is already in use' "$out"
check_match "docker rename to a one-letter name: refused as by Docker" 'Invalid container name \(x\)' "$(d rename bb x 2>&1)"
d rm bb cc >/dev/null

check_match "docker history busybox lists rows" 'ghostbox import' "$(d history busybox)"
check_match "docker history --no-trunc: the image ID" "$(api http://d/v1.43/images/busybox/json | jq -r .Id)" "$(d history --no-trunc busybox)"
d save -o "$T/saved.tar" busybox
check "docker save -o writes a tar" tar -tf "$T/saved.tar"
id_before=$(d inspect --format '{{.Id}}' busybox)
d save busybox >"$T/saved2.tar"
d rmi busybox >/dev/null
check_fails "docker rmi: the image is gone" d inspect busybox
check_match "docker save | docker load round trip" 'Loaded image: busybox' "$(d load <"$T/saved2.tar")"
check_eq "... the same image ID" "$id_before" "$(d inspect --format '{{.Id}}' busybox)"
check_eq "... and it runs" hi "$(d run --rm busybox echo hi)"
check_match "docker save of a missing image: the daemon's 404" 'No such image: nope:1' "$(d save nope:1 2>&1 >/dev/null)"

check_match "docker network ls: private, none, host" 'private +null' "$(d network ls)"
check_match "docker network create of a built-in name: refused" 'already exists' "$(d network create private 2>&1)"
d run -d --name upd busybox sleep 300 >/dev/null
check_match "docker update --memory: refused naming Memory" 'Memory is not supported' "$(d update --memory 64m upd 2>&1)"
check_match "docker network inspect private: the running container" '"Name": "upd"' "$(d network inspect private)"
d rm -f upd >/dev/null

# -- tty sizes ---------------------------------------------------------------
d run -d --name tt busybox sleep 300 >/dev/null
# docker exec -it sends the terminal's size (ConsoleSize, then a resize):
# set one on script's pty and read it back inside.
out=$(on_tty "stty rows 33 cols 77; $TTY_TIMEOUT $DOCKER exec -it tt stty size")
check_match "docker exec -it: the client's terminal size inside (stty size)" '(^|[^0-9])33 77$' "$out"
[[ $out == *"33 77"* ]] || dump_state
diag "exec ConsoleSize recorded: $(cat "$T"/run/api-exec/*.json 2>/dev/null | jq -c .ConsoleSize | paste -sd" ")"
# Docker 20.10's CLI sends no ConsoleSize: only the resize after start.
for d2 in ${GB_DOCKER2:-} /usr/bin/docker /usr/local/bin/docker; do
        [ -x "$d2" ] && [ "$(readlink -f "$d2")" != "$(readlink -f "$DOCKER")" ] || continue
        v=$(timeout -k 5 30 "$d2" version --format '{{.Client.Version}}' 2>/dev/null)
        out=$(on_tty "stty rows 21 cols 55; $TTY_TIMEOUT $d2 exec -it tt sh -c 'sleep 1; stty size'")
        check_match "docker $v exec -it: the size arrives by resize" '(^|[^0-9])21 55$' "$out"
        break
done
# A later resize reaches the running process: the process polls its size.
eid=$(api -X POST -H 'Content-Type: application/json' \
        -d '{"AttachStdout":true,"AttachStderr":true,"Tty":true,"Cmd":["sh","-c","for i in $(seq 100); do s=$(stty size); [ \"$s\" = \"11 22\" ] && break; sleep 0.1; done; echo \"size=$s\""]}' \
        http://d/v1.43/containers/tt/exec | jq -r .Id)
check_eq "exec resize before start: 409" 409 "$(code -X POST "http://d/v1.43/exec/$eid/resize?h=11&w=22")"
api -X POST -H 'Content-Type: application/json' -d '{"Detach":false,"Tty":true}' "http://d/v1.43/exec/$eid/start" >"$T/eout" &
epid=$!
for _ in $(seq 50); do [ "$(api "http://d/v1.43/exec/$eid/json" | jq -r .Running)" = true ] && break; sleep 0.1; done
check_eq "exec resize of a running tty exec: 200" 200 "$(code -X POST "http://d/v1.43/exec/$eid/resize?h=11&w=22")"
wait $epid
check_match "... stty size inside shows it" 'size=11 22' "$(tr -d '\r' <"$T/eout")"
check_eq "exec resize without h/w: 400" 400 "$(code -X POST "http://d/v1.43/exec/$eid/resize")"
check_eq "exec resize of a missing exec: 404" 404 "$(code -X POST "http://d/v1.43/exec/0000/resize?h=1&w=1")"
check_eq "container resize of a created container: 409" 409 \
        "$(gb create --name cr -t "${R[@]}" true >/dev/null; code -X POST 'http://d/v1.43/containers/cr/resize?h=10&w=10')"
check_match "... Container is not running" 'is not running' "$(cat "$T/body")"
gb rm cr >/dev/null

# -- attach with logs=1 -----------------------------------------------------
gb run -d --name lg "${R[@]}" sh -c 'echo one; echo err1 >&2; while [ ! -f /tmp/go ]; do sleep 0.05; done; echo two; exec sleep 300' >/dev/null
for _ in $(seq 50); do [ -n "$(gb logs lg 2>/dev/null)" ] && break; sleep 0.05; done
curl -s -N --max-time 4 --unix-socket "$SOCK" -X POST 'http://d/v1.43/containers/lg/attach?logs=1&stream=1&stdout=1' >"$T/att" &
att=$!
sleep 0.5
gb exec lg touch /tmp/go
wait $att
check_eq "attach?logs=1&stream=1: the log replayed, then the live stream (stdout only)" "one two" \
        "$(tr -c 'a-z0-9\n' '\n' <"$T/att" | grep -E '^(one|two|err1)$' | paste -sd' ')"
check_eq "... stdcopy frames (stream 1)" "01000000" "$(od -An -tx1 -N4 "$T/att" | tr -d ' ')"
api -X POST 'http://d/v1.43/containers/lg/attach?logs=1&stdout=1&stderr=1' >"$T/att2"
check_eq "attach?logs=1 without stream: the log only, then the end" "one err1 two" \
        "$(tr -c 'a-z0-9\n' '\n' <"$T/att2" | grep -E '^(one|two|err1)$' | paste -sd' ')"
check_eq "attach with neither logs nor stream: 400" 400 "$(code -X POST 'http://d/v1.43/containers/lg/attach?stdout=1')"
gb rm -f lg >/dev/null

check_match "ghostboxd logged no crash" '^$' "$(grep -i 'segfault\|abort' "$T/gbd.log")"
# -- images/json filters ----------------------------------------------------
gb import --change 'LABEL tier=web' --change 'LABEL team=a' "$T/busybox.tar" labelled:1 >/dev/null
sleep 1.1 # created times are in seconds: since/before need a later image
gb import "$T/busybox.tar" newer:1 >/dev/null
d tag busybox other/thing:2
imgs() { d images --format '{{.Repository}}:{{.Tag}}' "$@" | sort | paste -sd' '; }
check_eq "images --filter reference=busybox (no tag: the repository)" "busybox:latest" "$(imgs --filter reference=busybox)"
check_eq "... reference=*:1 (a glob on repo:tag)" "labelled:1 newer:1" "$(imgs --filter reference='*:1')"
check_eq "... reference=other/* (a path glob)" "other/thing:2" "$(imgs --filter reference='other/*')"
check_eq "... label=tier=web" "labelled:1" "$(imgs --filter label=tier=web)"
check_eq "... two labels are AND-ed" "" "$(imgs --filter label=tier=web --filter label=team=b)"
check_eq "... since=labelled:1" "newer:1" "$(imgs --filter since=labelled:1)"
check_eq "... before=newer:1" "busybox:latest labelled:1 other/thing:2" "$(imgs --filter before=newer:1)"
check_eq "... dangling=true: none here" "" "$(imgs --filter dangling=true)"
check_match "docker images shows the labels" '"tier":"web"' "$(api 'http://d/v1.41/images/json?filters=%7B%22label%22%3A%5B%22tier%22%5D%7D')"
check_match "... an unknown filter: 400 naming it" "invalid filter 'bogus'" "$(d images --filter bogus=1 2>&1)"
check_match "... since= a missing image: 404" "No such image: nope" "$(d images --filter since=nope 2>&1)"
check_match "... dangling=maybe: 400" "Invalid filter 'dangling=maybe'" "$(d images --filter dangling=maybe 2>&1)"

# -- docker commit ------------------------------------------------------------
d run --name cm -e K=v busybox sh -c 'echo committed >/f; chown 33 /f' >/dev/null
cid=$(d commit -m msg -a me -c 'CMD ["cat","/f"]' cm snap:1)
check_match "docker commit: the new image's ID" '^sha256:[0-9a-f]{64}$' "$cid"
check_eq "docker run of the committed image: its CMD and file" committed "$(d run --rm snap:1)"
check_eq "... the file's owner and the container's env carried over" "33 K=v" \
        "$(d run --rm snap:1 sh -c 'stat -c %u /f; env | grep ^K=' | paste -sd' ')"
check_eq "docker history: the commit's comment on top" msg "$(d history --format '{{.Comment}}' snap:1 | head -1)"
check_eq "docker commit of a missing container: 404" 404 "$(code -X POST 'http://d/v1.43/commit?container=nope')"
check_eq "... a tag without a repository: 400" 400 "$(code -X POST 'http://d/v1.43/commit?container=cm&tag=x')"
check_eq "... a body that is not an object: 400" 400 \
        "$(code -X POST -H 'Content-Type: application/json' -d '[1]' 'http://d/v1.43/commit?container=cm')"
d rm -f cm >/dev/null

# -- system df -------------------------------------------------------------------
d volume create dfv >/dev/null
d run --name dfc -v dfv:/v busybox sh -c 'head -c 100000 /dev/zero >/f; head -c 50000 /dev/zero >/v/x; ln /f /f2' >/dev/null
df=$(api 'http://d/v1.43/system/df')
check_eq "system/df: a container's SizeRw is what it wrote (a hard link once)" 100000 \
        "$(jq '.Containers[] | select(.Names[0] == "/dfc") | .SizeRw' <<<"$df")"
check_eq "... a volume's size and users" "50000 1" \
        "$(jq -r '.Volumes[] | select(.Name == "dfv") | "\(.UsageData.Size) \(.UsageData.RefCount)"' <<<"$df")"
check_eq "... a committed image shares its parent's layers" \
        "$(jq '.Images[] | select(.RepoTags | index("busybox:latest")) | .Size' <<<"$df")" \
        "$(jq '.Images[] | select(.RepoTags | index("snap:1")) | .SharedSize' <<<"$df")"
check_eq "... LayersSize counts a shared layer once (below the images' sum, at least the largest)" true \
        "$(jq '(.LayersSize < ([.Images[].Size] | add)) and (.LayersSize >= ([.Images[].Size] | max))' <<<"$df")"
check_match "docker system df: the table" '^Local Volumes +[0-9]+ +1 ' "$(d system df)"
check_eq "system/df?type=bogus: 400" 400 "$(code 'http://d/v1.43/system/df?type=bogus')"
d rm -f dfc >/dev/null
d volume rm dfv >/dev/null

# -- events of images and volumes ------------------------------------------------
# From the next whole second (since= counts seconds; what earlier sections
# made is older), and only once the stream has shown a marker volume: a
# tag made before its first look would be state, not an event.
t0=$(($(date +%s) + 1))
wait_until test "$(date +%s)" -ge "$t0"
$DOCKER events --since "$t0" --format '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}' >"$T/ev" 2>&1 &
evp=$!
d volume create evmark >/dev/null
wait_until grep -q '^volume create' "$T/ev"
d tag busybox evbb:2
d volume create evv >/dev/null
d run --name evc busybox true
d commit evc evimg >/dev/null
d rmi evbb:2 >/dev/null
d volume rm evv >/dev/null
d rm evc >/dev/null
d rmi evimg >/dev/null
wait_until grep -q '^image delete' "$T/ev"
kill $evp 2>/dev/null; wait $evp 2>/dev/null
d volume rm evmark >/dev/null
ev=$(grep -E '^(image|volume)|commit' "$T/ev" | sed 's/ sha256:[0-9a-f]*$/ ID/' | paste -sd,)
check_eq "docker events: image tag, volume create, commit, untag, volume destroy, image delete" \
        "volume create <no value>,image tag evbb:2,volume create <no value>,container commit <no value>,image tag evimg:latest,image untag ID,volume destroy <no value>,image untag ID,image delete ID" \
        "$ev"
check_match "docker events --since: a volume created since then is replayed" '^volume create dfv2$' \
        "$(d volume create dfv2 >/dev/null; d events --since "$t0" --until "$(date +%s)" --filter type=volume --format '{{.Type}} {{.Action}} {{.Actor.ID}}')"
d volume rm dfv2 >/dev/null

# -- image prune, system prune --------------------------------------------------
d run --name cm2 busybox true >/dev/null
dang=$(d commit cm2)
out=$(d image prune -f 2>&1)
check_match "docker image prune: the dangling image deleted" "deleted: ${dang}" "$out"
check_match "... the space it reclaimed" 'Total reclaimed space: [0-9.]+[kMG]?B' "$out"
check_match "... tagged images kept" 'snap' "$(d images)"
check_eq "image prune with an unknown filter: 400" 400 \
        "$(code -X POST 'http://d/v1.43/images/prune?filters=%7B%22bogus%22%3A%5B%221%22%5D%7D')"
out=$(d system prune -a -f 2>&1)
check_match "docker system prune -a: the stopped container, then its image" "snap:1" "$out"
check_eq "... every image gone but busybox, which a running container uses (both its tags)" \
        "busybox other/thing" "$(d images --format '{{.Repository}}' | sort | paste -sd' ')"

done_testing
