#!/usr/bin/env bash
# Faults and concurrency: 50 parallel `run --rm` (default and --userns=auto
# mixed), racing names, SIGKILL of the CLI and of the monitor, and a full
# disk under the data root. Each must end in a clear error or a success,
# with no overlapping ranges, no leaked mount, process or state.
. "$(dirname "$0")/lib.sh"
require_root

GB_AUTO_POOL=8000000 GB_TIMEOUT=120
engine_env

# --- 50 parallel run --rm, mixed --------------------------------------------
for i in $(seq 1 50); do
        if [ $((i % 2)) -eq 0 ]; then mode=--userns=auto; else mode=; fi
        gb run --rm $mode "${R[@]}" sh -c 'cat /proc/self/uid_map; sleep 0.5' >"$T/par$i.out" 2>&1 &
done
wait
ok=0
for i in $(seq 1 50); do grep -qE '^ +0 +[0-9]+ +65536$' "$T/par$i.out" && ok=$((ok + 1)); done
check_eq "50 parallel run --rm all succeed" 50 "$ok"
bases=$(for i in $(seq 2 2 50); do awk '{print $2}' "$T/par$i.out"; done | sort -n)
check_eq "the 25 --userns=auto runs had 25 distinct ranges" 25 "$(uniq <<<"$bases" | wc -l)"
check_eq "... none overlapping each other" "" "$(awk 'NR>1 && $1-prev < 65536 {print} {prev=$1}' <<<"$bases")"
check_eq "... nor the default range" "" "$(grep -x 400000 <<<"$bases")"
check_eq "no container left" "" "$(gb ps -aq)"
check_eq "no mount left" 0 "$(grep -c " $T/" /proc/self/mountinfo)"
check_eq "no range left reserved" '{"reservations":[]}' "$(tr -d ' \n' <"$T/data/userns-auto.json")"
check_eq "no monitor left" "" "$(pgrep -f "ghostbox-monitor --data-root $T/data" || true)"

# --- racing names ----------------------------------------------------------
for i in $(seq 1 10); do gb create --name racer "${R[@]}" true >"$T/race$i.out" 2>&1 & done
wait
check_eq "10 creates racing for one name: exactly one wins" 1 "$(grep -lE '^[0-9a-f]{64}$' "$T"/race*.out | wc -l)"
check_eq "... the others get Docker's conflict message" 9 "$(grep -l 'is already in use' "$T"/race*.out | wc -l)"
check_eq "... and leave nothing behind" 1 "$(gb ps -aq | wc -l)"
gb rm racer >/dev/null

# --- SIGKILL of the CLI while the container runs -----------------------------
gb run --name cli-killed "${R[@]}" sleep 300 >/dev/null 2>&1 &
cli=$!
for _ in $(seq 100); do gb inspect -f '{{.State.Running}}' cli-killed 2>/dev/null | grep -q true && break; sleep 0.05; done
kill -9 $cli
wait $cli 2>/dev/null
check_match "CLI killed: the container keeps running under its monitor" 'Up' "$(gb ps)"
check "... and stops normally" gb stop -t 1 cli-killed
check_match "... with its exit recorded" 'Exited \(137\)' "$(gb ps -a)"
gb rm cli-killed >/dev/null

# --- SIGKILL of the CLI in the middle of create --------------------------------
for i in $(seq 1 10); do
        gb run -d --name mid$i "${R[@]}" sleep 300 >/dev/null 2>&1 &
        p=$!
        sleep 0.00$i
        kill -9 $p 2>/dev/null
        wait $p 2>/dev/null
done
sleep 0.3
for c in $(gb ps -aq); do gb rm -f "$c" >/dev/null 2>&1; done
check_eq "after CLIs killed mid-create, rm -f cleans every container" "" "$(gb ps -aq)"
check_eq "... no mount left" 0 "$(grep -c " $T/data" /proc/self/mountinfo)"
check "... and the engine still runs containers" gb run --rm "${R[@]}" true

# --- a full disk under the data root ------------------------------------------
mkdir -p "$T/small"
mount -t tmpfs -o size=1m tmpfs "$T/small"
at_exit "umount -l '$T/small'"
S=("$GHOSTBOX" --data-root "$T/small/data" --exec-root "$T/small/run" --userns-remap root)
"${S[@]}" create --name keeper "${R[@]}" true >/dev/null
before=$(cat "$T"/small/data/*/containers/*/container.json)
dd if=/dev/zero of="$T/small/fill" bs=64k 2>/dev/null
out=$("${S[@]}" create --name newbie "${R[@]}" true 2>&1); rc=$?
check_eq "full disk: create fails with the engine's code" 125 $rc
check_match "full disk: the error says so" 'No space left on device' "$out"
check_eq "full disk: no half-created container" "1" "$("${S[@]}" ps -aq | wc -l)"
check_eq "full disk: the old record is intact" "$before" "$(cat "$T"/small/data/*/containers/*/container.json)"
rm -f "$T/small/fill"
check "space back: rm works" "${S[@]}" rm keeper
check_eq "full disk: no mount left below the small data root" 0 "$(grep -c " $T/small/" /proc/self/mountinfo)"

# Started with stdin, stdout or stderr closed (a cron job, a CI runner, a
# daemon's child): the next pipe or socket would take the free number; the
# monitor once lost its signalfd that way and spun at 100% CPU, forever.
check_eq "stdin closed: run --rm still runs and answers" hi "$(timeout -k 5 20 "${G[@]}" run --rm "${R[@]}" echo hi <&-)"
check_eq "stdout closed: the exit code still comes back" 3 "$(timeout -k 5 20 "${G[@]}" run --rm "${R[@]}" sh -c 'exit 3' >&-; echo $?)"
id=$(timeout -k 5 20 "${G[@]}" run -d "${R[@]}" sleep 30 <&- 2>&-)
check_eq "stdin and stderr closed: run -d starts it" running "$(gb inspect -f '{{.State.Status}}' "$id" 2>&1)"
gb rm -f "$id" >/dev/null 2>&1

done_testing
