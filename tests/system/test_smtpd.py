# tests/system/test_smtpd.py — smtpd's protocol end to end: real master, real
# smtpd on a loopback port, smtplib/swaks/raw sockets as clients, and the
# queue read back with qtool dump to check envelopes and exact bodies.
# The helpers here are shared by test_smtpd_policy.py and test_smtpd_robust.py.
import os
import smtplib
import socket
import subprocess

import pytest

from conftest import free_port, wait_for

DEFAULTS = {
    "mydestination": "mx.postern.test, localhost",
    "local_recipient_maps": "inline:{ alice=1, bob=1 }",
    "alias_maps": "",
    "mynetworks": "127.0.0.1/32",
    "smtpd_error_sleep_time": "0",
}


class Raw:
    """A byte-exact SMTP client: send anything, read whole replies."""

    def __init__(self, port, source="127.0.0.1", timeout=10.0, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # fixed before connect: the kernel then never grows it
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.greeting = self.reply()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed; pending {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """(code, text of the last line) of one possibly multi-line reply."""
        lines = []
        while True:
            line = self._line()
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), line[4:]

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def ehlo(self, name="client.test"):
        """The EHLO reply's lines, without the code."""
        self.send(f"EHLO {name}\r\n")
        lines = []
        while True:
            line = self._line()
            lines.append(line[4:])
            if line[3] == " ":
                return lines

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def closed(self, timeout=5.0):
        """True once the server closed the connection (EOF) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


class Smtpd:
    def __init__(self, instance, port):
        self.instance = instance
        self.port = port

    def smtp(self, source="127.0.0.1", helo="client.test"):
        c = smtplib.SMTP("127.0.0.1", self.port, local_hostname=helo, timeout=10, source_address=(source, 0))
        return c

    def raw(self, source="127.0.0.1", rcvbuf=None):
        return Raw(self.port, source, rcvbuf=rcvbuf)

    def queue(self):
        """Every message in the queue: dicts with body as bytes."""
        return self.instance.queue_messages()

    def message(self, msgid):
        found = [m for m in self.queue() if m["id"] == msgid]
        assert found, f"{msgid} not in queue"
        return found[0]

    def pids(self):
        return self.instance.workers("smtpd")

    def log(self):
        return self.instance.log()


def start_smtpd(instance, master_opts="", **params):
    """Adds an smtpd service on a free port with DEFAULTS and params, starts
    the instance, and waits until the port answers."""
    p = dict(DEFAULTS)
    p.update(params)
    instance.set(**p)
    port = free_port()
    instance.add_service(f"127.0.0.1:{port} inet n - n - - smtpd -o max_use=0 {master_opts}".rstrip())
    instance.start()
    s = Smtpd(instance, port)
    r = wait_for(lambda: _greets(port), timeout=10, what="smtpd greeting")
    assert r.startswith(b"220 "), r
    return s


def _greets(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            data = c.recv(512)
            c.sendall(b"QUIT\r\n")
            return data
    except OSError:
        return None


def strip_received(body):
    """Checks the Received: header smtpd put first and returns the rest."""
    assert body.startswith(b"Received: from "), body[:200]
    lines = body.split(b"\r\n")
    i = 1
    while lines[i].startswith(b"\t"):
        i += 1
    return b"\r\n".join(lines[i:])


@pytest.fixture
def smtpd(instance):
    return start_smtpd(instance)


# --- greeting and EHLO -----------------------------------------------------

def test_greeting_and_ehlo_advertise_extensions(smtpd):
    c = smtpd.raw()
    assert c.greeting == (220, "mx.postern.test ESMTP postern")
    assert c.ehlo() == ["mx.postern.test", "PIPELINING", "SIZE 10240000", "ENHANCEDSTATUSCODES",
                        "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"]
    assert c.cmd("HELO client.test") == (250, "mx.postern.test")
    assert c.cmd("QUIT") == (221, "2.0.0 Bye")
    assert c.closed()


# --- messages into the queue -------------------------------------------------

def test_two_recipients_queued_with_exact_body(smtpd):
    content = (b"From: a@example.org\r\nSubject: dots\r\n\r\n.\r\n..two\r\n.leading\r\nplain\r\n"
               b"x" * 3000 + b"\r\n")
    with smtpd.smtp() as c:
        refused = c.sendmail("a@example.org", ["alice@mx.postern.test", "bob@localhost"], content)
        assert refused == {}
    [m] = smtpd.queue()
    assert m["sender"] == "a@example.org"
    assert m["rcpts"] == ["alice@mx.postern.test", "bob@localhost"]
    assert m["nrcpt"] == 2
    assert all(r["state"] == "incoming" for r in m["recipients"])
    assert strip_received(m["body"]) == content
    assert m["size"] == len(m["body"])
    assert m["helo"] == "client.test" and m["client_addr"] == "127.0.0.1" and m["protocol"] == "ESMTP"


def test_received_header_names_queue_id_and_return_path_is_removed(smtpd):
    c = smtpd.raw()
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd("RCPT TO:<alice@localhost>")
    assert c.cmd("DATA")[0] == 354
    c.send("Return-Path: <forged@evil.test>\r\nSubject: x\r\nReturn-path:\r\n <folded@evil.test>\r\n\r\nbody\r\n.\r\n")
    code, text = c.reply()
    assert code == 250 and text.startswith("2.0.0 Ok: queued as ")
    msgid = text.split()[-1]
    assert len(msgid) == 8
    m = smtpd.message(msgid)
    body = m["body"]
    first = body.split(b"\r\n")[:3]
    assert first[0] == b"Received: from client.test (unknown [127.0.0.1])"
    assert first[1] == f"\tby mx.postern.test (postern) with ESMTP id {msgid}".encode()
    assert first[2].startswith(b"\tfor <alice@localhost>; ")
    assert b"Return-Path" not in body and b"Return-path" not in body and b"evil" not in body
    assert strip_received(body) == b"Subject: x\r\n\r\nbody\r\n"
    assert f"{msgid}: client=unknown[127.0.0.1]" in smtpd.log()


def test_pipelined_commands_are_answered_in_order_in_one_batch(smtpd):
    # The order and text of the replies: dialogues/pipelined-transaction.txt.
    # Here: they leave in one write (smtpd's io trace counts each), and the
    # message holds the two good recipients.
    assert smtpd.instance.postern("trace", "io").returncode == 0
    c = smtpd.raw()
    c.cmd("EHLO client.test")
    mark = smtpd.instance.log_mark()
    c.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@localhost>\r\nRCPT TO:<nobody@localhost>\r\n"
           "RCPT TO:<bob@localhost>\r\nDATA\r\n")
    c.sock.settimeout(10)
    while c.buf.count(b"\n") < 5:
        c.buf += c.sock.recv(65536)
    batch = len(c.buf)
    assert [code for code, _ in c.replies(5)] == [250, 250, 550, 250, 354]
    first = smtpd.instance.wait_log(r"trace: io: unknown\[127\.0\.0\.1\]: write (\d+) bytes", since=mark)
    assert int(first.group(1)) == batch
    c.send("Subject: p\r\n\r\nhi\r\n.\r\nQUIT\r\n")
    code, text = c.reply()
    assert code == 250
    assert c.reply() == (221, "2.0.0 Bye")
    m = smtpd.message(text.split()[-1])
    assert m["rcpts"] == ["alice@localhost", "bob@localhost"]


def test_bdat_chunks_are_queued_byte_exact(smtpd):
    c = smtpd.raw()
    c.cmd("EHLO client.test")
    part1 = b"Subject: chunks\r\n\r\n.not stuffed\r\n"
    part2 = b"bare\nlf and end\r\n"
    c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@localhost>\r\n" +
           b"BDAT %d\r\n" % len(part1) + part1 + b"BDAT %d LAST\r\n" % len(part2) + part2)
    assert c.replies(3) == [(250, "2.1.0 Ok"), (250, "2.1.5 Ok"), (250, f"2.0.0 Ok: {len(part1)} bytes")]
    code, text = c.reply()
    assert code == 250 and text.startswith("2.0.0 Ok: queued as ")
    m = smtpd.message(text.split()[-1])
    assert strip_received(m["body"]) == part1 + b"bare\r\nlf and end\r\n"
    assert c.cmd("QUIT")[0] == 221
    assert "bdat=2" in smtpd.instance.wait_log(r"disconnect from .* bdat=2").group(0)


def test_bdat_without_transaction_is_refused_and_its_chunk_skipped(smtpd):
    c = smtpd.raw()
    c.cmd("EHLO client.test")
    c.send(b"BDAT 12\r\nNOOP\r\nNOOP\r\n")
    assert c.reply() == (503, "5.5.1 Error: need MAIL command")
    assert c.cmd("NOOP") == (250, "2.0.0 Ok")  # the chunk's "NOOP"s were not run
    c.cmd("MAIL FROM:<a@example.org>")
    c.send(b"BDAT 3 LAST\r\nabc")
    assert c.reply() == (554, "5.5.1 Error: no valid recipients")
    assert smtpd.queue() == []


def test_size_over_limit_is_refused_at_mail(instance):
    s = start_smtpd(instance, message_size_limit="1000")
    c = s.raw()
    assert "SIZE 1000" in c.ehlo()
    assert c.cmd("MAIL FROM:<a@example.org> SIZE=1001") == (552, "5.3.4 Message size exceeds fixed limit")
    assert c.cmd("MAIL FROM:<a@example.org> SIZE=1000") == (250, "2.1.0 Ok")


def test_content_over_size_limit_is_refused_and_nothing_queued(instance):
    # Over the 32 KiB kept inline in the queue's commit, so the body has
    # become a file by the time the limit is hit: that file must go too.
    s = start_smtpd(instance, message_size_limit="50000")
    c = s.raw()
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd("RCPT TO:<alice@localhost>")
    c.cmd("DATA")
    c.send(b"Subject: big\r\n\r\n" + (b"y" * 70 + b"\r\n") * 1000 + b".\r\n")
    assert c.reply() == (552, "5.3.4 Error: message file too big")
    assert c.cmd("RSET") == (250, "2.0.0 Ok")
    assert s.queue() == []
    data = instance.queue_dir / "data"
    assert [p for p in data.rglob("*") if p.is_file()] == []  # the refused body is gone too


def test_8bitmime_and_smtputf8_are_accepted_and_recorded(smtpd):
    content = "Subject: caf\u00e9\r\n\r\nna\u00efve \u00fcber\r\n".encode()
    with smtpd.smtp() as c:
        c.ehlo("client.test")
        c.sendmail("j\u00f6rg@example.org", ["alice@localhost"], content, mail_options=["BODY=8BITMIME", "SMTPUTF8"])
    [m] = smtpd.queue()
    assert m["flags"] & 1 and m["flags"] & 2  # kFlag8BitMime, kFlagSmtpUtf8
    assert m["sender"] == "j\u00f6rg@example.org"
    assert strip_received(m["body"]) == content
    assert b"with UTF8SMTP id" in m["body"]


def test_dsn_parameters_are_recorded(smtpd):
    c = smtpd.raw()
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<a@example.org> RET=HDRS ENVID=abc+2Bdef")[0] == 250
    assert c.cmd("RCPT TO:<alice@localhost> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;alice+40localhost")[0] == 250
    c.cmd("DATA")
    c.send("Subject: dsn\r\n\r\nx\r\n.\r\n")
    code, text = c.reply()
    m = smtpd.message(text.split()[-1])
    assert m["envid"] == "abc+def" and m["ret"] == 2
    [r] = m["recipients"]
    assert r["notify"] == 2 | 4
    assert r["orcpt"] == "rfc822;alice@localhost"


def test_swaks_delivers_a_message(smtpd):
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{smtpd.port}", "--from", "s@example.org",
                        "--to", "alice@mx.postern.test", "--helo", "swaks.test", "--header", "Subject: swaks",
                        "--body", "hello from swaks", "--pipeline"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "250 2.0.0 Ok: queued as" in r.stdout
    [m] = smtpd.queue()
    assert m["rcpts"] == ["alice@mx.postern.test"]
    assert b"hello from swaks" in m["body"] and b"Subject: swaks" in m["body"]


# --- sequence and the small commands: dialogues/*.txt (test_dialogues.py) ---

def test_disconnect_line_counts_commands_postfix_style(smtpd):
    mark = smtpd.instance.log_mark()
    c = smtpd.raw()
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd("RCPT TO:<carol@localhost>")
    c.cmd("RCPT TO:<alice@localhost>")
    c.cmd("DATA")
    c.send("x\r\n.\r\n")
    c.reply()
    c.cmd("QUIT")
    smtpd.instance.wait_log(r"disconnect from unknown\[127\.0\.0\.1\] ehlo=1 mail=1 rcpt=1/2 data=1 quit=1 "
                            r"commands=5/6$", since=mark)
    smtpd.instance.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 550 5\.1\.1 <carol@localhost>: "
                            r"Recipient address rejected: User unknown in local recipient table; "
                            r"from=<a@example\.org> to=<carol@localhost> proto=ESMTP helo=<client\.test>", since=mark)


def test_qmgr_is_triggered_after_commit(smtpd):
    path = smtpd.instance.queue_dir / "public" / "qmgr"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    os.chmod(path, 0o666)  # smtpd may run as mail_owner
    srv.listen(8)
    srv.settimeout(10)
    try:
        with smtpd.smtp() as c:
            c.sendmail("a@example.org", ["alice@localhost"], b"Subject: t\r\n\r\nx\r\n")
        conn, _ = srv.accept()
        conn.settimeout(5)
        assert conn.recv(16) == b"I"
        conn.close()
    finally:
        srv.close()


def test_storage_trouble_answers_452_and_queues_nothing(instance):
    s = start_smtpd(instance, queue_minfree="1000000g")
    c = s.raw()
    c.cmd("EHLO client.test")
    # As Postfix's smtpd_check_queue: refused at MAIL FROM, before any content.
    assert c.cmd("MAIL FROM:<a@example.org>") == (452, "4.3.1 Insufficient system storage")
    assert c.cmd("RCPT TO:<alice@localhost>")[0] == 503
    assert s.queue() == []
    instance.wait_log(r"smtpd\[\d+\]: warning: not enough free space in mail queue: \d+ bytes <= queue_minfree")
    instance.wait_log(r"NOQUEUE: reject: MAIL from \S+: 452 4.3.1 Insufficient system storage; proto=ESMTP")


def test_local_submission_over_a_unix_socket(instance):
    s = start_smtpd(instance)
    instance.add_service("submit unix n - n - - smtpd -o max_use=0")
    instance.reload()
    path = instance.queue_dir / "public" / "submit"
    wait_for(path.exists, what=str(path))
    with smtplib.SMTP(timeout=10) as c:
        c.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.sock.settimeout(10)
        c.sock.connect(str(path))
        c.file = None
        assert c.getreply()[0] == 220
        c.ehlo("local.test")
        # A local client counts as localhost[127.0.0.1], inside mynetworks: it may relay.
        assert c.sendmail("me@localhost", ["x@other.test"], b"Subject: local\r\n\r\nhi\r\n") == {}
    [m] = s.queue()
    assert m["client_addr"] == "127.0.0.1" and m["client_name"] == "localhost"
    assert m["rcpts"] == ["x@other.test"]
    instance.wait_log(r"connect from localhost\[127\.0\.0\.1\]")
