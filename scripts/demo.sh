#!/usr/bin/env bash
# The README's first command: install dependencies, build, and show the
# remapping a container gets.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh build
bash scripts/build.sh
exec ./build/src/cli/ghostbox idmap show
