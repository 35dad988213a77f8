#!/usr/bin/env bash
# Failures leave nothing behind (no state dir, no process, no mount) and
# name the config field; delete --force cleans half-created containers;
# unimplemented fields are warned about, never silently dropped.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/runtime-lib.sh"

B=$T/b
rt_bundle "$B"
cp "$B/config.json" "$T/good.json"

# nothing_left NAME: no state dir, no process of this test's root, no mount.
nothing_left() {
        local leftover
        leftover=$(ls "$RT_ROOT" 2>/dev/null; pgrep -f -- "--root $RT_ROOT" 2>/dev/null)
        check_eq "$1: no state dir and no process left" "" "$leftover"
        # (Other tests may mount elsewhere meanwhile: look at ours only.)
        check_eq "$1: no mount left on the host" 0 "$(grep -c "$T" /proc/self/mountinfo)"
}
fail_case() { # NAME EXPECTED-REGEX PYTHON-EDIT...
        local name=$1 re=$2 out rc
        shift 2
        cp "$T/good.json" "$B/config.json"
        rt_cfg "$B" "$@"
        out=$(cd "$B" && rt run "f$RANDOM" 2>&1)
        rc=$?
        check_eq "$name: exit code 1" 1 "$rc"
        check_match "$name: error names the field" "$re" "$out"
        nothing_left "$name"
}

fail_case "invalid uid type" "config.json: process.user.uid: expected an unsigned integer" \
        'c["process"]["user"]["uid"] = "root"'
fail_case "missing args" "config.json: process.args: required field missing" 'del c["process"]["args"]'
fail_case "unknown capability" "process.capabilities.bounding\[0\]: unknown capability 'CAP_FLY'" \
        'c["process"]["capabilities"]["bounding"] = ["CAP_FLY"]'
fail_case "relative mount destination" "mounts\[0\].destination: 'proc' must be an absolute path" \
        'c["mounts"][0]["destination"] = "proc"'
fail_case "overlapping uid ranges" "linux.uidMappings\[1\]: hostID range overlaps" \
        'c["linux"]["uidMappings"].append({"containerID": 70000, "hostID": c["linux"]["uidMappings"][0]["hostID"] + 5, "size": 10})'
# ...and failures after the container's init exists:
fail_case "missing executable (after clone)" "process.args\[0\]: 'nosuch' not found" 'c["process"]["args"] = ["nosuch"]'
fail_case "missing bind source (in the child)" "mounts\[[0-9]+\]: Failed to bind '/nonexistent/src'" \
        'c["mounts"].append({"destination": "/x", "type": "bind", "source": "/nonexistent/src", "options": ["bind"]})'
fail_case "non-namespaced sysctl (after mounts)" "linux.sysctl.vm.swappiness: Failed to write" \
        'c["linux"]["sysctl"] = {"vm.swappiness": "10"}'
fail_case "bad cwd (last step before exec)" "process.cwd: Failed to chdir to '/nonexistent'" \
        'c["process"]["cwd"] = "/nonexistent"'
fail_case "bad tmpfs option" "mounts\[[0-9]+\]: Failed to mount tmpfs on '/t'" \
        'c["mounts"].append({"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["size=bogus"]})'

# Warnings name fields ghostbox does not act on.
cp "$T/good.json" "$B/config.json"
rt_cfg "$B" 'c["linux"]["resources"] = {"memory": {"limit": 1000000}}; c["linux"]["cgroupsPath"] = "/x"' \
        'c["fancy"] = 1; c["hooks"] = {"prestart": [{"path": "/bin/true"}]}' 'c["process"]["args"] = ["true"]'
out=$(cd "$B" && rt run w1 2>&1)
check_match "linux.resources is warned about by name" "linux.resources: cgroup limits are not applied yet" "$out"
check_match "cgroupsPath is warned about" "linux.cgroupsPath" "$out"
check_match "hooks are warned about" "hooks: not run yet" "$out"
check_match "an unknown field is warned about" "fancy: unknown field" "$out"
cp "$T/good.json" "$B/config.json"

# An existing ID, a half-created container and a created one.
rt_args "$B" sleep 1000
rt_bg create --bundle "$B" dup
check_match "create with an existing ID fails" "container with id exists: dup" "$(rt create --bundle "$B" dup 2>&1)"
check_eq "... and leaves the first one alone" created "$(rt state dup | jq -r .status)"
check "delete (no force) removes a created container" rt delete dup
check_fails "its init is gone" pgrep -f -- "--root $RT_ROOT create"
mkdir -p "$RT_ROOT/half"
check_eq "a half-created container is in state creating" creating "$(rt state half | jq -r .status)"
check_fails "delete without --force refuses it" rt delete half
check "delete --force removes it" rt delete --force half
# A create killed after the init was set up but before state.json was
# written: simulated by removing state.json of a created container.
rt_bg create --bundle "$B" crashed
cpid=$(rt state crashed | jq -r .pid)
rm "$RT_ROOT/crashed/state.json"
check_eq "a create that died before saving its state is 'creating'" creating "$(rt state crashed | jq -r .status)"
check "delete --force cleans it" rt delete --force crashed
for _ in $(seq 50); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.05; done
check_fails "... including its waiting init" kill -0 "$cpid"
rt_bg run --detach --bundle "$B" running1
check "delete --force kills and removes a running container" rt delete --force running1
check "delete --force of a missing container succeeds (as runc)" rt delete --force nosuch
nothing_left "after the lifecycle failures"
done_testing
