#!/usr/bin/env bash
# Produces the transports study's SVG plots (docs/transports-study.md) into
# docs/study/, one directory per bot run, each with the charts of
# `skirmish-bots --svg-dir` (clients, updates per second, errors, server
# CPU over the run; a latency histogram per transport) and the run's JSON
# report and text summary next to it.
#
#   scripts/study-plots.sh
#
# Always the release build: the bots spawn the server in their own process,
# so one optimised binary is both (a debug build's latencies and CPU would
# chart the missing optimisation, not the transports). Every run spawns its
# own server on a free loopback port and takes DURATION seconds (default
# 30, of which the first 8 are warmup).
set -euo pipefail

cd "$(dirname "$0")/.."
duration=${DURATION:-30}
nice -n 5 cargo build --release --locked -q -p skirmish-load-tests
bots=target/release/skirmish-bots
out=docs/study

run() {
    local name=$1
    shift
    rm -rf "${out:?}/$name"
    mkdir -p "$out/$name"
    echo "== $name: $*" >&2
    "$bots" --spawn --quiet --view ticks --duration "$duration" --warmup 8 \
        --svg-dir "$out/$name" --report "$out/$name/report.json" "$@" \
        > "$out/$name/summary.txt"
}

# Compression: the same room's SSE spectators, plain and gzip.
run sse-plain --players 16 --spectators 200
run sse-gzip --players 16 --spectators 200 --gzip
# Long polling's empty answers: a quiet room and a busy one.
run longpoll-quiet --players 2 --pollers 20
run longpoll-busy --players 64 --pollers 20
