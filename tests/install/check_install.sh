#!/usr/bin/env bash
# `cmake --install` into a throw-away prefix puts every file in its conventional place, and the
# installed binary runs an installed example against its embedded server.
# Usage: check_install.sh CMAKE BUILD_DIR SOURCE_DIR
set -euo pipefail
cmake=$1 build=$2 src=$3
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
"$cmake" --install "$build" --prefix "$prefix" >/dev/null

fail=0
expect_file() {
  if [[ -f $prefix/$1 ]]; then echo "ok: $1"; else echo "MISSING: $1"; fail=1; fi
}
expect_file bin/wslat
[[ -x $prefix/bin/wslat ]] || { echo "NOT EXECUTABLE: bin/wslat"; fail=1; }
expect_file share/man/man1/wslat.1.gz
expect_file share/doc/wslat/copyright
expect_file share/doc/wslat/changelog.gz
expect_file share/bash-completion/completions/wslat
expect_file share/zsh/vendor-completions/_wslat
expect_file share/fish/vendor_completions.d/wslat.fish
expect_file share/wslat/scenario.schema.json
for s in "$src"/scenarios/*.json; do
  expect_file "share/doc/wslat/examples/$(basename "$s")"
done
((fail == 0)) || exit 1

# From a folder of its own, so that nothing depends on the build or source tree.
cd "$prefix"
"$prefix/bin/wslat" run "$prefix/share/doc/wslat/examples/smoke.json" --no-save --quiet >/dev/null
echo "ok: installed wslat ran the installed smoke.json"
cmp <("$prefix/bin/wslat" schema) "$prefix/share/wslat/scenario.schema.json"
echo "ok: the installed schema is the one wslat schema prints"
if command -v man >/dev/null; then
  MANPATH=$prefix/share/man man -w wslat | grep -qx "$prefix/share/man/man1/wslat.1.gz"
  echo "ok: man finds the installed wslat(1)"
fi
