# Shared helpers for integration tests. Source it first thing:
#     . "$(dirname "$0")/lib.sh"
# Every test file prints TAP ("ok N - name" / "not ok N - name"); the runner
# counts the lines. Each file gets its own temp dir $T, removed on exit with
# every mount below it, even on failure.
set -u

GB_TOP=${GB_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
GB_BUILD=${GB_BUILD:-$GB_TOP/build}
GHOSTBOX=$GB_BUILD/src/cli/ghostbox
GB_RUNTIME=$GB_BUILD/src/runtime/ghostbox-runtime
BUSYBOX=${BUSYBOX:-/bin/busybox}

_t_n=0
_t_cleanups=()

T=$(mktemp -d /tmp/gb-it.XXXXXX)
chmod 0755 "$T"

# Register a shell command to run at exit (last registered runs first).
at_exit() { _t_cleanups+=("$*"); }

_t_exit() {
        local i
        for ((i = ${#_t_cleanups[@]} - 1; i >= 0; i--)); do
                eval "${_t_cleanups[$i]}" >/dev/null 2>&1 || true
        done
        # Unmount anything a failed test left below $T, deepest first.
        grep -F " $T" /proc/self/mountinfo 2>/dev/null | awk '{print $5}' | sort -r |
                while read -r m; do umount -l "$m" 2>/dev/null; done
        rm -rf "$T"
}
trap _t_exit EXIT
trap 'exit 130' INT TERM

ok() { _t_n=$((_t_n + 1)); echo "ok $_t_n - $*"; }
not_ok() { _t_n=$((_t_n + 1)); echo "not ok $_t_n - $*"; }
skip() { _t_n=$((_t_n + 1)); echo "ok $_t_n - # SKIP $*"; }
diag() { printf '# %s\n' "$@" | sed 's/^# $/#/'; }

# check NAME CMD...: ok when CMD succeeds; on failure show its output.
check() {
        local name=$1 out
        shift
        if out=$("$@" 2>&1); then
                ok "$name"
        else
                not_ok "$name"
                diag "command: $*" "$out"
        fi
}

# check_fails NAME CMD...: ok when CMD fails (and prints the output as diag).
check_fails() {
        local name=$1 out
        shift
        if out=$("$@" 2>&1); then
                not_ok "$name"
                diag "expected failure, but it succeeded: $*" "$out"
        else
                ok "$name"
        fi
}

# wait_until CMD...: run CMD every 50 ms until it succeeds, for up to 10 s
# (the state a check looks at may take a moment under load); returns CMD's
# last status, so the check after it still sees a failure.
wait_until() {
        local i
        for i in $(seq 200); do
                "$@" >/dev/null 2>&1 && return 0
                sleep 0.05
        done
        "$@" >/dev/null 2>&1
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
        if [ "$2" = "$3" ]; then
                ok "$1"
        else
                not_ok "$1"
                diag "expected: $2" "actual:   $3"
        fi
}

# check_match NAME REGEX TEXT (grep -E)
check_match() {
        if grep -qE -- "$2" <<<"$3"; then
                ok "$1"
        else
                not_ok "$1"
                diag "no match for /$2/ in:" "$3"
        fi
}

# make_busybox_rootfs DIR: a minimal root filesystem from busybox-static, with
# an /etc/passwd that has root, www-data (33) and nobody.
make_busybox_rootfs() {
        BUSYBOX=$BUSYBOX bash "$GB_TOP/scripts/busybox-image.sh" --dir "$1"
}

# engine_env: what the engine tests share. A busybox root at $T/rootfs
# (R=(--rootfs ...)), throwaway subuid/subgid files (remap user root at
# 400000+65536, the --userns=auto pool "ghostbox-auto" at 1000000, size
# $GB_AUTO_POOL), a data and exec root under $T, G=(ghostbox with those),
# and every container removed at exit.
engine_env() {
        make_busybox_rootfs "$T/rootfs"
        printf 'root:400000:65536\nghostbox-auto:1000000:%s\n' "${GB_AUTO_POOL:-2000000}" >"$T/subuid"
        cp "$T/subuid" "$T/subgid"
        export GHOSTBOX_SUBUID_FILE=$T/subuid GHOSTBOX_SUBGID_FILE=$T/subgid GHOSTBOX_CONFIG=$T/none.json
        G=("$GHOSTBOX" --data-root "$T/data" --exec-root "$T/run" --userns-remap root)
        R=(--rootfs "$T/rootfs")
        at_exit 'for c in $("${G[@]}" ps -aq --no-trunc 2>/dev/null); do "${G[@]}" rm -f "$c"; done'
}

# gb ARGS: ghostbox with the engine_env roots, under a timeout.
gb() { timeout "${GB_TIMEOUT:-60}" "${G[@]}" "$@"; }

require_root() {
        if [ "$(id -u)" -ne 0 ]; then
                echo "1..0 # SKIP needs root"
                exit 0
        fi
}

done_testing() { echo "1..$_t_n"; }

# on_tty 'COMMANDS': run shell commands on a fresh pty (script(1)), stdin at
# EOF, and print their output without the CRs. Put client commands that set
# raw mode under $TTY_TIMEOUT, not a plain timeout: timeout makes a process
# group of its own, and a client that calls tcsetattr from a background group
# is stopped by SIGTTOU until the timeout kills it -- unless the shell exec'd
# timeout, leaving its group orphaned (bash -c does, dash -c does not). SHELL
# is fixed so that the shell script(1) starts is the same on every machine.
TTY_TIMEOUT="timeout --foreground -k 5 30"
on_tty() { SHELL=/bin/sh script -qec "$1" /dev/null </dev/null | tr -d '\r'; }
# on_tty_typed 'TEXT' 'COMMANDS': the same, with TEXT typed on the terminal a
# second after the start and the terminal kept open 2 s more (an interactive
# user: stdin is not at EOF while the client sets raw mode).
on_tty_typed() {
        { sleep 1; printf '%s' "$1"; sleep 2; } | SHELL=/bin/sh script -qec "$2" /dev/null | tr -d '\r'
}

# gbd_env: engine_env plus a busybox image and a ghostboxd of the test's own
# on $SOCK (not started: call start_gbd), with DOCKER_HOST pointing at it.
# Defines start_gbd/stop_gbd (stopped at exit), api/code (curl on the
# socket; code prints the status, the body goes to $T/body), d (the docker
# CLI with a SIGKILL 5 s after its SIGTERM: docker CLI 25+ takes a lone
# SIGTERM as "cancel" and may go on waiting) and dump_state (the daemon's
# log, the containers' states and the processes, for a failed check).
gbd_env() {
        DOCKER=${DOCKER:-$(command -v docker || true)}
        GBD=$GB_BUILD/src/daemon/ghostboxd
        engine_env
        tar --numeric-owner -C "$T/rootfs" -cf "$T/busybox.tar" .
        gb import "$T/busybox.tar" busybox >/dev/null
        SOCK=$T/ghostbox.sock
        export DOCKER_HOST=unix://$SOCK DOCKER_CONFIG=$T/docker-config
        GBD_PID=
        at_exit 'stop_gbd'
}
start_gbd() {
        "$GBD" -H "unix://$SOCK" --data-root "$T/data" --exec-root "$T/run" --userns-remap root \
                >>"$T/gbd.log" 2>&1 &
        GBD_PID=$!
        for _ in $(seq 100); do
                [ -S "$SOCK" ] && curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null && return 0
                sleep 0.05
        done
        return 1
}
stop_gbd() { [ -n "$GBD_PID" ] && kill "$GBD_PID" 2>/dev/null && wait "$GBD_PID" 2>/dev/null; GBD_PID=; }
api() { curl -s --max-time 30 --unix-socket "$SOCK" "$@"; }
code() { curl -s -o "$T/body" -w '%{http_code}' --max-time 30 --unix-socket "$SOCK" "$@"; }
d() { timeout -k 5 60 "$DOCKER" "$@"; }
dump_state() {
        diag "ghostboxd log (tail):"
        tail -n 30 "$T/gbd.log" | sed 's/^/#   /'
        diag "containers:"
        for r in "$T"/data/containers/*/container.json; do
                [ -f "$r" ] && jq -c '{Name, State: .State | {Status, ExitCode, Error}}' "$r" 2>/dev/null | sed 's/^/#   /'
        done
        ps -eo pid,ppid,stat,wchan:20,args | grep -E 'ghostbox|docker' | grep -v grep | sed 's/^/#   /'
}
