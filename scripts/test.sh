#!/usr/bin/env bash
# Runs every test of the project: Rust unit, property and end-to-end tests
# (real server on 127.0.0.1:0, real WebSocket clients), the golden-vector
# check, and the web client's tests under node's built-in runner.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v node >/dev/null || { echo "node (>= 18) is required for the web client tests" >&2; exit 1; }

cargo test --workspace --locked
(cd web-client && node --test test/)
