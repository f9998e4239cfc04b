#!/usr/bin/env bash
# The one command: bench/run.sh [--quick]
# Builds what is missing (wslat and the raw-socket client in build/, Release; the npm `ws`
# peer in bench/node_modules), then runs bench/bench.py, which starts both targets on
# loopback, runs every client against both, prints a Markdown table and writes
# bench/results-latest.md. BUILD_DIR=... picks another CMake build directory.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${BUILD_DIR:-$root/build}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac

quick=()
for a in "$@"; do
  case "$a" in
    --quick) quick=(--quick) ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument '$a' (usage: bench/run.sh [--quick])" >&2; exit 64 ;;
  esac
done

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "bench/run.sh: '$1' not found: $2" >&2; exit 3; }
}
need cmake "apt-get install cmake ninja-build g++"
need node "install Node.js 20 and npm"
need npm "install npm"
/usr/bin/python3 -c 'import websockets' 2>/dev/null ||
  { echo "bench/run.sh: Debian's python3-websockets is missing: apt-get install python3-websockets" >&2; exit 3; }

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  gen=(); command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
  cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release >&2
fi
build_type="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")"
if [[ "$build_type" != "Release" ]]; then
  echo "bench/run.sh: warning: $build is a '$build_type' build; figures are for Release builds" >&2
fi
# Always ask the build system: it rebuilds only what changed, and a stale binary would lie.
cmake --build "$build" --target wslat bench_raw_client -j2 >&2

if [[ ! -d "$here/node_modules/ws" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund >&2)
fi

exec /usr/bin/python3 "$here/bench.py" "${quick[@]}" --wslat "$build/wslat" \
  --raw-client "$build/bench/bench_raw_client" --build-type "${build_type:-?}" \
  --command "bench/run.sh${quick:+ --quick}"
