#!/usr/bin/env bash
# Self-check of the npm protocol test peers: installs them if needed, then starts each server with
# an injected delay (default 100 ms), runs one exchange with the protocol's own client library,
# prints the measured reply delays and the raw WebSocket frames of each protocol (the transcripts
# in tests/peers/README.md). Usage: tests/peers/check_peers.sh [--delay-ms N] [--samples N]
set -euo pipefail
dir=$(dirname "$0")
"$dir/install.sh" >/dev/null
exec node "$dir/check_peers.js" "$@"
