#!/usr/bin/env bash
# Every command of ghostbox and ghostbox-runtime answers --help with a usage
# text and exit 0 (issue 2: "--help on every command").
. "$(dirname "$0")/lib.sh"

verbs=$("$GHOSTBOX" --help | awk '/^Commands:/{f=1; next} f && /^  [a-z]/{print $1}')
check_match "ghostbox --help lists commands" 'run' "$verbs"
for v in $verbs; do
        out=$("$GHOSTBOX" "$v" --help 2>&1); rc=$?
        if [ $rc -eq 0 ] && grep -qi '^usage' <<<"$out"; then ok "ghostbox $v --help"; else not_ok "ghostbox $v --help"; diag "rc=$rc" "$out"; fi
done
for v in create start run state kill delete exec list ps features spec; do
        out=$("$GB_RUNTIME" "$v" --help 2>&1); rc=$?
        if [ $rc -eq 0 ] && grep -qi '^usage' <<<"$out"; then ok "ghostbox-runtime $v --help"; else not_ok "ghostbox-runtime $v --help"; diag "rc=$rc" "$out"; fi
done
check_match "ghostbox-runtime --version" 'ghostbox-runtime version' "$("$GB_RUNTIME" --version)"
done_testing
