# bench/mta/latency.py — the latency scenario's own client and sink: one
# session sends messages one after another and times end-of-DATA → 250; the
# sink (a separate process, `python3 -m mta.latency sink PORT OUT`) stamps
# each message's arrival with the same system-wide monotonic clock.
import asyncio
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

SEQ_RE = re.compile(rb"X-Bench-Seq: (\d+)")


class _SinkProtocol(asyncio.Protocol):
    """Just enough SMTP for an MTA's client: EHLO with PIPELINGING, MAIL,
    RCPT, DATA, RSET, NOOP, QUIT. Appends "seq monotonic_ns" per message."""

    def __init__(self, out):
        self.out, self.buf, self.data = out, b"", None

    def connection_made(self, transport):
        self.tr = transport
        transport.write(b"220 latency-sink ESMTP\r\n")

    def data_received(self, chunk):
        self.buf += chunk
        replies = []
        while True:
            if self.data is not None:
                end = self.buf.find(b"\r\n.\r\n")
                if end < 0:
                    # Keep only what a seq header or the terminator could need.
                    break
                self.data += self.buf[:end]
                self.buf = self.buf[end + 5:]
                m = SEQ_RE.search(self.data)
                self.out.write(f"{m.group(1).decode() if m else -1} {time.monotonic_ns()}\n")
                self.out.flush()
                self.data = None
                replies.append(b"250 2.0.0 Ok")
                continue
            nl = self.buf.find(b"\r\n")
            if nl < 0:
                break
            line, self.buf = self.buf[:nl], self.buf[nl + 2:]
            verb = line[:4].upper()
            if verb == b"EHLO":
                replies.append(b"250-latency-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 100000000")
            elif verb == b"DATA":
                self.data = b""
                self.buf = b"\r\n" + self.buf  # a terminator right away still matches
                replies.append(b"354 End data with <CR><LF>.<CR><LF>")
            elif verb == b"QUIT":
                replies.append(b"221 2.0.0 Bye")
                self.tr.write(b"\r\n".join(replies) + b"\r\n")
                self.tr.close()
                return
            else:
                replies.append(b"250 2.0.0 Ok")
        if replies:
            self.tr.write(b"\r\n".join(replies) + b"\r\n")


async def _serve(port, out_path):
    with open(out_path, "w") as out:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _SinkProtocol(out), "127.0.0.1", port, backlog=256)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()


class LatencySink:
    """The sink as a child process; .arrivals() maps seq → monotonic seconds."""

    def __init__(self, port, out_path):
        self.port, self.out_path = port, Path(out_path)
        self.proc = subprocess.Popen([sys.executable, "-m", "mta.latency", "sink", str(port), str(out_path)],
                                     cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE)
        if self.proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("latency sink did not start")

    def arrivals(self):
        out = {}
        try:
            for line in self.out_path.read_text().splitlines():
                seq, ns = line.split()
                out[int(seq)] = int(ns) / 1e9
        except (OSError, ValueError):
            pass
        return out

    def close(self):
        self.proc.terminate()
        self.proc.wait(5)


def _read_reply(sock, buf):
    """Reads one (possibly multi-line) SMTP reply; returns (code, rest)."""
    while True:
        while b"\r\n" in buf:
            line, buf = buf.split(b"\r\n", 1)
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), buf
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk


def send_sequential(port, count, size=4096, rcpt="bench@relay.example", first_seq=0):
    """One session, `count` messages one after another. Returns {seq: (t_eod,
    t_250)} with t_eod taken just before the final ".\r\n" is written."""
    body_line = b"X" * 76 + b"\r\n"
    body = body_line * max(1, size // len(body_line))
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    code, buf = _read_reply(sock, buf)
    sock.sendall(b"EHLO latency.bench.example\r\n")
    code, buf = _read_reply(sock, buf)
    times = {}
    for seq in range(first_seq, first_seq + count):
        sock.sendall(b"MAIL FROM:<lat@bench.example>\r\nRCPT TO:<" + rcpt.encode() + b">\r\nDATA\r\n")
        for _ in range(3):
            code, buf = _read_reply(sock, buf)
        if code != 354:
            raise RuntimeError(f"DATA answered {code}")
        sock.sendall(b"Subject: latency\r\nX-Bench-Seq: %d\r\n\r\n" % seq + body)
        t_eod = time.monotonic()
        sock.sendall(b".\r\n")
        code, buf = _read_reply(sock, buf)
        t_250 = time.monotonic()
        if code != 250:
            raise RuntimeError(f"end of DATA answered {code}")
        times[seq] = (t_eod, t_250)
    sock.sendall(b"QUIT\r\n")
    sock.close()
    return times


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "sink":
    try:
        asyncio.run(_serve(int(sys.argv[2]), sys.argv[3]))
    except KeyboardInterrupt:
        pass
