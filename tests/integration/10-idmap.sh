#!/usr/bin/env bash
# ghostbox idmap show / host-id / container-id and ghostbox info, on
# throwaway /etc/subuid and /etc/subgid copies and a throwaway daemon.json.
# `default` here grants ranges in the throwaway files; it may create the real
# ghostremap user (idempotent, as the engine itself would).
. "$(dirname "$0")/lib.sh"
require_root

export GHOSTBOX_SUBUID_FILE=$T/subuid GHOSTBOX_SUBGID_FILE=$T/subgid
export GHOSTBOX_CONFIG=$T/daemon.json
G=$GHOSTBOX

printf '# throwaway\nroot:231072:65536\n' >"$T/subuid"
cp "$T/subuid" "$T/subgid"
echo '{"userns-remap": "root"}' >"$T/daemon.json"

out=$("$G" idmap show 2>&1)
check_match "show: remap user from daemon.json" "^Remap user: +root \(uid 0\)" "$out"
check_eq "show: exact map lines for both maps" "0 231072 65536
0 231072 65536" "$(grep -E '^[0-9]+ [0-9]+ [0-9]+$' <<<"$out")"
check_match "show: names the file and line of the range" "line 2 +root:231072:65536" "$out"

json=$("$G" idmap show --json)
check_eq "show --json: uid_map" "0 231072 65536" "$(jq -r .uid_map <<<"$json" | head -1)"
check_eq "show --json: range line" "2" "$(jq -r '.uid_ranges[0].line' <<<"$json")"
check_eq "show --json: no warnings" "0" "$(jq '.warnings | length' <<<"$json")"

# A range that holds a real account's ID: container root could act as it.
printf 'root:1:65536\n' >"$T/subuid-overlap"
json=$(GHOSTBOX_SUBUID_FILE=$T/subuid-overlap GHOSTBOX_SUBGID_FILE=$T/subuid-overlap "$G" idmap show --json)
check_match "a range over a real user: warned, naming user, file and container ID" \
        "host UID 1 is 'daemon' in '/etc/passwd'.*container UID 0 acts as that user" "$(jq -r '.warnings[]' <<<"$json")"
check_match "... and the group too" "host GID 1 is 'daemon' in '/etc/group'" "$(jq -r '.warnings[]' <<<"$json")"

# The seeds' arithmetic through the CLI.
check_eq "host-id 0" "231072" "$("$G" idmap host-id 0)"
check_eq "host-id 33" "231105" "$("$G" idmap host-id 33)"
check_eq "host-id --gid 1000" "232072" "$("$G" idmap host-id --gid 1000)"
check_eq "host-id 65535" "296607" "$("$G" idmap host-id 65535)"
check_eq "container-id 231105" "33" "$("$G" idmap container-id 231105)"
check_eq "container-id --gid 296607" "65535" "$("$G" idmap container-id --gid 296607)"
out=$("$G" idmap host-id 65536 2>&1); rc=$?
check_eq "host-id 65536 is unmapped (exit 1)" "1" "$rc"
check_match "host-id 65536 says unmapped" "container UID 65536 is unmapped" "$out"
out=$("$G" idmap container-id 1000 2>&1); rc=$?
check_eq "container-id 1000 is unmapped (exit 1)" "1" "$rc"
check_match "container-id 1000 shows as 65534" "host UID 1000 is unmapped.*65534 \(nobody\)" "$out"
check_fails "host-id rejects a non-number" "$G" idmap host-id abc

# Flags override daemon.json; "" turns remapping off.
out=$("$G" --userns-remap "" idmap show)
check_match "--userns-remap '' is off" "remapping: off" "$out"
check_eq "off: IDs are the host's" "1000" "$("$G" --userns-remap "" idmap host-id 1000)"
echo '{"userns-remap": ""}' >"$T/daemon.json"
check_match "daemon.json '' is off" "remapping: off" "$("$G" idmap show)"

# Multi-range, in file order, with another owner in between.
printf 'root:200000:20\nbin:210000:1000\n0:250000:65516\n' >"$T/subuid"
cp "$T/subuid" "$T/subgid"
out=$("$G" --userns-remap 0:0 idmap show)
check_eq "multi-range map" "0 200000 20
20 250000 65516" "$(sed -n '/^uid_map/,/^gid_map/p' <<<"$out" | grep -E '^[0-9]')"
check_eq "multi-range host-id 20" "250000" "$("$G" --userns-remap root idmap host-id 20)"

# Validation reports.
printf 'root:100000:1000\nbin:100500:65536\n' >"$T/subuid"
cp "$T/subuid" "$T/subgid"
out=$("$G" --userns-remap root idmap show)
check_match "warns: overlap names both lines" "line 1 \(root:100000:1000\) overlaps line 2 \(bin:100500:65536\)" "$out"
check_match "warns: short range names highest mapped ID" "highest container UID with a host UID is 999" "$out"

# Errors name the file to fix.
out=$("$G" --userns-remap no-such-user-gb idmap show 2>&1); rc=$?
check_eq "unknown user exits 125" "125" "$rc"
check_match "unknown user names /etc/passwd" "no user 'no-such-user-gb' in /etc/passwd" "$out"
out=$("$G" --userns-remap daemon idmap show 2>&1)
check_match "missing range names the subuid file" "no range for user 'daemon' in '$T/subuid'" "$out"
printf 'root:1:2\nroot:x:2\n' >"$T/subuid"
out=$("$G" --userns-remap root idmap show 2>&1)
check_match "bad line names file and line" "'$T/subuid' line 2: the start field 'x'" "$out"
printf 'root:100000:65536\r\n' >"$T/subuid"
check_match "CRLF names file and line" "'$T/subuid' line 1: carriage return" "$("$G" --userns-remap root idmap show 2>&1)"

# daemon.json errors.
printf '{\n  "userns-remap": "root",\n  "data-root": "/x"\n  "exec-root": "/y"\n}\n' >"$T/daemon.json"
out=$("$G" idmap show 2>&1); rc=$?
check_eq "malformed daemon.json exits 125" "125" "$rc"
check_match "malformed daemon.json: file, line, column" "'$T/daemon.json' line 4 column" "$out"
echo '{"userns_remap": "root"}' >"$T/daemon.json"
check_match "unknown key named" 'unknown key "userns_remap"' "$("$G" idmap show 2>&1)"
echo '{"hosts": "unix:///x"}' >"$T/daemon.json"
check_match "wrong type named" '"hosts" must be an array' "$("$G" idmap show 2>&1)"
check_match "--config overrides GHOSTBOX_CONFIG" "Remap user: +root" \
        "$(echo '{"userns-remap": "root"}' >"$T/other.json"; printf 'root:231072:65536\n' >"$T/subuid";
           "$G" --config "$T/other.json" idmap show 2>&1)"

# `default` against throwaway files: grants ghostremap a range, prints it,
# changes nothing the second time, keeps the other lines.
printf '# keep\nalice:100000:65536\n' >"$T/subuid"
printf 'alice:100000:65536\nbob:165536:65536\n' >"$T/subgid"
chmod 0600 "$T/subgid"
rm -f "$T/daemon.json"
out=$("$G" idmap show 2>&1)
check_match "default: ghostremap user" "^Remap user: +ghostremap" "$out"
check_eq "default: same free base in both maps" "0 231072 65536
0 231072 65536" "$(grep -E '^[0-9]+ [0-9]+ [0-9]+$' <<<"$out")"
check_eq "default: subuid keeps other lines" "# keep
alice:100000:65536
ghostremap:231072:65536" "$(cat "$T/subuid")"
check_eq "default: subgid keeps other lines" "alice:100000:65536
bob:165536:65536
ghostremap:231072:65536" "$(cat "$T/subgid")"
check_eq "default: subgid mode kept" "600" "$(stat -c %a "$T/subgid")"
sum1=$(md5sum "$T/subuid" "$T/subgid" /etc/passwd /etc/group)
"$G" idmap show >/dev/null 2>&1
check_eq "default: second run changes nothing" "$sum1" "$(md5sum "$T/subuid" "$T/subgid" /etc/passwd /etc/group)"

# Several at once on fresh files: one line each, no overlap.
: >"$T/subuid"
: >"$T/subgid"
pids=()
for i in 1 2 3 4 5 6; do
        "$G" idmap show >"$T/par.$i" 2>&1 &
        pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
check_eq "concurrent default: all succeed" "0" "$rc"
check_eq "concurrent default: one subuid line" "ghostremap:100000:65536" "$(cat "$T/subuid")"
check_eq "concurrent default: one subgid line" "ghostremap:100000:65536" "$(cat "$T/subgid")"
check_eq "concurrent default: all print the same map" "1" \
        "$(cat "$T"/par.* | grep -E '^0 [0-9]+ 65536$' | sort -u | wc -l)"

# info.
printf 'root:231072:65536\n' >"$T/subuid"
cp "$T/subuid" "$T/subgid"
echo '{"userns-remap": "root", "data-root": "'"$T"'/data"}' >"$T/daemon.json"
out=$("$G" info)
check_match "info: version" "^Version: +[0-9]" "$out"
check_match "info: data root" "^Data root: +$T/data" "$out"
check_match "info: map line" "uid_map: +0 231072 65536" "$out"
check_match "info: user namespaces" "User namespaces: +enabled" "$out"
check_match "info: idmapped mounts" "Idmapped mounts: +supported" "$out"
check_match "info: max map lines" "Max ID map lines: 340" "$out"
json=$("$G" info --format json)
check_eq "info json: remap root uid" "231072" "$(jq -r .userns_remap.root_uid <<<"$json")"
check_eq "info json: idmapped mounts" "true" "$(jq -r .kernel.idmapped_mounts <<<"$json")"
check_eq "info json: max map lines" "340" "$(jq -r .kernel.max_map_lines <<<"$json")"
check_eq "info json: data root" "$T/data" "$(jq -r .data_root <<<"$json")"

# --help everywhere.
for c in "idmap" "idmap show" "idmap host-id" "idmap container-id" "info"; do
        # shellcheck disable=SC2086
        check_match "$c --help" "^Usage: ghostbox $c" "$("$G" $c --help)"
done

done_testing
