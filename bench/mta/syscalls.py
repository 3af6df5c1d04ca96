# bench/mta/syscalls.py — load-independent cost of relaying: runs N messages
# (smtp-source → postern → smtp-sink) with `strace -f -ff` attached to every
# postern process, and prints system calls and syncs per message, per
# program. Unlike msg/s this hardly moves when the machine is busy.
#
#   PYTHONPATH=bench /usr/bin/python3 -m mta.syscalls BIN_DIR [-m N] [-s SESSIONS] [--latency]
#
# --latency sends the messages one after another in one session (the latency
# scenario's shape: no group commit to share). Run as root (the bench's
# instances drop to mail_owner).
import argparse
import os
import re
import signal
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from . import tools
from .instances import Postern
from .latency import LatencySink, send_sequential

SYNCS = ("fsync", "fdatasync", "syncfs", "sync_file_range", "msync")
CALL = re.compile(r"^(?:\d+\s+)?([a-z_0-9]+)\(")
EXEC = re.compile(r'^(?:\d+\s+)?execve\("([^"]+)"')


def _comm(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def _parse(path, comm):
    """One process's strace -ff file → (program, {syscall: calls}, {path: opens}).
    A worker forked during the run is named by its execve."""
    calls, opens = defaultdict(int), defaultdict(int)
    for line in Path(path).read_text(errors="replace").splitlines():
        m = EXEC.match(line)
        if m:
            comm = os.path.basename(m.group(1))
            calls.clear()  # what master did in the child before exec is master's start-up
            continue
        m = CALL.match(line)
        if m:
            calls[m.group(1)] += 1
            if m.group(1) in ("openat", "mkdir", "unlink", "connect"):
                q = line.split('"')
                if len(q) > 1:
                    opens[m.group(1) + " " + re.sub(r"/data/[0-9a-f]{2}/[0-9a-f]{8}$|/proc/\d+/", "/…/", q[1])] += 1
    return comm, calls, opens


def measure(bin_dir, n, sessions, sequential, keep=None):
    with tempfile.TemporaryDirectory(prefix="bench-sys-") as d:
        port = tools.free_port()
        sink = LatencySink(port, Path(d) / "arrivals") if sequential else tools.SmtpSink()
        sink_port = port if sequential else sink.port
        traces = []
        try:
            with Postern(bin_dir, sink_port) as mta:
                mta.start()
                # Warm-up: smtpd, qmgr and smtp running, a connection cached.
                if sequential:
                    send_sequential(mta.port, 20, first_seq=1_000_000)
                else:
                    tools.smtp_source(mta.port, 40, sessions=min(sessions, 4))
                time.sleep(1.0)
                for pid in mta.pids():
                    comm = _comm(pid)
                    if not comm:
                        continue
                    # One prefix per process: -ff adds .TID, and a prefix shared by
                    # several processes of one program would count each of them once per process.
                    out = Path(d) / f"t.{comm}-{pid}"
                    p = subprocess.Popen(["strace", "-f", "-ff", "-s", "64", "-o", str(out), "-p", str(pid)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    traces.append((comm, out, p))
                time.sleep(1.0)  # strace attached
                cpu0 = mta.cpu.cpu_ms()
                if sequential:
                    send_sequential(mta.port, n)
                    deadline = time.monotonic() + 600
                    while sum(1 for s in sink.arrivals() if s < 1_000_000) < n and time.monotonic() < deadline:
                        time.sleep(0.1)
                else:
                    tools.smtp_source(mta.port, n, sessions=sessions)
                    sink.wait_messages(n + 40, timeout=600)
                time.sleep(1.0)  # the last removals
                cpu = mta.cpu.cpu_ms()
                for _, _, p in traces:
                    p.send_signal(signal.SIGINT)
                for _, _, p in traces:
                    p.wait(30)
                if keep:
                    subprocess.run(["cp", "-r", d, keep], check=False)
                per_prog, opens = defaultdict(lambda: defaultdict(int)), defaultdict(int)
                for comm, out, _ in traces:
                    for f in Path(d).glob(out.name + ".*"):
                        prog, calls, op = _parse(f, comm)
                        for k, v in calls.items():
                            per_prog[prog][k] += v
                        for k, v in op.items():
                            opens[prog + ": " + k] += v
                return per_prog, opens, (None if cpu0 is None else (cpu - cpu0) / n)
        finally:
            sink.close()


def report(per_prog, opens, n, cpu_ms):
    total = defaultdict(int)
    print(f"{'program':10} {'calls/msg':>10} {'syncs/msg':>10}  top calls per message")
    for prog, calls in sorted(per_prog.items()):
        c = sum(calls.values())
        s = sum(v for k, v in calls.items() if k in SYNCS)
        top = sorted(calls.items(), key=lambda kv: -kv[1])[:8]
        print(f"{prog:10} {c / n:10.2f} {s / n:10.3f}  " + " ".join(f"{k}={v / n:.2f}" for k, v in top))
        for k, v in calls.items():
            total[k] += v
    c = sum(total.values())
    s = sum(v for k, v in total.items() if k in SYNCS)
    print(f"{'all':10} {c / n:10.2f} {s / n:10.3f}  " +
          " ".join(f"{k}={total[k] / n:.3f}" for k in SYNCS if total.get(k)))
    print("paths opened, created, removed or connected to, per message:")
    for k, v in sorted(opens.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {v / n:7.3f}  {k}")
    if cpu_ms is not None:
        print(f"cpu ms/msg (under strace, all postern processes): {cpu_ms:.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("bin")
    ap.add_argument("-m", "--messages", type=int, default=1000)
    ap.add_argument("-s", "--sessions", type=int, default=20)
    ap.add_argument("--latency", action="store_true", help="one session, messages one after another")
    ap.add_argument("--keep", help="copy the raw strace files to this directory")
    a = ap.parse_args()
    per_prog, opens, cpu = measure(os.path.abspath(a.bin), a.messages, a.sessions, a.latency, a.keep)
    report(per_prog, opens, a.messages, cpu)


if __name__ == "__main__":
    main()
