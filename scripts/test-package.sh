#!/usr/bin/env bash
# Builds the Debian package, lints it, installs it on this machine (dpkg -i, as root), checks the
# installed wslat (an example through the embedded server, man, completions) and removes it
# again, whatever happened. Meant for CI (Release only); refuses to run where wslat is already
# installed, so that it never replaces or removes someone's wslat.
# Usage: scripts/test-package.sh [BUILD_DIR]   (default: build; configured and built if needed)
#
# Accepted lintian tags (listed, not hidden: lintian runs with --pedantic and -I):
#   only informational tags remain (hardening-no-bindnow, hardening-no-fortify-functions,
#   binary-has-unneeded-section): the build uses CMake's Release flags, not dpkg-buildflags.
#   Warnings and errors fail this script; add a tag to `accepted` below only with a reason.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
accepted=""

step() { printf '\n== %s\n' "$*"; }
[[ $(id -u) == 0 ]] || { echo "test-package.sh: dpkg -i needs root" >&2; exit 64; }
if dpkg-query -W -f='${Status}' wslat 2>/dev/null | grep -q 'ok installed' || [[ -e /usr/bin/wslat ]]; then
  echo "test-package.sh: wslat is already installed here; remove it first (dpkg -r wslat)" >&2
  exit 64
fi
for tool in lintian man; do
  command -v "$tool" >/dev/null || { echo "test-package.sh: $tool missing (scripts/install-deps.sh)" >&2; exit 3; }
done

step "build the package"
deb=$(realpath "$(scripts/package.sh "$dir" | tail -n 1)")
ls -l "$deb"
dpkg-deb -f "$deb" Package Version Architecture Depends Installed-Size

step "lintian"
# shellcheck disable=SC2054  # --fail-on takes a comma-separated list
lintian_args=(--pedantic -I -E --fail-on error,warning)
[[ -n $accepted ]] && lintian_args+=(--suppress-tags "$accepted")
lintian "${lintian_args[@]}" "$deb"
echo "lintian: no errors, no warnings"

work=$(mktemp -d)
cleanup() {
  step "remove"
  dpkg -P wslat || true
  rm -rf "$work"
  if [[ -e /usr/bin/wslat ]]; then echo "FAIL: /usr/bin/wslat is still there after dpkg -P"; exit 1; fi
  echo "ok: removed"
}
trap cleanup EXIT

step "install"
dpkg -i "$deb" || apt-get -f install -y
[[ $(command -v wslat) == /usr/bin/wslat ]] || { echo "FAIL: wslat is not /usr/bin/wslat on PATH"; exit 1; }
wslat --version

step "run an installed example (embedded server), from a folder of its own"
cd "$work"
wslat run /usr/share/doc/wslat/examples/smoke.json --no-save --quiet
echo "ok: smoke.json passed"

step "man wslat"
[[ $(man -w wslat) == /usr/share/man/man1/wslat.1.gz ]] || { echo "FAIL: man -w wslat: $(man -w wslat)"; exit 1; }
warnings=$(MANWIDTH=80 man --warnings wslat 2>&1 >/dev/null)
[[ -z $warnings ]] || { echo "FAIL: man warnings: $warnings"; exit 1; }
MANWIDTH=80 man wslat 2>/dev/null | sed -n '1,4p'

step "scenario schema"
cmp <(wslat schema) /usr/share/wslat/scenario.schema.json
echo "ok: /usr/share/wslat/scenario.schema.json is what wslat schema prints"

step "completions"
got=$(bash -c 'source /usr/share/bash-completion/bash_completion; _completion_loader wslat; complete -p wslat')
[[ $got == "complete -F _wslat wslat" ]] || { echo "FAIL: bash: $got"; exit 1; }
echo "ok: bash-completion loads /usr/share/bash-completion/completions/wslat"
if command -v zsh >/dev/null; then
  got=$(zsh -f -c 'autoload -Uz compinit; compinit -u -D; print -r -- $_comps[wslat]' 2>&1)
  [[ $got == _wslat ]] || { echo "FAIL: zsh: '$got'"; exit 1; }
  echo "ok: zsh compinit finds _wslat on its default fpath"
fi
if command -v fish >/dev/null; then
  got=$(fish -c 'complete -C "wslat se"' 2>&1 | cut -f1)
  [[ $got == serve ]] || { echo "FAIL: fish: '$got'"; exit 1; }
  echo "ok: fish completes 'wslat se' to serve"
fi
echo
echo "test-package.sh: $deb passed ($(du -k "$deb" | cut -f1) KiB)"
