#!/usr/bin/env bash
# The transports study's long-poll sweep (docs/transports-study.md, "Long
# polling's empty answers and headers"): 20 long-poll watchers of the
# server's `main` room, whose event rate is set by the server's own bots in
# it, one pinned run (scripts/bench-pinned.sh, release build) per bot count;
# prints one markdown table row per run.
#
#   scripts/longpoll-sweep.sh                  # 1 2 4 8 16 32 64 128 256 bots
#   scripts/longpoll-sweep.sh 8 64             # chosen rows
#   GZIP=1 scripts/longpoll-sweep.sh 8 64      # the watchers ask for gzip
#
# DURATION (default 40) is each run's seconds; the reports are kept in OUT
# (default a temporary directory, printed at the end).
set -euo pipefail

cd "$(dirname "$0")/.."
duration=${DURATION:-40}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
counts=("$@")
[[ ${#counts[@]} -gt 0 ]] || counts=(1 2 4 8 16 32 64 128 256)
gzip=()
[[ ${GZIP:-0} == 1 ]] && gzip=(--gzip)

echo "| server bots | events a second per watcher | answers a minute per watcher | events per answer | empty answers | head share of the bytes | bytes per event, head included | delivery p50 / p99 (ms) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for bots in "${counts[@]}"; do
    report="$out/bots-$bots${gzip:+-gzip}.json"
    scripts/bench-pinned.sh "$report" --bots "$bots" -- \
        --pollers 20 --duration "$duration" "${gzip[@]}" >/dev/null
    python3 - "$report" "$bots" "${gzip[*]}" <<'EOF'
import json
import sys

report, bots, gzip = sys.argv[1], sys.argv[2], sys.argv[3]
r = json.load(open(report))
w = next(t for t in r["transports"] if t["transport"] == "poll-watcher")
if r["errors"]:
    sys.exit(f"{report}: {r['errors']} errors")
secs = w["messages"] / w["messages_per_sec"] if w["messages_per_sec"] else r["elapsed_secs"]
n, answers = w["clients"], w["requests"]
d = w["delivery_ms"]
delivery = f"{d['p50']:.0f} / {d['p99']:.0f}" if d else "-"
per_event = f"{w['bytes'] / w['messages']:.0f}" if w["messages"] else "-"
print(
    f"| {bots}{' `--gzip`' if gzip else ''} | {w['messages'] / secs / n:.2f} "
    f"| {answers / secs * 60 / n:.1f} | {w['messages'] / answers:.1f} "
    f"| {w['empty_answers']} of {answers} ({100 * w['empty_answers'] / answers:.0f} %) "
    f"| {100 * w['head_bytes'] / w['bytes']:.0f} % "
    f"| {per_event} | {delivery} |"
)
EOF
done
echo "reports: $out" >&2
