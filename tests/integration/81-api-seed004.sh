#!/usr/bin/env bash
# seeds/004's T1-T7, run as written with DOCKER_HOST at ghostboxd: every
# test must give the "WITH userns-remap (GOOD)" outcome. alpine is our
# busybox image tagged alpine; curlimages/curl is busybox plus a static
# client that speaks HTTP over a unix socket (`curl -s --unix-socket S URL`).
. "$(dirname "$0")/lib.sh"
require_root
DOCKER=$(command -v docker || true)
if [ -z "$DOCKER" ]; then
        echo "1..0 # SKIP no docker CLI (scripts/deps.sh test installs docker.io)"
        exit 0
fi
GBD=$GB_BUILD/src/daemon/ghostboxd
engine_env
tar --numeric-owner -C "$T/rootfs" -cf "$T/alpine.tar" .
gb import "$T/alpine.tar" alpine >/dev/null
cat >"$T/curl.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
int main(int argc, char **argv)
{
        const char *sock = NULL, *url = NULL, *path;
        for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], "--unix-socket") == 0 && i + 1 < argc)
                        sock = argv[++i];
                else if (argv[i][0] != '-')
                        url = argv[i];
        if (!sock || !url || !(path = strchr(url + 7, '/')))
                return 2;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return 7; /* curl's "couldn't connect" */
        dprintf(fd, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
        char buf[65536];
        ssize_t n, len = 0;
        while ((n = read(fd, buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
                len += n;
        buf[len] = 0;
        char *body = strstr(buf, "\r\n\r\n");
        fputs(body ? body + 4 : "", stdout);
        return 0;
}
C
mkdir -p "$T/curlroot"
cp -a "$T/rootfs/." "$T/curlroot/"
gcc -static -O2 -o "$T/curlroot/usr/bin/curl" "$T/curl.c"
tar --numeric-owner -C "$T/curlroot" -cf "$T/curl.tar" .
gb import "$T/curl.tar" curlimages/curl >/dev/null

SOCK=$T/ghostbox.sock
export DOCKER_HOST=unix://$SOCK DOCKER_CONFIG=$T/docker-config
"$GBD" -H "unix://$SOCK" --data-root "$T/data" --exec-root "$T/run" --userns-remap root 2>"$T/gbd.log" &
GBD_PID=$!
at_exit "kill $GBD_PID"
for _ in $(seq 100); do curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null && break; sleep 0.05; done
docker() { timeout -k 5 60 "$DOCKER" "$@"; }

check_match "preflight: docker run --rm alpine cat /proc/self/uid_map is remapped" '^ +0 +400000 +65536$' \
        "$(docker run --rm alpine cat /proc/self/uid_map)"

# T1: container root is not host root.
docker run -d --name t1 alpine sleep 3600 >/dev/null
pid=$(docker inspect --format '{{.State.Pid}}' t1)
check_eq "T1: whoami inside is root" root "$(docker exec t1 whoami)"
check_eq "T1: ... the host sees uid 400000" 400000 "$(ps -o uid= -p "$pid" | tr -d ' ')"
docker rm -f t1 >/dev/null

# T2: a 0600 root file, bind-mounted read-only, cannot be read.
echo "HOST SECRET: db_password=hunter2" >"$T/host-secret.txt"
chmod 600 "$T/host-secret.txt"
out=$(docker run --rm -v "$T/host-secret.txt:/data/secret:ro" alpine cat /data/secret 2>&1)
check_match "T2: cat of the host's secret: Permission denied" "can't open '/data/secret': Permission denied" "$out"
check_fails "T2: ... and it did not print the secret" grep -q hunter2 <<<"$out"

# T3: a root-owned 755 directory cannot be written.
mkdir -p "$T/host-dir" && chmod 755 "$T/host-dir"
out=$(docker run --rm -v "$T/host-dir:/data" alpine sh -c "echo pwned > /data/hack.txt" 2>&1)
check_match "T3: write into a root-owned directory: Permission denied" 'Permission denied' "$out"
check_eq "T3: ... nothing was written on the host" "" "$(ls "$T/host-dir")"

# T4: the kernel's uid_map and gid_map, and the PID namespace.
docker run -d --name t4 alpine sleep 3600 >/dev/null
CPID=$(docker inspect --format '{{.State.Pid}}' t4)
check_match "T4: /proc/PID/uid_map is 0 400000 65536" '^ +0 +400000 +65536$' "$(cat "/proc/$CPID/uid_map")"
check_match "T4: /proc/PID/gid_map is 0 400000 65536" '^ +0 +400000 +65536$' "$(cat "/proc/$CPID/gid_map")"
check_match "T4: NSpid: PID 1 inside its namespace" "^NSpid:[[:space:]]+$CPID[[:space:]]+1$" "$(grep NSpid "/proc/$CPID/status")"
docker rm -f t4 >/dev/null

# T5: ghostboxd's own socket, mounted into a container, does not answer it.
check_match "T5: the socket is 0660, root-owned" '^srw-rw---- .* root ' "$(ls -la "$SOCK")"
check_match "T5: inside, the socket is visible but owned by nobody (overflow id)" '^srw-rw---- +1 nobody +no(body|group) ' \
        "$(docker run --rm -v "$SOCK:/var/run/docker.sock" alpine ls -la /var/run/docker.sock)"
out=$(docker run --rm -v "$SOCK:/var/run/docker.sock" curlimages/curl curl -s --unix-socket /var/run/docker.sock \
        http://localhost/version)
check_eq "T5: curl --unix-socket .../version from inside: empty output" "" "$out"
out=$(docker run --rm --userns=host -v "$SOCK:/var/run/docker.sock" curlimages/curl curl -s --unix-socket \
        /var/run/docker.sock http://localhost/version)
check_match "T5 (control): the same with --userns=host reaches the API (the check can fail)" '"ApiVersion"' "$out"

# T6: files created inside carry the remapped owner on the host.
mkdir "$T/container-write" && chown 400000:400000 "$T/container-write"
out=$(docker run --rm -v "$T/container-write:/data" alpine sh -c "echo 'hello from container' > /data/testfile.txt && ls -la /data/")
check_match "T6: inside, the file looks root-owned" 'root +root .* testfile.txt' "$out"
check_eq "T6: on the host it is 400000:400000" "400000:400000" "$(stat -c '%u:%g' "$T/container-write/testfile.txt")"

# T7: --privileged is refused; --userns=host is the explicit opt-out.
check_match "T7: baseline remapped" '^ +0 +400000 +65536$' "$(docker run --rm alpine cat /proc/self/uid_map)"
out=$(docker run --rm --privileged alpine cat /proc/self/uid_map 2>&1)
check_match "T7: --privileged refused by the daemon" 'Error response from daemon: .*privileged is incompatible with user namespace' "$out"
check_match "T7: --userns=host: the host's map (the one bypass)" '^ +0 +0 +4294967295$' \
        "$(docker run --rm --userns=host alpine cat /proc/self/uid_map)"
docker run -d --name webapp alpine sleep 300 >/dev/null
docker run -d --name buildagent --userns=host alpine sleep 300 >/dev/null
out=$(docker ps -q | xargs -I {} "$DOCKER" inspect {} --format '{{.Name}}: Privileged={{.HostConfig.Privileged}} UsernsMode={{.HostConfig.UsernsMode}}')
check_match "T7 audit: /webapp fully remapped" '^/webapp: Privileged=false UsernsMode=$' "$out"
check_match "T7 audit: /buildagent flagged UsernsMode=host" '^/buildagent: Privileged=false UsernsMode=host$' "$out"
docker rm -f webapp buildagent >/dev/null
done_testing
