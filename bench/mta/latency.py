# bench/mta/latency.py — the latency scenario's own client and sink: one
# session sends messages one after another and times end-of-DATA → 250; the
# sink (a separate process, `python3 -m mta.latency sink PORT OUT`) stamps
# each message's arrival with the same system-wide monotonic clock.
import asyncio
import re
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

SEQ_RE = re.compile(rb"X-Bench-Seq: (\d+)")


class _SinkProtocol(asyncio.Protocol):
    """Just enough SMTP for an MTA's client: EHLO with PIPELINGING (and
    STARTTLS when given a TLS context), MAIL, RCPT, DATA, RSET, NOOP, QUIT.
    Appends "seq monotonic_ns recipients tls(0/1)" per message; the body is not kept
    past the line being searched for the seq header and the terminator."""

    def __init__(self, out, tls=None):
        self.out, self.buf, self.data, self.tls, self.rcpts = out, b"", None, tls, 0
        self.upgrading = False

    def connection_made(self, transport):
        self.tr = transport
        transport.write(b"220 latency-sink ESMTP\r\n")

    def data_received(self, chunk):
        self.buf += chunk
        if self.upgrading:
            return  # answered once start_tls has handed over the TLS transport
        replies = []
        while True:
            if self.data is not None:
                end = self.buf.find(b"\r\n.\r\n")
                if end < 0:
                    # Keep only what a seq header or the terminator could need.
                    if len(self.buf) > 4096:
                        if self.seq is None:
                            self.seq = _seq(self.buf)
                        self.buf = self.buf[-64:]
                    break
                seq = self.seq if self.seq is not None else _seq(self.buf[:end])
                self.buf = self.buf[end + 5:]
                tls = 1 if self.tr.get_extra_info("sslcontext") else 0
                self.out.write(f"{seq} {time.monotonic_ns()} {self.rcpts} {tls}\n")
                self.out.flush()
                self.data, self.rcpts = None, 0
                replies.append(b"250 2.0.0 Ok")
                continue
            nl = self.buf.find(b"\r\n")
            if nl < 0:
                break
            line, self.buf = self.buf[:nl], self.buf[nl + 2:]
            verb = line[:4].upper()
            if verb == b"EHLO":
                tls = b"250-STARTTLS\r\n" if self.tls and not self.tr.get_extra_info("sslcontext") else b""
                replies.append(b"250-latency-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n" + tls +
                               b"250 SIZE 100000000")
            elif verb == b"STAR" and self.tls:
                self.tr.write(b"\r\n".join(replies + [b"220 2.0.0 Ready to start TLS"]) + b"\r\n")
                self.tr.pause_reading()  # the ClientHello is for start_tls, not for this loop
                self.buf, self.upgrading = b"", True
                asyncio.ensure_future(self._starttls())
                return
            elif verb == b"RCPT":
                self.rcpts += 1
                replies.append(b"250 2.1.5 Ok")
            elif verb == b"DATA":
                self.data, self.seq = b"", None
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


    async def _starttls(self):
        try:
            self.tr = await asyncio.get_running_loop().start_tls(self.tr, self, self.tls, server_side=True)
        except (OSError, ssl.SSLError, ConnectionError):
            return
        self.upgrading = False
        if self.buf:
            self.data_received(b"")


def _seq(head):
    m = SEQ_RE.search(head)
    return int(m.group(1)) if m else -1


async def _serve(port, out_path, hosts, tls):
    ctx = None
    if tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*tls)
    with open(out_path, "w") as out:
        loop = asyncio.get_running_loop()
        servers = [await loop.create_server(lambda: _SinkProtocol(out, ctx), h, port, backlog=1024) for h in hosts]
        print("ready", flush=True)
        await asyncio.gather(*(s.serve_forever() for s in servers))


class LatencySink:
    """The sink as a child process on port of each of `hosts` (STARTTLS with
    tls = (cert, key)); .arrivals() maps seq → monotonic seconds,
    .recipients() counts the recipients of every message received so far,
    .all_tls() says whether every one came over TLS."""

    def __init__(self, port, out_path, hosts=("127.0.0.1",), tls=None):
        self.port, self.out_path = port, Path(out_path)
        argv = [sys.executable, "-m", "mta.latency", "sink", str(port), str(out_path), ",".join(hosts)]
        argv += [str(f) for f in tls or ()]
        self.proc = subprocess.Popen(argv, cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE)
        if self.proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("latency sink did not start")

    def _lines(self):
        try:
            return [line.split() for line in self.out_path.read_text().splitlines()]
        except OSError:
            return []

    def arrivals(self):
        return {int(f[0]): int(f[1]) / 1e9 for f in self._lines() if len(f) == 4}

    def recipients(self):
        return sum(int(f[2]) for f in self._lines() if len(f) == 4)

    def deliveries(self):
        """Transactions received (a message to several sinks counts at each)."""
        return sum(1 for f in self._lines() if len(f) == 4)

    def all_tls(self):
        lines = [f for f in self._lines() if len(f) == 4]
        return bool(lines) and all(f[3] == "1" for f in lines)

    def wait_recipients(self, n, timeout):
        """Waits until n recipients arrived; the monotonic time they had, or None."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.recipients() >= n:
                return time.monotonic()
            time.sleep(0.1)
        return None

    def close(self):
        self.proc.terminate()
        self.proc.wait(5)


def _read_reply(sock, buf, lines=None):
    """Reads one (possibly multi-line) SMTP reply; returns (code, rest).
    Its lines are appended to `lines` when given."""
    while True:
        while b"\r\n" in buf:
            line, buf = buf.split(b"\r\n", 1)
            if lines is not None:
                lines.append(line)
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
    ehlo = []
    code, buf = _read_reply(sock, buf, ehlo)
    # Pipelined only where the server says it may be (OpenSMTPD does not).
    pipelining = any(l[4:].upper().startswith(b"PIPELINING") for l in ehlo)
    times = {}
    for seq in range(first_seq, first_seq + count):
        cmds = [b"MAIL FROM:<lat@bench.example>\r\n", b"RCPT TO:<" + rcpt.encode() + b">\r\n", b"DATA\r\n"]
        if pipelining:
            cmds = [b"".join(cmds)]
        for c in cmds:
            sock.sendall(c)
            for _ in range(1 if len(cmds) == 3 else 3):
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


if __name__ == "__main__" and len(sys.argv) in (5, 7) and sys.argv[1] == "sink":
    try:
        asyncio.run(_serve(int(sys.argv[2]), sys.argv[3], sys.argv[4].split(","), sys.argv[5:7]))
    except KeyboardInterrupt:
        pass
