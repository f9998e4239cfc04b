#!/usr/bin/env bash
# Configures and builds wslat. Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
#
# A Release build (the default: no other CMAKE_BUILD_TYPE and no WSLAT_SANITIZE among the extra
# args) is profile-guided: wslat is first built with WSLAT_PGO=generate in BUILD_DIR/pgo-train,
# run through scripts/pgo-train.sh (about 10 s, loopback only), and BUILD_DIR is then compiled
# with that profile (CMakeLists.txt says what it changes). Both directories build incrementally;
# the training runs again only when the training build's wslat changed. WSLAT_PGO=0 in the
# environment builds without a profile (quicker while iterating; not what is shipped or benched).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
jobs=$(nproc)

pgo=${WSLAT_PGO:-1}
for arg in "$@"; do
  case $arg in
    -DCMAKE_BUILD_TYPE=Release | -DCMAKE_BUILD_TYPE:STRING=Release) ;;
    -DCMAKE_BUILD_TYPE=* | -DCMAKE_BUILD_TYPE:*=* | -DWSLAT_SANITIZE=?* | -DWSLAT_SANITIZE:*=?*) pgo=0 ;;
  esac
done

extra=("$@")
# configure DIR PGO_ARGS...: the extra args last, so that they win.
configure() {
  local where=$1
  shift
  cmake -S . -B "$where" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" "${extra[@]}" >/dev/null
}

if [[ $pgo == 0 ]]; then
  configure "$dir" -DWSLAT_PGO=
  cmake --build "$dir" -j "$jobs"
  exit 0
fi

mkdir -p "$dir"
profile=$(cd "$dir" && pwd)/pgo-profile
train=$dir/pgo-train
configure "$train" -DWSLAT_PGO=generate "-DWSLAT_PGO_DIR=$profile"
cmake --build "$train" -j "$jobs" --target wslat
if [[ ! -f $profile/trained || $train/wslat -nt $profile/trained ]]; then
  echo "build.sh: training run of $train/wslat for the profile in $profile"
  rm -rf "$profile"
  scripts/pgo-train.sh "$train/wslat" ||
    { echo "build.sh: the training run failed; WSLAT_PGO=0 scripts/build.sh builds without a profile" >&2; exit 1; }
  touch "$profile/trained"
fi
configure "$dir" -DWSLAT_PGO=use "-DWSLAT_PGO_DIR=$profile"
cmake --build "$dir" -j "$jobs"
