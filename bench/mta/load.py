# bench/mta/load.py — the load generator of the scenarios smtp-source cannot
# drive: STARTTLS (tls_relay) and recipients across many domains (fan-out).
# Runs as its own process (`python3 -m mta.load …`, prints one JSON line):
# SESSIONS sessions in parallel share MESSAGES messages; with --per-session K
# each session carries K messages and the next one connects anew (a fresh TLS
# handshake each time).
import argparse
import asyncio
import json
import ssl
import subprocess
import sys
import time
from pathlib import Path


async def _reply(reader, lines=None):
    """One (possibly multi-line) reply: its code (its lines appended to `lines`)."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        if lines is not None:
            lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3])


async def _expect(reader, want, what, lines=None):
    code = await _reply(reader, lines)
    if code != want:
        raise RuntimeError(f"{what} answered {code}")


def _pipelining(ehlo):
    return any(l[4:].upper().startswith(b"PIPELINING") for l in ehlo)


async def _transaction(reader, writer, rcpts, pipelining):
    """MAIL, RCPT…, DATA: in one write when the server pipelines (OpenSMTPD does not)."""
    cmds = [b"MAIL FROM:<load@bench.example>\r\n"] + [b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts] + \
           [b"DATA\r\n"]
    if pipelining:
        writer.write(b"".join(cmds))
    for i, c in enumerate(cmds):
        if not pipelining:
            writer.write(c)
        await _expect(reader, 354 if i == len(cmds) - 1 else 250, c.split(b":")[0].strip().decode())


def _recipients(args, k):
    if args.domains:
        return [f"u{k}.{j}@d{j % args.domains}.example" for j in range(args.rcpts)]
    return [args.rcpt]


async def _session(args, ctx, queue, body, stats):
    reader, writer = await asyncio.open_connection("127.0.0.1", args.port, limit=1 << 20)
    await _expect(reader, 220, "greeting")
    ehlo = []
    writer.write(b"EHLO load.bench.example\r\n")
    await _expect(reader, 250, "EHLO", ehlo)
    if ctx:
        writer.write(b"STARTTLS\r\n")
        await _expect(reader, 220, "STARTTLS")
        await writer.start_tls(ctx)
        stats["handshakes"] += 1
        ehlo = []
        writer.write(b"EHLO load.bench.example\r\n")
        await _expect(reader, 250, "EHLO after STARTTLS", ehlo)
    pipelining = _pipelining(ehlo)
    sent = 0
    while not queue.empty() and (not args.per_session or sent < args.per_session):
        k = queue.get_nowait()
        await _transaction(reader, writer, _recipients(args, k), pipelining)
        writer.write(b"Subject: load\r\nX-Bench-Seq: %d\r\n\r\n" % k + body + b".\r\n")
        await _expect(reader, 250, "end of DATA")
        sent += 1
        stats["messages"] += 1
    writer.write(b"QUIT\r\n")
    await _reply(reader)
    writer.close()
    stats["sessions"] += 1


async def _worker(args, ctx, queue, body, stats):
    while not queue.empty():
        await _session(args, ctx, queue, body, stats)


async def _main(args):
    ctx = None
    if args.tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    line = b"X" * 76 + b"\r\n"
    body = line * max(1, args.size // len(line))
    queue = asyncio.Queue()
    for k in range(args.messages):
        queue.put_nowait(k)
    stats = {"messages": 0, "sessions": 0, "handshakes": 0}
    t0 = time.monotonic()
    await asyncio.gather(*(_worker(args, ctx, queue, body, stats) for _ in range(args.sessions)))
    stats["seconds"] = time.monotonic() - t0
    return stats


def run(port, messages, sessions=20, size=4096, rcpt="bench@relay.example", tls=False, per_session=0,
        domains=0, rcpts=1, timeout=600):
    """Runs the generator as a child process; returns its stats (messages,
    sessions, handshakes, seconds)."""
    argv = [sys.executable, "-m", "mta.load", str(port), str(messages), "--sessions", str(sessions),
            "--size", str(size), "--rcpt", rcpt, "--per-session", str(per_session), "--domains", str(domains),
            "--rcpts", str(rcpts)] + (["--tls"] if tls else [])
    r = subprocess.run(argv, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"load generator failed: {r.stderr.strip()[-400:]}")
    return json.loads(r.stdout)


def main():
    p = argparse.ArgumentParser(prog="mta.load")
    p.add_argument("port", type=int)
    p.add_argument("messages", type=int)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--rcpt", default="bench@relay.example")
    p.add_argument("--tls", action="store_true", help="STARTTLS in every session")
    p.add_argument("--per-session", type=int, default=0, help="messages per session (0: as many as there are)")
    p.add_argument("--domains", type=int, default=0, help="recipients u<msg>.<j>@d<j mod DOMAINS>.example")
    p.add_argument("--rcpts", type=int, default=1, help="recipients per message with --domains")
    print(json.dumps(asyncio.run(_main(p.parse_args()))))


if __name__ == "__main__":
    main()
