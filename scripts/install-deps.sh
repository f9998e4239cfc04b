#!/usr/bin/env bash
# Installs everything wslat needs to build, test and benchmark on Debian 12 (run as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  libwebsocketpp-dev libasio-dev libssl-dev openssl
  libcli11-dev libfmt-dev nlohmann-json3-dev doctest-dev
  libre2-dev                   # regex expectations (linear-time matching)
  libcsv-dev                   # CSV data files of scenarios (RFC 4180)
  libmicrohttpd-dev            # `wslat monitor`: the /metrics endpoint
  libcurl4-openssl-dev         # alert webhooks, `wslat run --push` (HTTP client)
  zlib1g-dev                   # permessage-deflate (RFC 7692) compression
  prometheus-pushgateway       # a real Pushgateway receives `--push` (tests)
  prometheus                   # promtool checks the Prometheus output; a real Prometheus scrapes (tests)
  prometheus-alertmanager      # routes the shipped rules' alerts to a webhook (tests)
  python3 python3-websockets   # third-party WebSocket peer for the tests
  nginx-light tinyproxy        # third-party reverse proxy (IPv6, TLS) and CONNECT proxy for the tests
  libwebsockets-test-server    # libwebsockets' mirror: a third-party broadcast server (room tests)
  python3-jsonschema           # the scenario JSON Schema is checked with a real validator
  chromium                     # headless screenshot of the HTML report (tests)
  procps time                  # ps and /usr/bin/time for the benchmarks
  strace valgrind              # bench/run.sh: per-cycle syscall and instruction counts
  clang-format clang-tidy      # scripts/lint.sh (Debian 12: version 14)
  bash-completion zsh fish     # the generated shell completions are tested under each shell
  man-db lintian               # the man page is rendered in the tests; the .deb is linted
  debootstrap podman           # scripts/build-image.sh: the container image, without a daemon
  python3-yaml                 # scripts/test-image.sh reads the Kubernetes Jobs' commands
)
# Node.js >= 18 and npm run the protocol test peers (tests/peers: socket.io, graphql-ws, ...).
{ command -v node && command -v npm; } >/dev/null 2>&1 || packages+=(nodejs npm)
apt-get update -qq
# --no-install-recommends: libasio-dev recommends Boost, and websocketpp would silently
# pick Boost.Asio up; we build on standalone Asio.
apt-get install -y -qq --no-install-recommends "${packages[@]}"
# The npm test peers, from tests/peers/package-lock.json (npm ci; fails loudly without npm).
"$(dirname "$0")/../tests/peers/install.sh"
