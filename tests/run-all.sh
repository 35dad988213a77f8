#!/usr/bin/env bash
# Runs every suite and counts each TAP case:
#   unit        cmocka binaries (one per module), gcc build with --werror
#   fuzz        corpus replay through every fuzz target
#   integration tests/integration/*.sh as root, real containers
#   sanitize    unit tests again under clang ASan+UBSan
#   fuzz-run    libFuzzer for GB_FUZZ_SECONDS per target (when > 0)
#   cppcheck    warnings are failures
#   style       clang-format on every C file
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
pass=0
fail=0
failed_names=()
skipped_names=() # "# SKIP" results: neither passed nor failed, listed at the end

# Read TAP on stdin, echo it, count. $1 names the suite for the summary.
count_tap() {
        local suite=$1 line
        while IFS= read -r line; do
                printf '%s\n' "$line"
                case "$line" in
                *"# SKIP"*) skipped_names+=("$suite: ${line#*# SKIP}") ;;
                "not ok"*) fail=$((fail + 1)); failed_names+=("$suite: ${line#not ok }") ;;
                "ok"*) pass=$((pass + 1)) ;;
                esac
        done
}

record() { # record NAME STATUS
        if [ "$2" -eq 0 ]; then
                echo "ok - $1"; pass=$((pass + 1))
        else
                echo "not ok - $1"; fail=$((fail + 1)); failed_names+=("$1")
        fi
}

echo "== build (gcc, --werror)"
if ! bash scripts/build.sh; then
        record "build" 1
        echo "$pass passed, $fail failed"
        exit 1
fi
record "build" 0

echo "== unit"
for t in build/tests/unit/test-*; do
        [ -f "$t" ] && [ -x "$t" ] || continue
        out=$(CMOCKA_MESSAGE_OUTPUT=TAP "$t" 2>&1); rc=$?
        count_tap "unit/$(basename "$t")" <<<"$out"
        # A crash mid-run prints no "not ok": count it from the exit code.
        if [ $rc -ne 0 ] && ! grep -q '^not ok' <<<"$out"; then
                record "unit/$(basename "$t") exited $rc" 1
        fi
done

echo "== fuzz corpus replay"
for t in build/tests/fuzz/fuzz-*; do
        [ -f "$t" ] && [ -x "$t" ] || continue
        name=${t##*/fuzz-}
        out=$("$t" "tests/fuzz/corpus/$name" 2>&1); rc=$?
        count_tap "fuzz-replay/$name" <<<"$out"
        [ $rc -eq 0 ] || record "fuzz-replay/$name exited $rc (crash)" 1
done

echo "== integration"
if [ "$(id -u)" -ne 0 ]; then
        record "integration (needs root)" 1
else
        for t in tests/integration/[0-9]*.sh; do
                [ -f "$t" ] || continue
                echo "# $t"
                out=$(GB_TOP="$top" timeout 600 bash "$t" 2>&1); rc=$?
                count_tap "${t##*/}" <<<"$out"
                [ $rc -eq 0 ] || record "${t##*/} exited $rc" 1
        done
fi

if [ "${GB_SANITIZE:-1}" != 0 ]; then
        echo "== unit under clang ASan+UBSan"
        if [ ! -f build-asan/build.ninja ]; then
                CC=clang meson setup build-asan --werror -Db_sanitize=address,undefined \
                        -Db_lundef=false >/dev/null || record "asan configure" 1
        fi
        if ninja -C build-asan >/dev/null; then
                record "asan build (clang)" 0
                for t in build-asan/tests/unit/test-*; do
                        [ -f "$t" ] && [ -x "$t" ] || continue
                        out=$(UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
                              CMOCKA_MESSAGE_OUTPUT=TAP "$t" 2>&1); rc=$?
                        count_tap "asan/$(basename "$t")" <<<"$out"
                        if [ $rc -ne 0 ] && ! grep -q '^not ok' <<<"$out"; then
                                record "asan/$(basename "$t") exited $rc" 1
                        fi
                done
        else
                record "asan build (clang)" 1
        fi
fi

if [ "${GB_FUZZ_SECONDS:-0}" -gt 0 ]; then
        echo "== fuzzing ${GB_FUZZ_SECONDS}s per target"
        if [ ! -f build-fuzz/build.ninja ]; then
                CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false -Db_lundef=false \
                        -Doptimization=1 >/dev/null || record "fuzz configure" 1
        fi
        if ninja -C build-fuzz >/dev/null; then
                for t in build-fuzz/tests/fuzz/fuzz-*; do
                        [ -f "$t" ] && [ -x "$t" ] || continue
                        name=${t##*/fuzz-}
                        work=$(mktemp -d)
                        cp -r "tests/fuzz/corpus/$name/." "$work/" 2>/dev/null
                        "$t" -max_total_time="$GB_FUZZ_SECONDS" -max_len=65536 \
                                -artifact_prefix="$work/" "$work" >"$work.log" 2>&1
                        rc=$?
                        [ $rc -eq 0 ] || tail -40 "$work.log"
                        record "fuzz $name for ${GB_FUZZ_SECONDS}s ($(grep -c . "$work.log") log lines)" $rc
                        rm -rf "$work" "$work.log"
                done
        else
                record "fuzz build (clang)" 1
        fi
fi

echo "== static analysis (cppcheck)"
if command -v cppcheck >/dev/null; then
        # jansson's iteration macros, spelled out so cppcheck can parse them.
        out=$(cppcheck --quiet --enable=warning,portability --inline-suppr --error-exitcode=1 --std=c11 \
                -D_GNU_SOURCE -I src/lib -I src/lib/base --suppress=missingIncludeSystem \
                '-Djson_array_foreach(a,i,v)=for(i=0;(v=json_array_get(a,i));i++)' \
                '-Djson_object_foreach(o,k,v)=for(k=0;(v=json_object_get(o,k));)' \
                src tests/unit tests/fuzz 2>&1); rc=$?
        [ $rc -eq 0 ] || printf '# %s\n' "$out"
        record "cppcheck" $rc
fi

echo "== style"
files=$(git ls-files -- '*.c' '*.h' 2>/dev/null || find src tests -name '*.[ch]')
if [ -n "$files" ] && command -v clang-format >/dev/null; then
        bad=$(clang-format --dry-run $files 2>&1 | grep -c 'warning:' || true)
        [ "$bad" -eq 0 ] || clang-format --dry-run $files 2>&1 | grep 'warning:' | cut -d: -f1 | sort -u | sed 's/^/# unformatted: /'
        record "clang-format ($bad violations)" "$([ "$bad" -eq 0 ] && echo 0 || echo 1)"
fi

echo
if [ ${#skipped_names[@]} -gt 0 ]; then
        echo
        echo "Skipped (${#skipped_names[@]}, counted neither way):"
        printf '  %s\n' "${skipped_names[@]}"
fi
if [ ${#failed_names[@]} -gt 0 ]; then
        echo "Failed:"
        printf '  %s\n' "${failed_names[@]}"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
