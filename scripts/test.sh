#!/usr/bin/env bash
# The whole test suite: builds (Release) and runs every unit and integration test with ctest.
# Usage: scripts/test.sh [BUILD_DIR] [extra cmake args...]
# WSLAT_CTEST_ARGS adds ctest options (e.g. "-LE peer" leaves out tests against third-party peers).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
scripts/build.sh "$dir" "$@"
# shellcheck disable=SC2086  # WSLAT_CTEST_ARGS is a list of options
ctest --test-dir "$dir" --output-on-failure -j 2 --timeout 300 ${WSLAT_CTEST_ARGS:-}
