#!/usr/bin/env bash
# The cluster benchmarks of docs/benchmarks.md in one command: builds the
# release binaries, then runs skirmish-cluster-bench, which starts its own
# redis-server (free loopback port, no persistence) and skirmish-server
# nodes, measures, and kills exactly the processes it started.
#
#   scripts/cluster-bench.sh [--rooms 60] [--bots 8] [--window 20] [--report FILE]
#
# Measures, each as a ratio within the run: (1) the added latency of an
# event read on another node against the same event read on its owner;
# (2) Redis CPU per 1,000 events/s and per 100 followed rooms; (3) server
# CPU for the same rooms on one node against three, and the same without
# Redis as the control. Takes about
# 7 × (--window + 4) + 30 seconds. Needs redis-server (apt-get install redis-server).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null; then
    echo "cluster-bench: redis-server is not installed (apt-get install redis-server)" >&2
    exit 2
fi
cargo build --release --locked -q -p skirmish-server -p skirmish-load-tests
exec target/release/skirmish-cluster-bench --server target/release/skirmish-server "$@"
