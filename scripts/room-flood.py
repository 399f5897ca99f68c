#!/usr/bin/env python3
"""Floods a server with new room names, as an attacker would, and measures
what it costs: memory, `/metrics` size and the default room's tick rate.

    scripts/room-flood.py BINARY [--rooms N] [--sources K] [-- server flags...]

Starts BINARY (a release `skirmish-server`) on a free loopback port, then
sends N pairs of `POST /api/rooms/flood-I/join` and `.../leave`, spread
round-robin over K keep-alive connections from 127.0.0.1, 127.0.0.2, ...
(one connection per source address). Before and after, it reads resident
and peak memory from /proc, counts /metrics lines and measures the default
room's tick rate over five seconds from its tick histogram's count; it also
gives that rate over the flood itself. Stops the
server it started (by its pid) and prints one JSON object.

Loopback only; every loop is bounded by N.
"""

import argparse
import http.client
import json
import socket
import subprocess
import sys
import time

WINDOW = 5.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    body = conn.getresponse().read().decode()
    conn.close()
    return body


def series(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def memory_mib(pid, field):
    """`VmRSS` (resident now) or `VmHWM` (peak) of `pid`, in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def ticks(port, room):
    text = get(port, "/metrics")
    return series(text, f'skirmish_tick_duration_seconds_count{{room="{room}"}}')


def state(port, pid, room):
    """Memory, /metrics size, rooms, tick rate of `room` and CPU over WINDOW."""
    count = f'skirmish_tick_duration_seconds_count{{room="{room}"}}'
    first = get(port, "/metrics")
    t0 = time.monotonic()
    time.sleep(WINDOW)
    second = get(port, "/metrics")
    elapsed = time.monotonic() - t0
    ticked = series(second, count) - series(first, count)
    cpu = series(second, "skirmish_process_cpu_seconds") - series(
        first, "skirmish_process_cpu_seconds"
    )
    return {
        "rss_mib": memory_mib(pid, "VmRSS"),
        "peak_rss_mib": memory_mib(pid, "VmHWM"),
        "metrics_lines": len(second.splitlines()),
        "rooms": len(json.loads(get(port, "/api/rooms"))),
        "tick_hz": round(ticked / elapsed, 1),
        "cores": round(cpu / elapsed, 2),
    }


def flood(port, rooms, sources, room):
    conns = []
    for k in range(sources):
        conn = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=30, source_address=(f"127.0.0.{k + 1}", 0)
        )
        conns.append(conn)
    statuses = {}
    ticks_before = ticks(port, room)
    started = time.monotonic()
    for i in range(rooms):
        conn = conns[i % sources]
        conn.request(
            "POST",
            f"/api/rooms/flood-{i}/join",
            body=json.dumps({"name": "flood"}),
            headers={"content-type": "application/json"},
        )
        response = conn.getresponse()
        body = response.read()
        statuses[response.status] = statuses.get(response.status, 0) + 1
        if response.status == 200:
            token = json.loads(body)["token"]
            conn.request("POST", f"/api/sessions/{token}/leave")
            conn.getresponse().read()
    took = time.monotonic() - started
    ticked = ticks(port, room) - ticks_before
    for conn in conns:
        conn.close()
    # The default room's rate while the flood ran.
    return {
        "seconds": round(took, 2),
        "statuses": statuses,
        "tick_hz": round(ticked / took, 1) if took > 0 else None,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--rooms", type=int, default=400)
    parser.add_argument("--sources", type=int, default=1)
    parser.add_argument("--default-room", default="main")
    parser.add_argument("server_flags", nargs="*")
    args = parser.parse_args()
    if not 1 <= args.sources <= 250 or not 0 <= args.rooms <= 100_000:
        sys.exit("--sources 1..250, --rooms 0..100000")
    port = free_port()
    server = subprocess.Popen(
        [args.binary, "--bind", f"127.0.0.1:{port}", *args.server_flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                get(port, "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(1)
        before = state(port, server.pid, args.default_room)
        flooded = flood(port, args.rooms, args.sources, args.default_room)
        after = state(port, server.pid, args.default_room)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        json.dumps(
            {
                "rooms_asked": args.rooms,
                "sources": args.sources,
                "flags": args.server_flags,
                "before": before,
                "flood": flooded,
                "after": after,
            }
        )
    )


if __name__ == "__main__":
    main()
