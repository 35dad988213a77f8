#!/usr/bin/env bash
# ghostbox audit: one row per container, and a non-zero exit for each
# --fail-on rule when (and only when) a container breaks it.
. "$(dirname "$0")/lib.sh"
require_root

engine_env
ALL=privileged,userns-host,socket-mount,host-write

gb run -d --name clean -v vol:/data -v "$T:/ro:ro" "${R[@]}" sleep 300 >/dev/null
out=$(gb audit --fail-on $ALL); rc=$?
check_eq "only safe containers: audit passes every rule" 0 $rc
check_match "a row per container with its uid map" '^clean +remapped +no +0 400000 65536 +-$' "$out"

mkdir -p "$T/hostw"
gb run -d --name hostns --userns=host "${R[@]}" sleep 300 >/dev/null
gb run -d --name priv --privileged --userns=host "${R[@]}" sleep 300 >/dev/null
# A real listening unix socket, as any engine's API socket is.
sock=$T/api.sock
perl -MIO::Socket::UNIX -e '$s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $ARGV[0], Listen => 1) or die; sleep 300' "$sock" &
at_exit "kill $!"
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.05; done
check "test socket is listening" test -S "$sock"
gb run -d --name sock -v "$sock:/var/run/engine.sock" "${R[@]}" sleep 300 >/dev/null
gb run -d --name writer -v "$T/hostw:/w" "${R[@]}" sleep 300 >/dev/null

for rule in privileged userns-host socket-mount host-write; do
        gb audit --fail-on $rule >/dev/null 2>&1
        check_eq "--fail-on $rule: exits 1" 1 $?
done
out=$(gb audit)
check_eq "without --fail-on audit only reports (exit 0)" 0 $?
check_match "userns=host row" '^hostns +host +no +0 0 4294967295 +no user namespace' "$out"
check_match "privileged row" '^priv +host +yes ' "$out"
check_match "socket row" '^sock .*socket mounted: ' "$out"
check_match "host-write row" "^writer .*writable host path: $T/hostw" "$out"
check_eq "--json gives one object per running container" 5 "$(gb audit --json | jq length)"
gb rm -f priv hostns sock writer >/dev/null
gb audit --fail-on $ALL >/dev/null
check_eq "after removing them: passes again" 0 $?
check_fails "unknown rule is an error" gb audit --fail-on nonsense

done_testing
