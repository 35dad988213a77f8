#!/usr/bin/env bash
# ghostbox build and POST /build: a Dockerfile run step by step, every RUN
# in a remapped container (root inside, 400000 on the host), COPY owners as
# container IDs in the layer, no leftovers after a failure, the context as
# the only source (no ../, no symlink out). Own data and exec roots.
. "$(dirname "$0")/lib.sh"
require_root
gbd_env
chmod 755 "$T"

nctr() { gb ps -aq | grep -c . || true; }
images() { ls "$T/data/images/sha256" | sort; }
layers() { ls "$T/data/layers/sha256" | sort; }
tagged() { jq -r --arg r "$1" 'keys[] | select(startswith($r + ":"))' "$T/data/images/repositories.json"; }

# -- a multi-step build -------------------------------------------------------
C=$T/ctx
mkdir -p "$C/dir/sub"
echo hello >"$C/dir/a"
echo sub >"$C/dir/sub/b"
echo file >"$C/file.txt"
cat >"$C/Dockerfile" <<'DF'
# the base comes from an ARG before FROM
ARG BASE=busybox
FROM $BASE
ARG GREETING=hi
ENV APP=/app \
    MSG="${GREETING} there"
WORKDIR $APP
COPY --chown=33:33 dir/ ./data/
copy file.txt .
RUN echo "$MSG" >out.txt && id -u >>out.txt && cat /proc/self/uid_map >uidmap.txt && echo "arg=$GREETING" >arg.txt
LABEL org.example.k="v 1"
EXPOSE 8080
CMD ["cat", "/app/out.txt"]
DF
before_layers=$(layers)
out=$(gb build -t app:1 -t app:latest --build-arg GREETING=yo "$C" 2>&1)
rc=$?
check_eq "build: exit 0" 0 "$rc"
check_match "... Docker's step lines" '^Step 8/11 : RUN echo "\$MSG"' "$out"
check_match "... a RUN runs in a container" '^ ---> Running in [0-9a-f]{12}$' "$out"
check_match "... Successfully built" '^Successfully built [0-9a-f]{12}$' "$out"
check_match "... and tagged (twice)" 'Successfully tagged app:1' "$out"
check_match "... -t repeatable" '^app +latest ' "$(gb images)"
check_eq "the image runs its CMD: the build arg reached ENV, root inside" "yo there
0" "$(gb run --rm app:1)"
check_eq "RUN ran in the user namespace: its uid_map maps 0 to host 400000" "0 400000 65536" \
        "$(gb run --rm app:1 cat /app/uidmap.txt | tr -s ' ' | sed 's/^ //')"
check_eq "ARG values reach RUN's environment" "arg=yo" "$(gb run --rm app:1 cat /app/arg.txt)"
check_eq "... but not the image's" "" "$(gb run --rm app:1 sh -c 'echo $GREETING')"
check_eq "WORKDIR and ENV in the image" "/app /app" "$(gb run --rm app:1 sh -c 'echo $(pwd) $APP')"
check_eq "COPY --chown: owner 33 inside" "33:33 33:33 33:33" \
        "$(gb run --rm app:1 stat -c %u:%g /app/data/a /app/data/sub /app/data/sub/b | paste -sd' ')"
check_eq "COPY without --chown: root" "0:0 file" "$(gb run --rm app:1 sh -c 'stat -c %u:%g /app/file.txt; cat /app/file.txt' | paste -sd' ')"
L=$(ls -d "$T"/data/layers/sha256/*/app/data/a | head -1)
check_eq "the layer on disk holds container IDs (33, not 400033)" "33:33" "$(stat -c %u:%g "$L")"
L=$(ls -d "$T"/data/layers/sha256/*/app/out.txt | head -1)
check_eq "... and RUN's files as 0, not 400000" "0:0" "$(stat -c %u:%g "$L")"
id=$(gb images -q --no-trunc app:1 2>/dev/null | head -1)
[ -n "$id" ] || id=$(jq -r '."app:1"' "$T/data/images/repositories.json")
cfgj=$T/data/images/sha256/${id#sha256:}.json
check_eq "config: Cmd, WorkingDir, label, port" '["cat","/app/out.txt"] /app v 1 {}' \
        "$(jq -rc '[(.config.Cmd|tojson), .config.WorkingDir, .config.Labels["org.example.k"], (.config.ExposedPorts["8080/tcp"]|tojson)] | join(" ")' "$cfgj")"
check_match "config: ENV kept, no build arg" '"APP=/app","MSG=yo there"' "$(jq -c .config.Env "$cfgj")"
# Layers above busybox: WORKDIR (it created /app), two COPYs, the RUN.
check_eq "metadata steps add no layer (empty_layer history)" 4 \
        "$(jq '[.history[] | select(.empty_layer != true)] | length - 1' "$cfgj" 2>/dev/null || echo x)"
check_eq "no intermediate container is left" 0 "$(nctr)"
check_eq "no intermediate image is left (busybox + app)" 2 "$(images | grep -c .)"

# -- multi-stage, COPY --from, --target, FROM scratch -------------------------
M=$T/ms
mkdir -p "$M"
cat >"$M/Dockerfile" <<'DF'
FROM busybox AS Builder
RUN echo built >/artifact && mkdir -p /opt/o && echo deep >/opt/o/x
FROM scratch
COPY --from=builder /artifact /artifact
COPY --from=builder /opt/o /o/
COPY --from=busybox /bin/busybox /bin/busybox
CMD ["/bin/busybox", "cat", "/artifact", "/o/x"]
DF
check "multi-stage build" gb build -q -t ms "$M"
check_eq "... COPY --from a stage and an image into scratch" "built
deep" "$(gb run --rm ms)"
root_ls=$(gb run --rm --entrypoint /bin/busybox ms ls / | paste -sd' ')
check_match "... the scratch image has what was copied" 'artifact bin .*o' "$root_ls"
check_fails "... and nothing of busybox's tree (no /usr)" grep -qw usr <<<"$root_ls"
check "--target stops after a stage" gb build -q --target builder -t tgt "$M"
check_eq "... the target stage's image" built "$(gb run --rm tgt cat /artifact)"
printf '*.log\n' >"$M/.dockerignore"
check_match "a .dockerignore (not applied by ghostbox build yet) gets a warning naming it" \
        "warning: '$M/.dockerignore' is not applied" "$(gb build -q -t ms2 "$M" 2>&1 >/dev/null)"
check_eq "... without one, no warning" "" "$(rm "$M/.dockerignore"; gb build -q -t ms2 "$M" 2>&1 >/dev/null)"

# -- failures leave nothing ----------------------------------------------------
F=$T/fail
mkdir -p "$F"
printf 'FROM busybox\nRUN touch /x\nRUN echo about to fail; exit 3\nCMD ["true"]\n' >"$F/Dockerfile"
imgs0=$(images)
lay0=$(layers)
out=$(gb build -t failing "$F" 2>&1)
check_eq "a failing RUN fails the build" 1 "$?"
check_match "... naming the step and the code" "Dockerfile:3: step 3/4 'RUN echo about to fail; exit 3'.*returned a non-zero code: 3" "$out"
check_match "... the step's output was streamed" '^about to fail$' "$out"
check_eq "... no container is left" 0 "$(nctr)"
check_eq "... no image is left" "$imgs0" "$(images)"
check_eq "... no layer is left" "$lay0" "$(layers)"
printf 'FROM busybox\n\nRUUN echo hi\n' >"$F/Dockerfile"
check_match "a syntax error names the line" "Dockerfile:3: unknown instruction 'RUUN' \(did you mean RUN\?\)" \
        "$(gb build "$F" 2>&1)"

# -- the context is the only source ---------------------------------------------
E=$T/esc
mkdir -p "$E/in"
echo secret-outside >"$T/outside.txt"
echo inside >"$E/inside.txt"
ln -s /etc/shadow "$E/shadow"
ln -s / "$E/rootlink"
ln -s /inside.txt "$E/abs-inside"
printf 'FROM busybox\nCOPY ../outside.txt /x\n' >"$E/Dockerfile"
check_match "COPY ../x is refused" 'forbidden path outside the build context: ../outside.txt' "$(gb build "$E" 2>&1)"
printf 'FROM busybox\nCOPY in/../../outside.txt /x\n' >"$E/Dockerfile"
check_match "... also through a subdirectory" 'forbidden path outside the build context' "$(gb build "$E" 2>&1)"
check "control: followed as the host resolves it, the link is /etc/shadow" cmp -s "$E/shadow" /etc/shadow
printf 'FROM busybox\nCOPY shadow /s\n' >"$E/Dockerfile"
check_match "a symlink to /etc/shadow resolves inside the context: not found" 'file not found in build context' \
        "$(gb build -t leak "$E" 2>&1)"
printf 'FROM busybox\nCOPY rootlink/etc/shadow /s\n' >"$E/Dockerfile"
check_match "... a symlinked directory too" 'file not found in build context' "$(gb build -t leak "$E" 2>&1)"
check_eq "... no image was made" "" "$(tagged leak)"
printf 'FROM busybox\nCOPY abs-inside /copied\n' >"$E/Dockerfile"
check "control: an absolute symlink is followed inside the context" gb build -q -t ctl "$E"
check_eq "... and copies the context's file" inside "$(gb run --rm ctl cat /copied)"
printf 'FROM busybox\nRUN ln -s / /up\nCOPY inside.txt /up/../../etc/gb-build-probe-%s\n' "$$" >"$E/Dockerfile"
check "a destination through a symlink in the image" gb build -q -t dst "$E"
check "... lands inside the image" gb run --rm dst test -f "/etc/gb-build-probe-$$"
check_fails "... never on the host" test -e "/etc/gb-build-probe-$$"

# -- ADD ------------------------------------------------------------------------------
A=$T/add
mkdir -p "$A/t/d"
echo in-tar >"$A/t/d/f"
tar -C "$A/t" -czf "$A/arch.tar.gz" d
printf 'FROM busybox\nADD arch.tar.gz /opt/\nADD arch.tar.gz /raw/arch.bin\n' >"$A/Dockerfile"
check "ADD of a local tar" gb build -q -t add "$A"
check_eq "... extracts it" in-tar "$(gb run --rm add cat /opt/d/f)"
printf 'FROM busybox\nADD http://example.com/x /x\n' >"$A/Dockerfile"
check_match "ADD of a URL is refused clearly" 'ADD of a URL .* not supported' "$(gb build "$A" 2>&1)"
printf 'FROM busybox\nONBUILD RUN true\n' >"$A/Dockerfile"
check_match "ONBUILD is refused clearly" 'ONBUILD is not supported' "$(gb build "$A" 2>&1)"
check_eq "no container left after all of that" 0 "$(nctr)"

# -- ghostboxd: POST /build ------------------------------------------------------------
if start_gbd; then ok "ghostboxd starts"; else not_ok "ghostboxd starts"; fi
if [ -x /usr/bin/docker ]; then
        out=$(cd "$C" && DOCKER_BUILDKIT=0 timeout -k 5 60 /usr/bin/docker build -t dk:1 --build-arg GREETING=dk . 2>&1)
        check_eq "docker 20.10 (classic builder) builds through ghostboxd" 0 "$?"
        check_match "... with the step output" 'Successfully tagged dk:1' "$out"
        check_eq "... the image runs" "dk there
0" "$(gb run --rm dk:1)"
        out=$(cd "$F" && DOCKER_BUILDKIT=0 timeout -k 5 60 /usr/bin/docker build . 2>&1)
        check_match "... a Dockerfile error reaches the CLI" "Dockerfile:3: unknown instruction 'RUUN'" "$out"
else
        skip "/usr/bin/docker (20.10) missing"
fi
if [ -n "$DOCKER" ]; then
        out=$(cd "$M" && timeout -k 5 60 "$DOCKER" build -q -t dk28 . 2>&1)
        check_match "docker $("$DOCKER" version -f '{{.Client.Version}}' 2>/dev/null) without DOCKER_BUILDKIT: classic build (Builder-Version 1)" 'sha256:[0-9a-f]{64}' "$out"
fi
check_eq "POST /session (BuildKit) is refused at once: 501" 501 "$(code -X POST http://d/v1.43/session)"
check_match "... saying how to build" 'DOCKER_BUILDKIT=0' "$(cat "$T/body")"
mkdir -p "$T/evil"
printf 'FROM busybox\nCMD ["true"]\n' >"$T/evil/Dockerfile"
python3 - "$T/evil.tar" "$T/evil/Dockerfile" <<'PY'
import sys, tarfile, io
with tarfile.open(sys.argv[1], "w") as t:
    t.add(sys.argv[2], arcname="Dockerfile")
    data = b"escaped\n"
    ti = tarfile.TarInfo("../../../../tmp/gb-build-escape"); ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))
PY
rm -f /tmp/gb-build-escape
st=$(code -X POST -H 'Content-Type: application/x-tar' --data-binary @"$T/evil.tar" 'http://d/v1.43/build?t=evil')
check_fails "a context tar with ../ entries writes nothing outside" test -e /tmp/gb-build-escape
check_match "... and is refused (status $st)" '"message"|error' "$(cat "$T/body")"
tar -C "$F" -cf "$T/fail.tar" Dockerfile
code -X POST --data-binary @"$T/fail.tar" 'http://d/v1.43/build?t=x' >/dev/null
check_match "a failing build streams Docker's error message" '^\{"errorDetail":\{"message":"Dockerfile:3: unknown instruction' "$(tail -1 "$T/body")"
tar -C "$M" -cf "$T/ms.tar" Dockerfile
code -X POST --data-binary @"$T/ms.tar" 'http://d/v1.43/build?t=viaapi&buildargs=%7B%22X%22%3A%221%22%7D' >/dev/null
check_match "the JSON stream: steps, aux ID, Successfully built" '\{"aux":\{"ID":"sha256:[0-9a-f]{64}"\}\}' "$(cat "$T/body")"
check_match "... stream lines" '^\{"stream":"Step 1/7 : FROM busybox AS Builder\\n"\}' "$(cat "$T/body")"

mkdir -p "$T/slow"
printf 'FROM busybox\nRUN sleep 1\nRUN touch /x\nCMD ["true"]\n' >"$T/slow/Dockerfile"
tar -C "$T/slow" -cf "$T/slow.tar" Dockerfile
curl -s --max-time 0.5 --unix-socket "$SOCK" -X POST --data-binary @"$T/slow.tar" 'http://d/v1.43/build?t=slow' >/dev/null
# The handler removes the context directory last: wait for that.
build_over() { [ -z "$(ls "$T/run/builds" 2>/dev/null)" ]; }
sleep 0.5
wait_until build_over
check_eq "a client that hangs up cancels the build: no container left" 0 "$(nctr)"
check_eq "... and no image tagged" "" "$(tagged slow)"
check_eq "... and no context directory left" "" "$(ls "$T/run/builds" 2>/dev/null)"

if command -v docker-compose >/dev/null; then
        mkdir -p "$T/proj"
        printf 'version: "2"\nservices:\n  app:\n    build: %s\n    image: composed:1\n' "$M" >"$T/proj/docker-compose.yml"
        check "docker-compose v1 build:" sh -c "cd '$T/proj' && timeout -k 5 60 docker-compose -p gbb build >/dev/null 2>&1"
        check_eq "... the image runs" "built
deep" "$(gb run --rm composed:1)"
else
        skip "docker-compose missing"
fi
if /usr/bin/python3 -c 'import docker' 2>/dev/null; then
        out=$(timeout -k 5 60 /usr/bin/python3 -c '
import docker, sys
c = docker.DockerClient(base_url="unix://" + sys.argv[1])
img, logs = c.images.build(path=sys.argv[2], tag="pyb:1")
print(img.id)' "$SOCK" "$M" 2>&1)
        check_match "docker-py images.build" '^sha256:[0-9a-f]{64}$' "$out"
else
        skip "docker-py missing"
fi
check_eq "no container left by the daemon's builds" 0 "$(nctr)"
done_testing
