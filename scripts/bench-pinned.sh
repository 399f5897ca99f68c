#!/usr/bin/env bash
# Runs one load test with the server and the bots on separate cores, so the
# server's figures are per core and the bots cannot steal its CPU.
#
#   scripts/bench-pinned.sh REPORT.json [server flags...] -- [bot flags...]
#
# The server (release build) runs under `taskset -c 0` on a free loopback
# port with no server-side bots and limits raised for one-address load; the
# bots run under `taskset -c 1` against it with `--url` and write REPORT.json.
# Server flags after the report path are added to those, and replace any of
# them they name again.
# SKIRMISH_BENCH_SERVER names another server binary (a build of another
# commit, to compare two builds alternately in one sitting).
# Example, 512 players in one room after a 10 s warmup:
#
#   scripts/bench-pinned.sh /tmp/p512.json --max-players 600 -- \
#       --players 512 --duration 40 --warmup 10 --view ticks
set -euo pipefail

if [[ $# -lt 1 ]]; then
    sed -n '2,16p' "$0"
    exit 2
fi
report=$1
shift
server_flags=()
while [[ $# -gt 0 && $1 != "--" ]]; do
    server_flags+=("$1")
    shift
done
[[ ${1:-} == "--" ]] && shift
bot_flags=("$@")

cd "$(dirname "$0")/.."
cargo build --release --locked -q -p skirmish-server -p skirmish-load-tests
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
defaults=(--bots 0
    --max-connections 60000 --max-connections-per-ip 60000
    --max-rooms 2000 --new-rooms-per-ip-per-min 100000
    --max-players 2000 --max-spectators 20000 --max-spectators-per-room 20000
    --max-polls 20000 --max-polls-per-room 20000 --max-legacy-sessions 5000
    --max-spectators-per-ip 20000 --max-polls-per-ip 20000)
# A default the caller also gives is left out: the server refuses a flag
# given twice.
flags=()
for ((i = 0; i < ${#defaults[@]}; i += 2)); do
    given=false
    for f in "${server_flags[@]}"; do
        [[ $f == "${defaults[i]}" || $f == "${defaults[i]}="* ]] && given=true
    done
    $given || flags+=("${defaults[i]}" "${defaults[i + 1]}")
done
RUST_LOG=warn taskset -c 0 "${SKIRMISH_BENCH_SERVER:-target/release/skirmish-server}" \
    --bind "127.0.0.1:$port" "${flags[@]}" "${server_flags[@]}" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break
    sleep 0.1
done
status=0
taskset -c 1 target/release/skirmish-bots --url "http://127.0.0.1:$port" \
    --quiet --report "$report" "${bot_flags[@]}" || status=$?
if grep -q -i -E "panicked|ERROR" "$log"; then
    echo "server log:" >&2
    cat "$log" >&2
fi
exit $status
