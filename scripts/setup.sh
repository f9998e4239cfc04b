#!/usr/bin/env bash
# Quick start: install dependencies, build, and run the main job (the chat golden path
# against the embedded server).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
./build/wslat run scenarios/chat.json
