#!/usr/bin/env bash
# clients.sh CLIENTS PER CMD...: run CMD PER times back to back in each of
# CLIENTS parallel clients (bench/run.sh's throughput scenario; hyperfine
# times the whole batch). "@ID@" in CMD becomes a unique container name.
# Fails if any run fails or hangs (GB_CLIENT_TIMEOUT seconds, default 60),
# so a broken peer never counts as fast.
set -u
clients=$1 per=$2
shift 2
limit=${GB_CLIENT_TIMEOUT:-60}
pids=()
# hyperfine discards our stderr: also leave the reason in GB_CLIENT_LOG.
msg() {
        echo "$*" >&2
        [ -z "${GB_CLIENT_LOG:-}" ] || echo "$*" >>"$GB_CLIENT_LOG"
}
for ((c = 1; c <= clients; c++)); do
        (
                for ((i = 1; i <= per; i++)); do
                        timeout -s KILL "$limit" "${@//@ID@/tp-$$-$c-$i}" >/dev/null 2>&1 </dev/null
                        rc=$?
                        if [ $rc -eq 137 ]; then
                                msg "clients.sh: run $i of client $c hung for ${limit}s and was killed: $1"
                                exit 1
                        elif [ $rc -ne 0 ]; then
                                msg "clients.sh: run $i of client $c exited $rc: $1"
                                exit 1
                        fi
                done
        ) &
        pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit $rc
