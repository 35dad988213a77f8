#!/usr/bin/env bash
# clients.sh CLIENTS PER CMD...: run CMD PER times back to back in each of
# CLIENTS parallel clients (bench/run.sh's throughput scenario; hyperfine
# times the whole batch). "@ID@" in CMD becomes a unique container name.
# Fails if any run fails, so a broken peer never counts as fast.
set -u
clients=$1 per=$2
shift 2
pids=()
for ((c = 1; c <= clients; c++)); do
        (
                for ((i = 1; i <= per; i++)); do
                        "${@//@ID@/tp-$$-$c-$i}" >/dev/null 2>&1 </dev/null || {
                                echo "clients.sh: run $i of client $c failed: $*" >&2
                                exit 1
                        }
                done
        ) &
        pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit $rc
