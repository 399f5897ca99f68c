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
# (default a temporary directory, printed at the end). With SVG=FILE the
# rows are also drawn there: empty answers and the head's share of the
# bytes against the event rate (docs/study/longpoll-sweep.svg).
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
    python3 - "$report" "$bots" "${gzip[*]}" "$out/rows.jsonl" <<'EOF'
import json
import sys

report, bots, gzip, rows = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
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
with open(rows, "a") as f:
    f.write(json.dumps({
        "rate": w["messages"] / secs / n,
        "empty": 100 * w["empty_answers"] / answers,
        "head": 100 * w["head_bytes"] / w["bytes"],
    }) + "\n")
EOF
done
if [[ -n ${SVG:-} ]]; then
    python3 - "$out/rows.jsonl" "$SVG" <<'EOF'
import json
import math
import sys

rows = sorted((json.loads(line) for line in open(sys.argv[1])), key=lambda r: r["rate"])
# A silent feed (0 events) sits at the left edge of the log axis.
lo, hi = 0.01, 1000.0
w, h, left, right, top, bottom = 560, 260, 50, 20, 20, 40


def x(rate):
    r = min(max(rate, lo), hi)
    span = math.log10(hi) - math.log10(lo)
    return left + (math.log10(r) - math.log10(lo)) / span * (w - left - right)


def y(pct):
    return top + (100 - pct) / 100 * (h - top - bottom)


out = [
    f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
    f'<rect width="{w}" height="{h}" fill="white"/>',
]
for pct in (0, 25, 50, 75, 100):
    out.append(
        f'<line x1="{left}" x2="{w - right}" y1="{y(pct):.1f}" y2="{y(pct):.1f}" stroke="#ddd"/>'
        f'<text x="{left - 6}" y="{y(pct) + 4:.1f}" text-anchor="end">{pct} %</text>'
    )
for rate in (0.01, 0.1, 1, 10, 100, 1000):
    out.append(f'<text x="{x(rate):.1f}" y="{h - bottom + 16}" text-anchor="middle">{rate:g}</text>')
out.append(
    f'<text x="{(left + w - right) / 2}" y="{h - 6}" text-anchor="middle">events a second per watcher (log scale)</text>'
)
series = (("empty", "#c0392b", "empty answers"), ("head", "#2471a3", "head share of the bytes"))
for i, (key, colour, label) in enumerate(series):
    points = " ".join(f'{x(r["rate"]):.1f},{y(r[key]):.1f}' for r in rows)
    out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
    out += [f'<circle cx="{x(r["rate"]):.1f}" cy="{y(r[key]):.1f}" r="3" fill="{colour}"/>' for r in rows]
    out.append(f'<text x="{w - right - 4}" y="{top + 14 + 16 * i}" text-anchor="end" fill="{colour}">{label}</text>')
out.append("</svg>")
with open(sys.argv[2], "w") as f:
    f.write("\n".join(out) + "\n")
EOF
fi
echo "reports: $out" >&2
