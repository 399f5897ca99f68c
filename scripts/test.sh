#!/usr/bin/env bash
# Runs every test of the project: Rust unit, property and end-to-end tests
# (real server on 127.0.0.1:0, real WebSocket clients), the golden-vector
# check, the web client's tests under node's built-in runner, and the web
# client's end to end in a real Chromium (playwright-core, from
# web-client/package-lock.json; Debian's chromium, installed when missing).
# The cluster tests need Debian's redis-server and nginx, and the storage
# tests Debian's postgresql (run from a temporary directory by the test
# itself), all installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v node >/dev/null || { echo "node (>= 20) is required for the web client tests" >&2; exit 1; }

# Installs Debian packages that are missing, refreshing the package lists
# at most once per run. A binary may be in /usr/sbin, which is not on a
# non-root user's PATH (nginx). RUNLEVEL=1 keeps a package's init script
# from starting a system-wide service (nginx on port 80): the tests start
# their own.
updated=""
need() {
  { command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ]; } && return
  [ -n "$updated" ] || { apt-get update -qq; updated=1; }
  RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"
}

# The cluster tests (server/tests/cluster*.rs) run a real redis-server, and
# the load-balancer tests (cluster_lb.rs, load-tests, the e2e) a real nginx
# with deploy/nginx/skirmish.conf.
need redis-server redis-server
# The storage tests (server/tests/persistence.rs) run a real PostgreSQL
# server; its binaries are off PATH, in /usr/lib/postgresql/<version>/bin.
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  need initdb postgresql
fi
need nginx nginx
# The tick-stall health test (server/tests/ops.rs) stops a worker thread of
# the real server inside a tick with scripts/stall-tick.py (python3, and nm
# for the function's address).
need python3 python3
need nm binutils
cargo test --workspace --locked
(cd web-client && node --test test/)
(cd web-client && npm ci --no-audit --no-fund)
need chromium chromium
node web-client/e2e/game.e2e.mjs
# Lag compensation in the browser: the page, behind a proxy adding 75 ms
# each way, shoots a target the test flies over Node's WebSocket (global
# from Node 22; behind a flag on Node 20).
websocket=()
node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' || websocket=(--experimental-websocket)
node "${websocket[@]}" web-client/e2e/lagcomp.e2e.mjs
# Ten SSE feeds and ten long polls from one page, HTTP/1.1 against HTTP/2
# (a self-signed certificate made with openssl).
need openssl openssl
node web-client/e2e/connections.e2e.mjs
