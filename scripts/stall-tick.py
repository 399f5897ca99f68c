#!/usr/bin/env python3
"""Stalls one room's tick loop of a running skirmish-server, for tests.

Usage: stall-tick.py PID BINARY

What a real stall looks like from outside (a tick stuck in an endless loop,
a blocking call, a page fault on a dead disk): one worker thread stops in
the middle of a room's tick while the other workers go on serving HTTP and
the other rooms. This tool makes exactly that with ptrace, without any hook
in the server: it seizes every thread of PID, plants a breakpoint (int3) at
`skirmish_server::room::task::Room::tick` (its address from `nm BINARY` and
the binary's load address in /proc/PID/maps), lets every thread run, and
keeps the first thread that enters a tick stopped there, its instruction
pointer back on the function's first byte. The breakpoint is removed at
once, so every other thread and room runs normally; a thread that met the
breakpoint meanwhile is rewound and resumed.

It stalls a tick only while another thread waits in `epoll_wait`: tokio
polls its I/O and timers only from a parked worker, so a tick that stalls
the worker which had just left `epoll_wait` stalls every socket too (and
then `/healthz` cannot answer at all: the probe fails by its timeout). The
case a 503 is for is the other one, which this tool makes: a room stuck
while the rest of the process goes on. A tick entered with no other thread
in `epoll_wait` is let through (stepped over the breakpoint's original
instruction) and the next one tried. On SIGTERM before a tick stalled, the
function's first byte is put back before this exits, so no thread of the
server ever meets a breakpoint nobody traces.

It prints `STALLED <tid>` once the tick is stuck and then waits. Killing
this process (the test does, by pid) ends the ptrace sessions: the kernel
detaches the stopped thread, which resumes its tick where it stopped.
x86-64 Linux only; needs ptrace rights over PID (the same user, or root).
"""

import ctypes
import os
import signal
import subprocess
import sys

PTRACE_PEEKTEXT = 1
PTRACE_POKETEXT = 4
PTRACE_CONT = 7
PTRACE_SINGLESTEP = 9
PTRACE_GETREGS = 12
PTRACE_SETREGS = 13
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
WALL = 0x40000000
# x86-64 syscall numbers of the waits tokio's I/O driver parks in.
EPOLL_WAITS = {"232", "281", "441"}
SYMBOL = "skirmish_server::room::task::Room::tick"
# struct user_regs_struct: 27 unsigned longs, rip is the 17th.
REGS = 27
RIP = 16

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]


def ptrace(request, tid, addr=0, data=0):
    ctypes.set_errno(0)
    result = libc.ptrace(request, tid, ctypes.c_void_p(addr), ctypes.c_void_p(data))
    errno = ctypes.get_errno()
    if result == -1 and errno != 0:
        raise OSError(errno, f"ptrace({request}, {tid}): {os.strerror(errno)}")
    return result


def symbol_offset(binary):
    out = subprocess.run(["nm", "-C", binary], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in ("T", "t") and parts[2] == SYMBOL:
            return int(parts[0], 16)
    sys.exit(f"{SYMBOL} not in {binary}")


def load_base(pid, binary):
    real = os.path.realpath(binary)
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[5] == real and fields[2] == "00000000":
                return int(fields[0].split("-")[0], 16)
    sys.exit(f"{real} not mapped in {pid}")


def rewind(tid, to):
    regs = (ctypes.c_ulong * REGS)()
    ptrace(PTRACE_GETREGS, tid, 0, ctypes.addressof(regs))
    regs[RIP] = to
    ptrace(PTRACE_SETREGS, tid, 0, ctypes.addressof(regs))


def polling_io(pid, but):
    """Whether a thread of `pid` other than `but` waits in epoll now."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        if int(tid) == but:
            continue
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                if f.read().split(" ", 1)[0] in EPOLL_WAITS:
                    return True
        except OSError:
            pass
    return False


def wait_stop(tid):
    """Waits for `tid`'s next stop; its signal number."""
    _, status = os.waitpid(tid, WALL)
    return os.WSTOPSIG(status)


def main():
    pid, binary = int(sys.argv[1]), sys.argv[2]
    addr = load_base(pid, binary) + symbol_offset(binary)
    tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    for tid in tids:
        ptrace(PTRACE_SEIZE, tid)
        ptrace(PTRACE_INTERRUPT, tid)
    for tid in tids:
        wait_stop(tid)
    word = ptrace(PTRACE_PEEKTEXT, tids[0], addr) & 0xFFFFFFFFFFFFFFFF
    trap = (word & ~0xFF) | 0xCC
    ptrace(PTRACE_POKETEXT, tids[0], addr, trap)
    for tid in tids:
        ptrace(PTRACE_CONT, tid)

    def stop(_signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        follow(pid, addr, word, trap)
    finally:
        release(tids[0], addr, word)


def release(first, addr, word):
    """Puts the function's first byte back and resumes every stopped
    thread without its SIGTRAP, so the server runs on as if never traced."""
    if stalled_tid:
        ptrace(PTRACE_CONT, stalled_tid[0])
    else:
        # A breakpoint left behind would kill the server (SIGTRAP with no
        # tracer): stop one thread to write through it.
        ptrace(PTRACE_INTERRUPT, first)
        wait_stop(first)
        ptrace(PTRACE_POKETEXT, first, addr, word)
        settle(first, addr)
    while True:
        try:
            tid, status = os.waitpid(-1, WALL | os.WNOHANG)
        except ChildProcessError:
            return
        if tid == 0:
            return
        if os.WIFSTOPPED(status):
            settle(tid, addr)


def settle(tid, addr):
    """Resumes a stopped thread, back on the function's first byte if it
    stopped on the breakpoint."""
    regs = (ctypes.c_ulong * REGS)()
    ptrace(PTRACE_GETREGS, tid, 0, ctypes.addressof(regs))
    if regs[RIP] == addr + 1:
        rewind(tid, addr)
    ptrace(PTRACE_CONT, tid)


stalled_tid = []


def follow(pid, addr, word, trap):
    """Waits for threads at the breakpoint; stalls the first that may."""
    while True:
        tid, status = os.waitpid(-1, WALL)
        if not os.WIFSTOPPED(status):
            continue
        sig = os.WSTOPSIG(status)
        if sig != signal.SIGTRAP:
            # Not ours (a group stop or a signal for the server): pass it on.
            deliver = 0 if (status >> 16) == 0x80 or sig == signal.SIGSTOP else sig
            ptrace(PTRACE_CONT, tid, 0, deliver)
            continue
        rewind(tid, addr)
        if stalled_tid:
            ptrace(PTRACE_CONT, tid)
        elif polling_io(pid, tid):
            stalled_tid.append(tid)
            ptrace(PTRACE_POKETEXT, tid, addr, word)
            print(f"STALLED {tid}", flush=True)
        else:
            # Run the real first instruction, then plant the trap again.
            ptrace(PTRACE_POKETEXT, tid, addr, word)
            ptrace(PTRACE_SINGLESTEP, tid)
            wait_stop(tid)
            ptrace(PTRACE_POKETEXT, tid, addr, trap)
            ptrace(PTRACE_CONT, tid)


if __name__ == "__main__":
    main()
