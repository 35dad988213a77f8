#!/usr/bin/env bash
# The README's second command: install dependencies, build, run every test.
# Ends with "N passed, N failed". Environment:
#   GB_FUZZ_SECONDS=N  fuzz each target N seconds with libFuzzer (default 0)
#   GB_SANITIZE=0      skip the ASan+UBSan unit-test pass
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
exec bash tests/run-all.sh
