#!/usr/bin/env bash
# Install the Debian packages ghostbox needs to build and test. Idempotent:
# apt runs only when something is missing, and then `apt-get update` first.
# Usage: scripts/deps.sh [build|demo|test|bench]   (default: test, which includes build)
set -euo pipefail

build_pkgs=(gcc make meson ninja-build pkg-config
            libjansson-dev libarchive-dev libseccomp-dev libcap-dev libsubid-dev
            libmicrohttpd-dev)
test_pkgs=(libcmocka-dev busybox-static clang libclang-rt-14-dev zstd
           passwd login util-linux procps iproute2 curl ca-certificates
           clang-format cppcheck containerd jq libcap2-bin python3 python3-docker bc
           docker.io  # the docker CLI (/usr/bin/docker) for ghostboxd's tests; dockerd is never started
           docker-compose)  # compose v1 (python), driven against ghostboxd by 84-network
bench_pkgs=(hyperfine jq crun runc podman conmon docker.io containerd iptables linux-perf valgrind strace)

want=("${build_pkgs[@]}")
case "${1:-test}" in
build) ;;
demo) want+=(busybox-static) ;;
test) want+=("${test_pkgs[@]}") ;;
bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
*) echo "usage: $0 [build|demo|test|bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
                missing+=("$p")
        fi
done
if [ ${#missing[@]} -eq 0 ]; then
        exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing packages (${missing[*]}); run as root to install them" >&2
        exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Packages such as containerd and docker.io start their system daemons on
# install; the tests and the bench start their own instances and never want
# those. A temporary policy-rc.d (Debian's switch for that) keeps them off.
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=1
fi
trap '[ -z "$own_policy" ] || rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# docker.io's postinst enables and starts dockerd and containerd: ghostboxd's
# tests only use its CLI, and a running dockerd would be a second engine.
if printf '%s\n' "${missing[@]}" | grep -qx docker.io; then
        systemctl disable --now docker.socket docker >/dev/null 2>&1 || true
        systemctl stop containerd >/dev/null 2>&1 || true
fi
