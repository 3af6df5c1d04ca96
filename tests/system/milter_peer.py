# tests/system/milter_peer.py — a scripted milter (the filter side of the
# Sendmail milter protocol v6, written from the protocol) for the system
# tests and the bench: it records every event and macro it receives and
# answers each event as its script says — continue, edits at end of message,
# reject, hang, garbage or a closed connection.
import socket
import struct
import threading

# Events (SMFIC_*) and replies (SMFIR_*) by their one-letter codes.
ABORT, BODY, CONNECT, MACRO, EOB, HELO, HEADER, MAIL, EOH, OPTNEG, QUIT, RCPT, DATA, UNKNOWN = \
    "A", "B", "C", "D", "E", "H", "L", "M", "N", "O", "Q", "R", "T", "U"
NO_REPLY_EVENTS = {MACRO, ABORT, QUIT}


def packet(code, data=b""):
    return struct.pack(">I", len(data) + 1) + code.encode() + data


def strings(*items):
    return b"".join(i.encode() + b"\0" for i in items)


CONTINUE = packet("c")
ACCEPT = packet("a")
REJECT = packet("r")
TEMPFAIL = packet("t")
DISCARD = packet("d")


def replycode(text):
    return packet("y", text.encode() + b"\0")


def add_header(name, value):
    return packet("h", strings(name, value))


def chg_header(index, name, value):
    return packet("m", struct.pack(">I", index) + strings(name, value))


def ins_header(index, name, value):
    return packet("i", struct.pack(">I", index) + strings(name, value))


def add_rcpt(addr):
    return packet("+", strings(addr))


def del_rcpt(addr):
    return packet("-", strings(addr))


def chg_from(addr):
    return packet("e", strings(addr))


def repl_body(data):
    return packet("b", data)


def quarantine(reason):
    return packet("q", strings(reason))


class Milter:
    """A milter on 127.0.0.1:port (or a unix socket at path). script maps an
    event code to what it answers: a list of packets (bytes), or "hang",
    "garbage", "close". Unlisted events get SMFIR_CONTINUE."""

    def __init__(self, script=None, path=None, protocol=0, actions=0x1FF):
        self.script = dict(script or {})
        self.protocol, self.actions = protocol, actions
        self.events = []         # (code, data) of every event, in order
        self.macros = {}         # macro name -> last value seen
        self.connections = 0
        self.lock = threading.Lock()
        if path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(str(path))
            self.name = f"unix:{path}"
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]
            self.name = f"inet:127.0.0.1:{self.port}"
        self.sock.listen(128)
        self.open = []
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.stopped = True
        self.sock.close()
        for c in list(self.open):
            try:
                c.close()
            except OSError:
                pass

    def seen(self, code):
        with self.lock:
            return [d for c, d in self.events if c == code]

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            self.open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _read(conn, n):
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def _serve(self, conn):
        try:
            while True:
                (length,) = struct.unpack(">I", self._read(conn, 4))
                body = self._read(conn, length)
                code, data = chr(body[0]), body[1:]
                if not self._handle(conn, code, data):
                    return
        except (EOFError, OSError):
            pass
        finally:
            conn.close()

    def _handle(self, conn, code, data):
        if code == OPTNEG:
            conn.sendall(packet(OPTNEG, struct.pack(">III", 6, self.actions, self.protocol)))
            return True
        if code == MACRO:
            parts = data[1:].split(b"\0")
            with self.lock:
                for i in range(0, len(parts) - 1, 2):
                    self.macros[parts[i].decode()] = parts[i + 1].decode()
            return True
        with self.lock:
            self.events.append((code, data))
        if code == QUIT:
            return False
        if code in NO_REPLY_EVENTS:
            return True
        if self.protocol & NO_REPLY_BITS.get(code, 0):
            return True
        action = self.script.get(code, [CONTINUE])
        if callable(action):
            action = action(data)
        if action == "hang":
            threading.Event().wait(3600)
            return False
        if action == "garbage":
            conn.sendall(b"\xff\xff\xff\xffgarbage that is no milter packet")
            return True
        if action == "close":
            return False
        conn.sendall(b"".join(action))
        return True


# SMFIP_NR_* bits: events the milter told the MTA it will not answer.
NO_REPLY_BITS = {CONNECT: 1 << 12, HELO: 1 << 13, MAIL: 1 << 14, RCPT: 1 << 15, DATA: 1 << 16,
                 UNKNOWN: 1 << 17, HEADER: 1 << 7, EOH: 1 << 18, BODY: 1 << 19}
SKIP = 1 << 10


if __name__ == "__main__":  # bench: a no-op milter that accepts everything, until killed
    import sys
    import time
    m = Milter()
    print(m.port, flush=True)
    sys.stdout.close()
    while True:
        time.sleep(3600)
