#!/usr/bin/env bash
# ghostbox check: passes on a correct setup, fails the right rows when the
# protection is removed, and leaves nothing behind (also on Ctrl-C).
# Uses the real default remap user (ghostremap, created if missing, as the
# README's first command does) with a throwaway data root.
. "$(dirname "$0")/lib.sh"
require_root

export GHOSTBOX_CONFIG=$T/none.json
G=("$GHOSTBOX" --data-root "$T/data" --exec-root "$T/run")
gb() { timeout 120 "${G[@]}" "$@"; }

out=$(gb check); rc=$?
check_eq "check passes on a remapped engine" 0 $rc
[ $rc -eq 0 ] || diag "$out"
for t in T1 T2 T3 T4 T5 T6 T7 C1 C2 C3 C4 C5 C6; do
        check_match "$t row present and PASS" "^$t .* PASS " "$out"
done
json=$(gb check --json)
check_eq "--json has 13 rows, all passing" "13 13" \
        "$(jq length <<<"$json") $(jq '[.[] | select(.Pass)] | length' <<<"$json")"

# Remapping off: the isolation tests must fail (and the check must say so).
out=$(gb --userns-remap "" check); rc=$?
check_eq "check exits non-zero with remapping off" 1 $rc
for t in T1 T2 T3 T4 T6 T7; do
        check_match "remapping off: $t FAILS" "^$t .* FAIL " "$out"
done
check_match "remapping off: T1 sees host uid 0" 'host uid 0$' "$out"

check_eq "no containers left" "" "$(gb ps -aq)"
check_eq "no test files left" "" "$(ls -d /tmp/ghostbox-check-* 2>/dev/null)"
check_eq "no mounts left" 0 "$(grep -c " $T/" /proc/self/mountinfo)"

# Ctrl-C in the middle: still cleans up.
"${G[@]}" check >/dev/null 2>&1 &
pid=$!
# Interrupt once it is under way (its temp dir exists, its handler is set).
for _ in $(seq 200); do ls -d /tmp/ghostbox-check-* >/dev/null 2>&1 && break; sleep 0.01; done
kill -INT $pid
wait $pid
check_eq "interrupted check exits 1 (not killed by the signal)" 1 $?
check_eq "interrupted: no containers left" "" "$(gb ps -aq)"
check_eq "interrupted: no test files left" "" "$(ls -d /tmp/ghostbox-check-* 2>/dev/null)"

done_testing
