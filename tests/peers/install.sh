#!/usr/bin/env bash
# Installs the npm test peers (tests/peers/package-lock.json) into tests/peers/node_modules with
# `npm ci`. Idempotent: does nothing when node_modules was installed from the current lockfile.
# --ignore-scripts: nothing is compiled or downloaded at install time (ws only uses the optional
# native bufferutil/utf-8-validate when they are built, and works without them).
set -euo pipefail
cd "$(dirname "$0")"

for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "tests/peers/install.sh: '$tool' not found; the protocol test peers need Node.js >= 18" \
         "and npm (Debian: apt-get install nodejs npm, as scripts/install-deps.sh does)" >&2
    exit 3
  }
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "tests/peers/install.sh: Node.js $(node --version) is too old; the test peers need >= 18" >&2
  exit 3
fi

stamp=node_modules/.wslat-lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "tests/peers: node_modules is up to date with package-lock.json"
  exit 0
fi
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
echo "$want" >"$stamp"
echo "tests/peers: installed $(node -p 'Object.keys(require("./package-lock.json").packages).length - 1') npm packages from package-lock.json"
