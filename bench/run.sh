#!/usr/bin/env bash
# The one command: bench/run.sh [--quick | --counts] [--rounds N] [--no-pin |
#                                 --server-cpus LIST --client-cpus LIST]
# Brings build/ up to date with scripts/build.sh (Release, profile-guided: what is shipped) and
# installs the npm `ws` peer in bench/node_modules if missing, then runs bench/bench.py: it
# starts both targets on loopback (servers pinned to the first CPU, clients to the second),
# runs every client against both in interleaved rounds, counts syscalls, instructions and
# allocations per cycle, prints a Markdown table and writes bench/results-latest.md. --counts: only the
# per-cycle counts (under 2 minutes), written to bench/results-counts.md.
# BUILD_DIR=... picks another CMake build directory.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${BUILD_DIR:-$root/build}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac

usage="usage: bench/run.sh [--quick | --counts] [--rounds N] [--no-pin | --server-cpus LIST --client-cpus LIST]"
pass=()
counts=""
while (($#)); do
  case "$1" in
    --quick | --no-pin) pass+=("$1") ;;
    --counts) pass+=("$1"); counts=1 ;;
    --rounds | --server-cpus | --client-cpus)
      (($# >= 2)) || { echo "bench/run.sh: $1 needs a value ($usage)" >&2; exit 64; }
      pass+=("$1" "$2"); shift ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument '$1' ($usage)" >&2; exit 64 ;;
  esac
  shift
done

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "bench/run.sh: '$1' not found: $2" >&2; exit 3; }
}
need cmake "apt-get install cmake ninja-build g++"
need strace "apt-get install strace (per-cycle syscall counts)"
need valgrind "apt-get install valgrind (per-cycle instruction counts)"
if [[ -z "$counts" ]]; then
  need node "install Node.js 20 and npm"
  need npm "install npm"
  /usr/bin/python3 -c 'import websockets' 2>/dev/null ||
    { echo "bench/run.sh: Debian's python3-websockets is missing: apt-get install python3-websockets" >&2; exit 3; }
fi

# Always ask the build system: it rebuilds only what changed, and a stale binary would lie.
# scripts/build.sh, as for what is shipped: Release, profile-guided (WSLAT_PGO=0 leaves it out).
"$root/scripts/build.sh" "$build" >&2
build_type="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")"
if [[ "$(sed -n 's/^WSLAT_PGO:[A-Z]*=//p' "$build/CMakeCache.txt")" == use ]]; then
  build_type+=", profile-guided"
fi

if [[ -z "$counts" && ! -d "$here/node_modules/ws" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund >&2)
fi

exec /usr/bin/python3 "$here/bench.py" "${pass[@]}" --wslat "$build/wslat" \
  --raw-client "$build/bench/bench_raw_client" \
  --count-alloc "$build/bench/libbench_count_alloc.so" --build-type "${build_type:-?}" \
  --command "bench/run.sh${pass[*]:+ ${pass[*]}}"
