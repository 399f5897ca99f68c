#!/usr/bin/env python3
"""One client address floods SSE streams over cleartext HTTP/2 (h2c): 20
connections of 150 streams each, on the default room's feed. Prints the
server's resident memory, the spectators it counts and the default room's
tick rate (ticks its histogram counted over 10 s), idle and during the flood.
Loopback only; the server is started here and stopped by its pid.

    scripts/h2-stream-flood.py target/release/skirmish-server
"""
import json, os, re, signal, socket, struct, subprocess, sys, threading, time

BIN = sys.argv[1]
CRLF = b"\r\n"


def start(extra=(), prefix=()):
    p = subprocess.Popen([*prefix, BIN, "--bind", "127.0.0.1:0", "--bots", "0", "--log-format", "json", *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "info"}, text=True)
    lines = []
    addr = None
    while addr is None:
        line = p.stdout.readline()
        lines.append(line)
        if '"listening"' in line:
            a = json.loads(line)["fields"]["addr"]
            host, port = a.rsplit(":", 1)
            addr = (host, int(port))
    t = threading.Thread(target=lambda: [lines.append(l) for l in p.stdout], daemon=True)
    t.start()
    return p, addr, lines

def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload

def h2_get(path, authority, stream):
    block = bytes([0x82, 0x86, 0x04, len(path)]) + path.encode() + bytes([0x01, len(authority)]) + authority.encode()
    return frame(1, 0x5, stream, block)

def read_frame(s):
    head = b""
    while len(head) < 9:
        c = s.recv(9 - len(head))
        if not c: return None
        head += c
    n = int.from_bytes(head[:3], "big")
    payload = b""
    while len(payload) < n:
        c = s.recv(n - len(payload))
        if not c: return None
        payload += c
    kind, flags = head[3], head[4]
    sid = int.from_bytes(head[5:9], "big") & 0x7fffffff
    if kind == 4 and not flags & 1: s.sendall(frame(4, 1, 0))
    if kind == 6 and not flags & 1: s.sendall(frame(6, 1, 0, payload))
    return kind, flags, sid, payload

def h2_connect(addr):
    s = socket.create_connection(addr)
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0))
    return s

def rooms(addr):
    s = socket.create_connection(addr)
    s.sendall(b"GET /api/rooms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        c = s.recv(65536)
        if not c: break
        data += c
    body = data.split(b"\r\n\r\n", 1)[1]
    # chunked or not
    m = re.search(rb'"spectators":(\d+)', body)
    return int(m.group(1))

def rss(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"): return l.split()[1] + " kB"



def metrics(addr):
    s = socket.create_connection(addr)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        c = s.recv(65536)
        if not c: break
        data += c
    return data.decode(errors="replace")

def ticks(addr):
    m = re.search(r'skirmish_tick_duration_seconds_count\{room="main"\} (\d+)', metrics(addr))
    return int(m.group(1))

def rate(addr, secs=10):
    a = ticks(addr); time.sleep(secs); b = ticks(addr)
    return (b - a) / secs

p, addr, _ = start()
time.sleep(1)
print(f"idle: RSS {rss(p.pid)}, main {rate(addr):.1f} Hz")
auth = f"{addr[0]}:{addr[1]}"
conns = []
for c in range(20):
    s = h2_connect(addr); conns.append(s); sid = 1
    for i in range(150):
        s.sendall(h2_get("/api/rooms/main/events", auth, sid)); sid += 2
def drain(s):
    s.settimeout(0.5)
    while True:
        try:
            if read_frame(s) is None: return
        except socket.timeout:
            continue
        except OSError:
            return
for s in conns:
    threading.Thread(target=drain, args=(s,), daemon=True).start()
time.sleep(2)
print(f"flood (20 h2c connections x 150 SSE streams, one address): {rooms(addr)} spectators, RSS {rss(p.pid)}, main {rate(addr):.1f} Hz")
p.send_signal(signal.SIGTERM); p.wait()
