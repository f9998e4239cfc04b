#!/usr/bin/env bash
# Builds the Debian package of wslat (CPack, DEB generator) from a Release build and prints its
# path. Usage: scripts/package.sh [BUILD_DIR] [extra cmake args...]   (BUILD_DIR default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
scripts/build.sh "$dir" "$@"
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$dir/CMakeCache.txt")
if [[ $build_type != Release ]]; then
  echo "package.sh: $dir is a $build_type build; package a Release build" >&2
  exit 64
fi
# CPack names the file it made: "CPack: - package: /path/wslat_<version>_<arch>.deb generated."
out=$(cd "$dir" && cpack -G DEB)
deb=$(sed -n 's/^CPack: - package: \(.*\.deb\) generated\.$/\1/p' <<<"$out")
[[ -f $deb ]] || { echo "$out" >&2; echo "package.sh: cpack made no .deb" >&2; exit 3; }
echo "$deb"
