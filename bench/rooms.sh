#!/usr/bin/env bash
# bench/rooms.sh [--delay-ms N]: 20 rooms x 50 members (1 sender, 49 listeners) at 5 broadcasts
# a second per room for 30 s against the Socket.IO test peer (tests/peers/socketio_server.js),
# and wslat's own CPU: user + system seconds over wall seconds, as % of one core (GNU time).
# Not a CI test (issue 12's figure: below 50% of one core on the 2-core machine). Needs the
# build (build/wslat, BUILD_DIR=... for another), node and the npm peers (tests/peers/install.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${BUILD_DIR:-$root/build}"
delay=0
while (($#)); do
  case "$1" in
    --delay-ms) (($# >= 2)) || { echo "bench/rooms.sh: --delay-ms needs a value" >&2; exit 64; }
                delay="$2"; shift ;;
    -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/rooms.sh: unknown argument '$1' (usage: bench/rooms.sh [--delay-ms N])" >&2
       exit 64 ;;
  esac
  shift
done
[[ -x "$build/wslat" ]] || { echo "bench/rooms.sh: $build/wslat not built (scripts/build.sh)" >&2; exit 3; }
[[ -x /usr/bin/time ]] || { echo "bench/rooms.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 3; }
command -v node >/dev/null || { echo "bench/rooms.sh: node missing (scripts/install-deps.sh)" >&2; exit 3; }

work="$(mktemp -d)"
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

mkfifo "$work/ready"
node "$root/tests/peers/socketio_server.js" --room-size 50 --delay-ms "$delay" \
  >"$work/ready" 2>"$work/server.err" </dev/null &
server_pid=$!
read -r line <"$work/ready"
port="${line#READY }"
[[ "$port" =~ ^[0-9]+$ ]] || { echo "bench/rooms.sh: the peer did not start: $line" >&2; exit 3; }

echo "rooms: 20 x 50 members, 5 broadcasts/s per room for 30 s, server delay ${delay} ms (port $port)"
set +e
/usr/bin/time -f "%U %S %e %M" -o "$work/time" \
  "$build/wslat" run "$here/scenarios/rooms-20x50.json" \
  --target "ws://127.0.0.1:$port/socket.io/?EIO=4&transport=websocket" \
  --env production --no-save --quiet --export-json "$work/result.json" >"$work/wslat.out" 2>"$work/wslat.err"
rc=$?
[[ -s "$work/result.json" ]] || { echo "bench/rooms.sh: wslat wrote no result (exit $rc):" >&2; cat "$work/wslat.err" >&2; exit 3; }
set -e
read -r user sys wall rss_kb <"$work/time"
/usr/bin/python3 - "$work/result.json" "$user" "$sys" "$wall" "$rss_kb" "$rc" <<'PY'
import json, sys
path, user, system, wall, rss_kb, rc = sys.argv[1:]
user, system, wall = float(user), float(system), float(wall)
r = json.load(open(path))
c = lambda n: r["counters"][n]["total"]
d = r["metrics"].get("delivery", {})
f = r["metrics"].get("fanout", {})
print(f"exit {rc}; connections {r['connections']['attempted']} attempted, "
      f"{r['connections']['failed']} failed; errors {r['errors']}")
print(f"broadcasts {c('broadcasts')}, deliveries {d.get('count', 0)}, "
      f"delivery_missing {c('delivery_missing')}")
if d:
    print(f"delivery p50 {d['p50']:.2f} ms, p95 {d['p95']:.2f} ms, max {d['max']:.2f} ms; "
          f"fanout p50 {f.get('p50', 0):.2f} ms, p95 {f.get('p95', 0):.2f} ms")
print(f"wslat CPU: user {user:.2f} s + sys {system:.2f} s over {wall:.2f} s wall = "
      f"{100 * (user + system) / wall:.1f}% of one core; peak RSS {int(rss_kb) / 1024:.1f} MiB")
PY
