# Helpers for the ghostbox-runtime tests (20-runtime-*.sh); source after
# lib.sh. Each test has its own state root and bundles below $T.
RT_ROOT=$T/state
rt() { "$GB_RUNTIME" --root "$RT_ROOT" "$@"; }
# For commands that leave a container process running (create, run
# --detach, exec --detach): its stdio must not be a pipe the test waits on.
rt_bg() { "$GB_RUNTIME" --root "$RT_ROOT" "$@" </dev/null >>"$T/container.out" 2>&1 || { cat "$T/container.out"; return 1; }; }

# rt_bundle DIR: a busybox rootfs and the default config.json of `spec`.
rt_bundle() {
        mkdir -p "$1"
        make_busybox_rootfs "$1/rootfs"
        (cd "$1" && "$GB_RUNTIME" spec) || return 1
}

# rt_cfg DIR PYTHON...: edit DIR/config.json; the code sees it as `c`.
rt_cfg() {
        local d=$1
        shift
        python3 - "$d/config.json" "$@" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
for code in sys.argv[2:]:
    exec(code)
json.dump(c, open(p, "w"), indent=1)
PY
}

# rt_args DIR ARG...: set process.args.
rt_args() {
        local d=$1
        shift
        python3 - "$d/config.json" "$@" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = sys.argv[2:]
json.dump(c, open(p, "w"), indent=1)
PY
}

# Kill every container left under $RT_ROOT (trap).
rt_cleanup() {
        local id
        for id in $(ls "$RT_ROOT" 2>/dev/null); do
                "$GB_RUNTIME" --root "$RT_ROOT" delete --force "$id" >/dev/null 2>&1
        done
}
at_exit rt_cleanup
