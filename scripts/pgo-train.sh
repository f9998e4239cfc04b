#!/usr/bin/env bash
# The training run of a profile-guided build (scripts/build.sh): runs WSLAT, a wslat built with
# WSLAT_PGO=generate, through the work a user's run does most, so that its counts land in the
# profile directory it was built with. Usage: scripts/pgo-train.sh WSLAT
#
# What it runs: `wslat serve` on an ephemeral loopback port, and against it the cycle a load test
# repeats (connect, send, expect the echo, close) one at a time and 32 and 128 at once, plus the
# shipped smoke scenario (whole process: parsing, checks, the report). About 10 seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
wslat=${1:?usage: scripts/pgo-train.sh WSLAT}
# The profile is of the client wslat ships with (WSLAT_CLIENT=websocketpp is for comparisons).
unset WSLAT_CLIENT

log=$(mktemp)
runlog=$(mktemp)
server=
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -f "$log" "$runlog"
}
trap cleanup EXIT

"$wslat" serve --port 0 --threads 1 >"$log" 2>&1 &
server=$!
url=
for _ in $(seq 100); do  # up to 10 s for the "listening on URL" line
  url=$(sed -n 's/^listening on \(ws:\/\/[^ ]*\).*/\1/p' "$log")
  [[ -n $url ]] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if [[ -z $url ]]; then
  echo "pgo-train.sh: $wslat serve did not start: $(cat "$log")" >&2
  exit 1
fi

# Its warnings (wslat saturated at 128 connections on a busy machine, say) are no concern here:
# shown only when a run fails.
run() {
  "$wslat" run "$@" --no-save --quiet --format json >/dev/null 2>"$runlog" ||
    { echo "pgo-train.sh: wslat run $* failed: $(cat "$runlog")" >&2; exit 1; }
}
run bench/scenarios/cycle.json --target "$url" --connections 2000 --concurrency 1 --threads 1
run bench/scenarios/cycle.json --target "$url" --connections 6000 --concurrency 32 --threads 1
run bench/scenarios/cycle.json --target "$url" --connections 6000 --concurrency 128 --threads 1
run scenarios/smoke.json --target "$url"
# The server writes its counts when it exits: a clean stop (SIGTERM), and wait for it.
kill -TERM "$server"
wait "$server" || true
server=
