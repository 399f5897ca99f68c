#!/usr/bin/env python3
"""gzip against brotli on a real SSE room feed, one flushed chunk per event.

    scripts/compression-study.py URL [SECONDS=20]

Reads URL (a room's `/api/rooms/{id}/events`) uncompressed for SECONDS,
splits it into its events (each `\\n\\n`-ended block, as the server writes
one batch per wake-up), then compresses that same sequence as one stream
would: gzip as `server/src/net/stream_gzip.rs` does (level 1, a sync
flush after each event), and brotli at several qualities and windows
(a flush after each event). Prints, per codec, the bytes on the wire per
event, the ratio to plain, the compressor's CPU per event and per 1,000
spectators at the feed's event rate, and the memory one stream's
compressor holds (RSS growth over 200 streams, divided by 200); then each
event compressed alone, as a long-poll answer is (no shared window).

Needs Python's `brotli` module (`pip install brotli`, Google's C library).
The CPU is Python calling the C libraries: the compression itself, plus a
small per-call overhead alike for both codecs.
"""
import resource
import sys
import time
import urllib.request
import zlib

import brotli

URL = sys.argv[1]
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0


def capture():
    request = urllib.request.Request(URL, headers={"Accept-Encoding": "identity"})
    events, pending = [], b""
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=SECONDS + 10) as response:
        while time.monotonic() - started < SECONDS:
            data = response.read1(65536)
            if not data:
                break
            pending += data
            while b"\n\n" in pending:
                event, pending = pending.split(b"\n\n", 1)
                events.append(event + b"\n\n")
    return events, time.monotonic() - started


def gzip_stream():
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    return lambda chunk: compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)


def brotli_stream(quality, lgwin):
    compressor = brotli.Compressor(mode=brotli.MODE_TEXT, quality=quality, lgwin=lgwin)
    return lambda chunk: compressor.process(chunk) + compressor.flush()


def rss_kb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def measure(name, make, events, rate):
    stream = make()
    cpu = time.process_time()
    wire = sum(len(stream(e)) for e in events)
    cpu = time.process_time() - cpu
    plain = sum(len(e) for e in events)
    # Memory: 200 streams, each past its first 50 events (windows filled).
    before = rss_kb()
    held = []
    for _ in range(200):
        s = make()
        for e in events[:50]:
            s(e)
        held.append(s)
    per_stream_kb = (rss_kb() - before) / 200
    per_event_us = cpu / len(events) * 1e6
    cores_per_1000 = per_event_us * 1e-6 * rate * 1000
    print(f"| {name} | {wire / len(events):.0f} B | {plain / wire:.2f} | "
          f"{per_event_us:.1f} µs | {cores_per_1000:.2f} cores | {per_stream_kb:.0f} KB |")
    del held


def main():
    events, elapsed = capture()
    if len(events) < 100:
        sys.exit(f"only {len(events)} events in {elapsed:.0f} s: is the room playing?")
    rate = len(events) / elapsed
    plain = sum(len(e) for e in events) / len(events)
    print(f"{len(events)} events in {elapsed:.0f} s ({rate:.1f} a second), "
          f"{plain:.0f} B each on average uncompressed\n")
    print("| codec | bytes per event | plain / compressed | compressor CPU per event "
          "| compressor CPU per 1,000 spectators | memory per stream |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| plain | {plain:.0f} B | 1.00 | - | - | - |")
    measure("gzip level 1 (`--sse-gzip`)", gzip_stream, events, rate)
    for quality, lgwin in [(1, 16), (4, 16), (4, 18), (5, 18), (5, 22), (9, 22)]:
        measure(f"brotli q{quality} lgwin {lgwin}",
                lambda q=quality, w=lgwin: brotli_stream(q, w), events, rate)
    # A long-poll answer is compressed alone (no window shared between
    # answers): each event on its own, one-shot, as tower-http's
    # CompressionLayer does for the JSON API.
    print("\n| codec, each event alone (a long-poll answer) | bytes per event "
          "| plain / compressed | CPU per event |")
    print("|---|---:|---:|---:|")
    alone = [
        ("gzip level 6", lambda e: zlib.compress(e, 6, 31)),
        ("brotli q4", lambda e: brotli.compress(e, mode=brotli.MODE_TEXT, quality=4)),
        ("brotli q5", lambda e: brotli.compress(e, mode=brotli.MODE_TEXT, quality=5)),
        ("brotli q11", lambda e: brotli.compress(e, mode=brotli.MODE_TEXT, quality=11)),
    ]
    total = sum(len(e) for e in events)
    for name, one in alone:
        cpu = time.process_time()
        wire = sum(len(one(e)) for e in events)
        cpu = time.process_time() - cpu
        print(f"| {name} | {wire / len(events):.0f} B | {total / wire:.2f} | "
              f"{cpu / len(events) * 1e6:.1f} µs |")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"\n(peak RSS of this process {usage.ru_maxrss / 1024:.0f} MB)")


main()
