# bench/mta/idle.py — holds N idle SMTP sessions open (greeting read, EHLO
# answered) from one process with non-blocking sockets, so the MTA's memory
# per session can be read while they sit there.
import selectors
import socket
import time


class IdleSessions:
    """Opens `n` sessions to 127.0.0.1:port, at most `burst` connecting at
    once (the listen backlog is finite); .open() returns how many reached the
    EHLO reply within `timeout`."""

    def __init__(self, port, n, burst=200, timeout=120.0):
        self.port, self.n, self.burst, self.timeout = port, n, burst, timeout
        self.socks = []

    def open(self):
        sel = selectors.DefaultSelector()
        state = {}  # sock -> [phase, buffer]; phase 0: greeting, 1: EHLO reply
        ready = started = 0
        end = time.monotonic() + self.timeout
        while ready < self.n and time.monotonic() < end:
            while started < self.n and len(state) < self.burst:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", self.port))
                state[s] = [0, b""]
                sel.register(s, selectors.EVENT_READ)
                self.socks.append(s)
                started += 1
            for key, _ in sel.select(timeout=0.5):
                s = key.fileobj
                try:
                    chunk = s.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    chunk = b""
                st = state[s]
                if not chunk:
                    sel.unregister(s)
                    del state[s]
                    continue
                st[1] += chunk
                if not _complete_reply(st[1]):
                    continue
                if st[0] == 0:
                    st[0], st[1] = 1, b""
                    s.send(b"EHLO idle.bench.example\r\n")
                else:
                    sel.unregister(s)
                    del state[s]
                    ready += 1
        sel.close()
        return ready

    def close(self):
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        self.socks = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _complete_reply(buf):
    lines = buf.split(b"\r\n")
    return any(len(l) >= 4 and l[3:4] == b" " for l in lines[:-1])
