"""The smtp/lmtp delivery agent driven directly through its master-managed
unix socket with the delivery protocol (lib/ipc/delivery.cc), against real
peers: aiosmtpd on 127.0.0.2/127.0.0.3, a scripted SMTP/LMTP peer for the
corner cases, and dnsmasq on a loopback port serving the MX records."""
import base64
import os
import shutil
import socket
import socketserver
import struct
import subprocess
import threading
import time
from pathlib import Path

import dns.message as dns_message
import dns.rcode as dns_rcode
import dns.rdatatype as dns_rdatatype
import dns.rrset as dns_rrset
import pytest
from aiosmtpd.controller import Controller

from conftest import BIN, QTOOL, common_free_port, free_port, wait_for


# --- the delivery protocol -------------------------------------------------
def _str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">I", len(b)) + b


def encode_request(msgid, transport, nexthop, sender, rcpts, flags=0, envid="", ret=0, arrival=None):
    """rcpts: [(envelope_id, address, orig_recipient, notify_bits)]."""
    out = b"Q" + struct.pack(">I", msgid) + _str(transport) + _str(nexthop) + _str(sender)
    out += _str(envid) + bytes([ret]) + struct.pack(">I", flags)
    out += struct.pack(">Q", int(arrival if arrival is not None else time.time()))
    out += struct.pack(">I", len(rcpts))
    for env, addr, orcpt, notify in rcpts:
        out += struct.pack(">Q", env) + _str(addr) + _str(orcpt) + bytes([notify])
    return out


def decode_result(p):
    assert p[:1] == b"R", p
    pos = 1
    env, = struct.unpack_from(">Q", p, pos)
    pos += 8
    status = chr(p[pos])
    pos += 1
    fields = []
    for _ in range(3):
        n, = struct.unpack_from(">I", p, pos)
        pos += 4
        fields.append(p[pos:pos + n].decode("utf-8", "replace"))
        pos += n
    relayed = p[pos] != 0
    return dict(env=env, status=status, dsn=fields[0], reason=fields[1], relay=fields[2],
                relayed_without_dsn=relayed)


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("transport closed the connection")
        buf += chunk
    return buf


class Message:
    """One message put into the instance's queue by qtool enqueue."""

    def __init__(self, instance, body, rcpts, sender="sender@example.org", args=()):
        path = instance.root / f"body-{time.monotonic_ns()}"
        path.write_bytes(body)
        out = instance.qtool("enqueue", path, "-f", sender, *args, *rcpts).stdout.split("\n")
        self.msgid = int(out[0], 16)
        self.msgid_text = out[0]
        self.envelopes = [(int(l.split()[0], 16), l.split()[1]) for l in out[1:] if l.strip()]
        self.sender = sender
        self.body = body


def deliver(instance, msg, nexthop, transport="smtp", flags=0, envid="", ret=0, orcpt=None, notify=0,
            timeout=30):
    """Sends one delivery request for every envelope of msg; returns the
    results by recipient address, in the order they came."""
    rcpts = [(env, addr, (orcpt or {}).get(addr, ""), notify) for env, addr in msg.envelopes]
    payload = encode_request(msg.msgid, transport, nexthop, msg.sender, rcpts, flags, envid, ret)
    path = instance.queue_dir / "private" / transport
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(struct.pack(">I", len(payload)) + payload)
        results = {}
        by_env = {env: addr for env, addr in msg.envelopes}
        while True:
            n, = struct.unpack(">I", _recv_exact(s, 4))
            p = _recv_exact(s, n)
            if p[:1] == b"E":  # the end frame ("EK": the agent would take another request)
                return results
            if p[:1] == b"C":  # a connection fact, for qmgr's show hosts|routes|relays
                continue
            r = decode_result(p)
            results[by_env[r["env"]]] = r


# --- peers -----------------------------------------------------------------
class Sink:
    """aiosmtpd on host:port recording each message; RCPT answers by rules
    (substring of the address -> reply); counts EHLOs (one per connection)."""

    def __init__(self, host, port=None, rules=None, **kw):
        self.messages = []
        self.ehlos = 0
        self.rules = rules or {}
        self.port = port or free_port(host)
        self.controller = Controller(self, hostname=host, port=self.port, **kw)
        self.controller.start()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.ehlos += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        for needle, reply in self.rules.items():
            if needle in address:
                return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(dict(sender=envelope.mail_from, rcpts=list(envelope.rcpt_tos),
                                  content=envelope.original_content, mail_options=list(envelope.mail_options),
                                  peer=session.peer[0]))
        return "250 2.0.0 Ok: queued as SINK%d" % len(self.messages)

    def stop(self):
        self.controller.stop()


class Scripted:
    """A small SMTP or LMTP peer (TCP or unix socket) whose answers a test
    sets: greeting, EHLO/LHLO acceptance, extensions, RCPT rules, LMTP
    per-recipient final replies, a command it never answers. It records every
    command line and, for MAIL, whether RCPT and DATA were already waiting."""

    def peek_rest(self, sock):
        """What the client sent after MAIL without waiting for its reply. Where
        PIPELINING is offered, waits (up to 3s, a loaded machine) for the
        transaction's end (DATA or BDAT) to arrive; where it is not, a client
        that pipelines anyway is caught in the first fifth of a second."""
        end = time.monotonic() + (3.0 if "PIPELINING" in self.extensions else 0.2)
        while True:
            try:
                waiting = sock.recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                waiting = b""
            if b"DATA\r\n" in waiting or b"BDAT " in waiting or time.monotonic() > end:
                return waiting
            time.sleep(0.02)

    def __init__(self, host="127.0.0.2", port=None, path=None, greeting="220 scripted ESMTP", ehlo_ok=True,
                 extensions=("PIPELINING", "8BITMIME"), rules=None, lmtp=False, stall=None, mails_per_connection=0):
        self.greeting, self.ehlo_ok, self.extensions = greeting, ehlo_ok, list(extensions)
        self.mails_per_connection = mails_per_connection  # then the next MAIL finds the connection closed
        self.rules, self.lmtp, self.stall = rules or {}, lmtp, stall
        self.lines, self.pipelined, self.bodies, self.connections = [], [], [], 0
        peer = self

        class Handler(socketserver.StreamRequestHandler):
            rbufsize = 0  # unbuffered, so that MSG_PEEK sees what the client pipelined

            def handle(self):
                peer.connections += 1
                peer.serve(self.request, self.rfile, self.wfile)

        if path:
            self.server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
            os.chmod(path, 0o777)
        else:
            self.port = port or free_port(host)
            socketserver.ThreadingTCPServer.allow_reuse_address = True
            self.server = socketserver.ThreadingTCPServer((host, self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def serve(self, sock, rfile, wfile):
        def send(line):
            wfile.write(line.encode() + b"\r\n")
            wfile.flush()

        send(self.greeting)
        if not self.greeting.startswith("2"):
            rfile.readline()
            return
        accepted = []
        mails = 0
        while True:
            raw = rfile.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\r\n")
            self.lines.append(line)
            verb = line.split(" ")[0].upper()
            if self.stall and verb == self.stall:
                time.sleep(30)
                return
            if verb in ("EHLO", "LHLO"):
                if not self.ehlo_ok:
                    send("502 5.5.2 Error: command not recognized")
                    continue
                exts = ["scripted"] + self.extensions
                for e in exts[:-1]:
                    send("250-" + e)
                send("250 " + exts[-1])
            elif verb == "HELO":
                send("250 scripted")
            elif verb == "MAIL":
                mails += 1
                if self.mails_per_connection and mails > self.mails_per_connection:
                    return
                self.pipelined.append(b"DATA\r\n" in self.peek_rest(sock))
                accepted = []
                send("250 2.1.0 Ok")
            elif verb == "RCPT":
                reply = next((r for n, r in self.rules.items() if n in line and not self.lmtp), "250 2.1.5 Ok")
                if reply.startswith("2"):
                    accepted.append(line)
                send(reply)
            elif verb == "DATA":
                if not accepted:
                    send("554 5.5.1 Error: no valid recipients")
                    continue
                send("354 End data with <CR><LF>.<CR><LF>")
                if self.stall == "BODY":
                    time.sleep(30)  # reads nothing more: the client's writes stall
                    return
                body = b""
                while True:
                    l = rfile.readline()
                    if l in (b".\r\n", b""):
                        break
                    body += l
                self.bodies.append(body)
                if self.lmtp:
                    for rcpt in accepted:
                        send(next((r for n, r in self.rules.items() if n in rcpt), "250 2.0.0 Ok delivered"))
                else:
                    send("250 2.0.0 Ok: queued")
            elif verb == "AUTH":
                send("235 2.7.0 Authentication successful")
            elif verb == "RSET":
                send("250 2.0.0 Ok")
            elif verb == "QUIT":
                send("221 2.0.0 Bye")
                return
            else:
                send("502 5.5.2 Error: command not recognized")

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def find_dnsmasq():
    for d in ("/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin"):
        p = Path(d) / "dnsmasq"
        if os.access(p, os.X_OK):
            return str(p)
    return shutil.which("dnsmasq")


class Dnsmasq:
    """dnsmasq in the foreground on 127.0.0.1:port answering from its command
    line only (unknown .test names are NXDOMAIN)."""

    def __init__(self, records):
        binary = find_dnsmasq()
        if not binary:
            pytest.skip("dnsmasq is not installed (Debian package dnsmasq-base)")
        for _ in range(5):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
            self.proc = subprocess.Popen(
                [binary, "--no-daemon", f"--port={self.port}", "--listen-address=127.0.0.1",
                 "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=",
                 "--local=/test/", *records], stderr=subprocess.DEVNULL)
            if self._ready():
                return
            self.stop()
        raise AssertionError("dnsmasq did not start")

    def _ready(self):
        # A minimal A query for mx1.example.test until dnsmasq answers.
        q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
        for label in ("mx1", "example", "test"):
            q += bytes([len(label)]) + label.encode()
        q += b"\x00\x00\x01\x00\x01"
        end = time.monotonic() + 5
        while time.monotonic() < end and self.proc.poll() is None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.2)
                try:
                    s.sendto(q, ("127.0.0.1", self.port))
                    s.recv(512)
                    return True
                except OSError:
                    pass
        return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class BrokenMxDns:
    """A DNS server (dnspython) on 127.0.0.1: every MX query is answered
    SERVFAIL, every A query with `address`, anything else with no data; what
    a domain with a broken MX zone looks like to the smtp client."""

    def __init__(self, address):
        self.address, self.mx_queries = address, 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            q = dns_message.from_wire(data)
            r = dns_message.make_response(q)
            question = q.question[0]
            if question.rdtype == dns_rdatatype.MX:
                self.mx_queries += 1
                r.set_rcode(dns_rcode.SERVFAIL)
            elif question.rdtype == dns_rdatatype.A:
                r.answer.append(dns_rrset.from_text(question.name, 60, "IN", "A", self.address))
            self.sock.sendto(r.to_wire(), peer)

    def stop(self):
        self.running = False
        self.thread.join()
        self.sock.close()


@pytest.fixture
def port():
    """The port every MX host listens on (smtp_tcp_port): free on both 127.0.0.2 and .3."""
    return common_free_port("127.0.0.2", "127.0.0.3")


@pytest.fixture
def dns(instance):
    d = Dnsmasq([
        "--mx-host=example.test,mx1.example.test,10",
        "--mx-host=example.test,mx2.example.test,20",
        "--host-record=mx1.example.test,127.0.0.2",
        "--host-record=mx2.example.test,127.0.0.3",
        "--dns-rr=nullmx.test,15,000000",
        "--mx-host=noaddr.test,mx.noaddr.test,10",  # mx.noaddr.test: NXDOMAIN
    ])
    instance.set(dns_servers=f"127.0.0.1:{d.port}")
    yield d
    d.stop()


@pytest.fixture
def agent(instance):
    """An instance running the smtp and lmtp transports."""
    assert QTOOL.exists(), f"no qtool in {BIN}"
    instance.set(smtp_connection_cache_time_limit="5s", lmtp_connection_cache_time_limit="5s")
    instance.add_service("smtp unix - - n - - smtp")
    instance.add_service("lmtp unix - - n - - lmtp")
    instance.start()
    wait_for(lambda: (instance.queue_dir / "private" / "smtp").exists(), what="private/smtp")
    return instance


BODY = (b"Subject: test\r\nFrom: a@example.org\r\n\r\nfirst line\r\n.leading dot\r\n..two dots\r\n"
        b".\r\nlast line without end")
WIRE = BODY.replace(b"\r\n.", b"\r\n..") + b"\r\n"  # what the peer unstuffs back to BODY + CRLF


# --- tests -----------------------------------------------------------------
def test_first_mx_down_second_gets_the_message_byte_exact(agent, dns, port):
    instance = agent
    sink = Sink("127.0.0.3", port)
    try:
        instance.set(smtp_tcp_port=port)
        msg = Message(instance, BODY, ["u@example.test"])
        res = deliver(instance, msg, "example.test")
        r = res["u@example.test"]
        assert (r["status"], r["dsn"]) == ("S", "2.0.0"), r
        assert r["relay"] == f"mx2.example.test[127.0.0.3]:{port}"
        assert r["relayed_without_dsn"]  # aiosmtpd offers no DSN
        assert len(sink.messages) == 1
        assert sink.messages[0]["content"] == BODY + b"\r\n"
        assert sink.messages[0]["sender"] == "sender@example.org"
        instance.wait_log(rf"connect to mx1\.example\.test\[127\.0\.0\.2\]:{port}: Connection refused")
        instance.wait_log(rf"{msg.msgid_text}: to=<u@example\.test>, relay=mx2\.example\.test\[127\.0\.0\.3\]:{port}, "
                          r"delay=[0-9.]+, delays=[0-9.]+/0/[0-9.]+/[0-9.]+, dsn=2\.0\.0, status=sent "
                          r"\(250 2\.0\.0 Ok: queued as SINK1\)")
    finally:
        sink.stop()


def test_replies_map_to_each_recipient(agent):
    sink = Sink("127.0.0.3", rules={"bad": "550 5.1.1 <bad@x.test>: Recipient address rejected",
                                    "later": "451 4.3.0 try again later"})
    try:
        msg = Message(agent, BODY, ["ok@x.test", "bad@x.test", "later@x.test"])
        res = deliver(agent, msg, f"[127.0.0.3]:{sink.port}")
        assert res["ok@x.test"]["status"] == "S"
        assert (res["bad@x.test"]["status"], res["bad@x.test"]["dsn"]) == ("B", "5.1.1")
        assert res["bad@x.test"]["reason"] == ("host 127.0.0.3[127.0.0.3] said: 550 5.1.1 <bad@x.test>: "
                                               "Recipient address rejected (in reply to RCPT TO command)")
        assert (res["later@x.test"]["status"], res["later@x.test"]["dsn"]) == ("D", "4.3.0")
        assert [m["rcpts"] for m in sink.messages] == [["ok@x.test"]]
        agent.wait_log(r"to=<bad@x\.test>, relay=127\.0\.0\.3\[127\.0\.0\.3\]:\d+, .*dsn=5\.1\.1, status=bounced "
                       r"\(host 127\.0\.0\.3\[127\.0\.0\.3\] said: 550 5\.1\.1")
        agent.wait_log(r"to=<later@x\.test>, .*dsn=4\.3\.0, status=deferred")
    finally:
        sink.stop()


def test_connection_refused_defers_with_postfix_reason(agent):
    port = free_port("127.0.0.2")
    msg = Message(agent, BODY, ["u@x.test"])
    r = deliver(agent, msg, f"[127.0.0.2]:{port}")["u@x.test"]
    assert (r["status"], r["dsn"], r["relay"]) == ("D", "4.4.1", "none")
    assert r["reason"] == f"connect to 127.0.0.2[127.0.0.2]:{port}: Connection refused"
    agent.wait_log(rf"to=<u@x\.test>, relay=none, .*status=deferred \(connect to 127\.0\.0\.2\[127\.0\.0\.2\]:{port}: "
                   r"Connection refused\)")


def test_null_mx_and_nxdomain_bounce(agent, dns):
    msg = Message(agent, BODY, ["u@nullmx.test"])
    r = deliver(agent, msg, "nullmx.test")["u@nullmx.test"]
    assert (r["status"], r["dsn"]) == ("B", "5.1.10")
    assert "nullMX" in r["reason"]
    msg = Message(agent, BODY, ["u@nosuch.test"])
    r = deliver(agent, msg, "")["u@nosuch.test"]  # empty next hop: the recipient's domain
    assert (r["status"], r["dsn"]) == ("B", "5.4.4"), r


def test_connection_is_reused_for_the_next_request(agent):
    sink = Sink("127.0.0.3")
    try:
        for i in range(5):
            msg = Message(agent, BODY, [f"u{i}@x.test"])
            assert deliver(agent, msg, f"[127.0.0.3]:{sink.port}")[f"u{i}@x.test"]["status"] == "S"
        assert len(sink.messages) == 5
        assert sink.ehlos == 1
    finally:
        sink.stop()


def test_no_reuse_when_cache_on_demand_is_off(agent):
    agent.set(smtp_connection_cache_on_demand="no")
    sink = Sink("127.0.0.3")
    try:
        for i in range(3):
            msg = Message(agent, BODY, [f"u{i}@x.test"])
            assert deliver(agent, msg, f"[127.0.0.3]:{sink.port}")[f"u{i}@x.test"]["status"] == "S"
        assert sink.ehlos == 3
    finally:
        sink.stop()


def test_smtputf8_message_to_server_without_smtputf8_bounces(agent):
    sink = Sink("127.0.0.3", enable_SMTPUTF8=False)
    try:
        msg = Message(agent, "Subject: ünïcode\r\n\r\nbody\r\n".encode(), ["u@x.test"], args=["--smtputf8"])
        r = deliver(agent, msg, f"[127.0.0.3]:{sink.port}", flags=2)["u@x.test"]
        assert (r["status"], r["dsn"]) == ("B", "5.6.7")
        assert r["reason"] == "SMTPUTF8 is required, but was not offered by host 127.0.0.3[127.0.0.3]"
        assert sink.messages == []
    finally:
        sink.stop()


def test_smtputf8_and_8bitmime_are_passed_on(agent):
    sink = Sink("127.0.0.3")
    try:
        msg = Message(agent, "Subject: ü\r\n\r\nbody\r\n".encode(), ["u@x.test"], args=["--smtputf8", "--8bit"])
        assert deliver(agent, msg, f"[127.0.0.3]:{sink.port}", flags=3)["u@x.test"]["status"] == "S"
        opts = sink.messages[0]["mail_options"]
        assert "SMTPUTF8" in opts and "BODY=8BITMIME" in opts
        assert f"SIZE={len(msg.body)}" in opts
    finally:
        sink.stop()


def test_message_over_the_servers_size_limit_bounces_before_mail(agent):
    sink = Sink("127.0.0.3", data_size_limit=100)
    try:
        msg = Message(agent, b"Subject: big\r\n\r\n" + b"x" * 500 + b"\r\n", ["u@x.test"])
        r = deliver(agent, msg, f"[127.0.0.3]:{sink.port}")["u@x.test"]
        assert (r["status"], r["dsn"]) == ("B", "5.3.4")
        assert r["reason"] == f"message size {len(msg.body)} exceeds size limit 100 of server 127.0.0.3[127.0.0.3]"
    finally:
        sink.stop()


def test_5xx_greeting_skips_to_the_next_mx(agent, dns, port):
    bad = Scripted("127.0.0.2", port=port, greeting="554 5.7.1 go away")
    sink = Sink("127.0.0.3", port)
    try:
        agent.set(smtp_tcp_port=port)
        msg = Message(agent, BODY, ["u@example.test"])
        r = deliver(agent, msg, "example.test")["u@example.test"]
        assert r["status"] == "S" and r["relay"].startswith("mx2.example.test[127.0.0.3]")
        agent.wait_log(r"host mx1\.example\.test\[127\.0\.0\.2\] refused to talk to me: 554 5\.7\.1 go away")
    finally:
        bad.stop()
        sink.stop()


def test_5xx_greeting_bounces_when_not_skipped(agent):
    agent.set(smtp_skip_5xx_greeting="no")
    bad = Scripted("127.0.0.2", greeting="554 5.7.1 go away")
    try:
        msg = Message(agent, BODY, ["u@x.test"])
        r = deliver(agent, msg, f"[127.0.0.2]:{bad.port}")["u@x.test"]
        assert (r["status"], r["dsn"]) == ("B", "5.7.1")
        assert r["reason"] == "host 127.0.0.2[127.0.0.2] refused to talk to me: 554 5.7.1 go away"
    finally:
        bad.stop()


def test_ehlo_refused_falls_back_to_helo(agent):
    peer = Scripted(ehlo_ok=False)
    try:
        msg = Message(agent, BODY, ["u@x.test"])
        assert deliver(agent, msg, f"[127.0.0.2]:{peer.port}")["u@x.test"]["status"] == "S"
        verbs = [l.split(" ")[0] for l in peer.lines]
        assert verbs[:3] == ["EHLO", "HELO", "MAIL"]
        # No ESMTP parameters after HELO.
        assert next(l for l in peer.lines if l.startswith("MAIL")) == "MAIL FROM:<sender@example.org>"
        assert peer.bodies == [WIRE]
    finally:
        peer.stop()


def test_envelope_is_pipelined_when_offered(agent):
    peer = Scripted(extensions=("PIPELINING",))
    plain = Scripted(extensions=("8BITMIME",))
    try:
        msg = Message(agent, BODY, ["a@x.test", "b@x.test"])
        assert deliver(agent, msg, f"[127.0.0.2]:{peer.port}")["b@x.test"]["status"] == "S"
        msg = Message(agent, BODY, ["a@x.test", "b@x.test"])
        assert deliver(agent, msg, f"[127.0.0.2]:{plain.port}")["b@x.test"]["status"] == "S"
        assert peer.pipelined == [True]
        assert plain.pipelined == [False]
    finally:
        peer.stop()
        plain.stop()


def test_dsn_parameters_are_passed_on_when_offered(agent):
    peer = Scripted(extensions=("PIPELINING", "DSN"))
    try:
        msg = Message(agent, BODY, ["u@x.test"], args=["--ret", "hdrs", "--envid", "env+id 1"])
        r = deliver(agent, msg, f"[127.0.0.2]:{peer.port}", envid="env+id 1", ret=2, notify=2 | 4,
                    orcpt={"u@x.test": "rfc822;Orig=U@x.test"})["u@x.test"]
        assert r["status"] == "S" and not r["relayed_without_dsn"]
        mail = next(l for l in peer.lines if l.startswith("MAIL"))
        rcpt = next(l for l in peer.lines if l.startswith("RCPT"))
        assert mail == "MAIL FROM:<sender@example.org> RET=HDRS ENVID=env+2Bid+201"
        assert rcpt == "RCPT TO:<u@x.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Orig+3DU@x.test"
    finally:
        peer.stop()


def test_silent_server_times_out_and_defers(agent):
    agent.set(smtp_mail_timeout="1s")
    peer = Scripted(stall="MAIL")
    try:
        msg = Message(agent, BODY, ["u@x.test"])
        t0 = time.monotonic()
        r = deliver(agent, msg, f"[127.0.0.2]:{peer.port}")["u@x.test"]
        assert time.monotonic() - t0 < 10
        assert (r["status"], r["dsn"]) == ("D", "4.4.2")
        assert r["reason"] == "conversation with 127.0.0.2[127.0.0.2] timed out while sending MAIL FROM"
    finally:
        peer.stop()


def test_lmtp_over_unix_socket_answers_per_recipient(agent):
    path = agent.root / "lmtp.sock"
    peer = Scripted(path=path, lmtp=True, extensions=("PIPELINING", "ENHANCEDSTATUSCODES"),
                    rules={"bad": "550 5.1.1 <bad@x.test> mailbox unavailable"})
    try:
        msg = Message(agent, BODY, ["good@x.test", "bad@x.test"])
        res = deliver(agent, msg, f"unix:{path}", transport="lmtp")
        assert (res["good@x.test"]["status"], res["good@x.test"]["reason"]) == ("S", "250 2.0.0 Ok delivered")
        assert (res["bad@x.test"]["status"], res["bad@x.test"]["dsn"]) == ("B", "5.1.1")
        assert res["bad@x.test"]["reason"].endswith("(in reply to end of DATA command)")
        assert peer.lines[0].startswith("LHLO ")
        assert peer.bodies == [WIRE]
        assert res["good@x.test"]["relay"] == f"mx.postern.test[{path}]"
        agent.wait_log(r"postern/lmtp\[\d+\]: .*to=<good@x\.test>, relay=mx\.postern\.test\[.*lmtp\.sock\], .*status=sent")
    finally:
        peer.stop()


def test_bind_address_is_the_source_of_connections(agent):
    agent.set(smtp_bind_address="127.0.0.5")
    sink = Sink("127.0.0.3")
    try:
        msg = Message(agent, BODY, ["u@x.test"])
        assert deliver(agent, msg, f"[127.0.0.3]:{sink.port}")["u@x.test"]["status"] == "S"
        assert sink.messages[0]["peer"] == "127.0.0.5"
    finally:
        sink.stop()


def test_large_body_streams_intact(agent):
    sink = Sink("127.0.0.3")
    try:
        lines = [(b"." if i % 7 == 0 else b"") + b"line %d " % i + b"y" * 70 for i in range(60000)]
        body = b"Subject: big\r\n\r\n" + b"\r\n".join(lines) + b"\r\n"
        msg = Message(agent, body, ["u@x.test"])
        assert deliver(agent, msg, f"[127.0.0.3]:{sink.port}")["u@x.test"]["status"] == "S"
        assert sink.messages[0]["content"] == body
    finally:
        sink.stop()


def test_421_reply_keeps_the_connection_out_of_the_cache(agent):
    peer = Scripted(rules={"shut": "421 4.7.0 closing down"})
    try:
        msg = Message(agent, BODY, ["shut@x.test"])
        r = deliver(agent, msg, f"[127.0.0.2]:{peer.port}")["shut@x.test"]
        assert (r["status"], r["dsn"]) == ("D", "4.7.0")
        msg = Message(agent, BODY, ["ok@x.test"])
        assert deliver(agent, msg, f"[127.0.0.2]:{peer.port}")["ok@x.test"]["status"] == "S"
        assert peer.connections == 2
    finally:
        peer.stop()


def test_cached_connection_closed_under_the_client_is_replaced(agent):
    # The peer drops the connection when the second MAIL arrives on it: the
    # client must start over on a fresh connection, not defer the mail.
    peer = Scripted(mails_per_connection=1)
    try:
        for i in range(3):
            msg = Message(agent, BODY, [f"u{i}@x.test"])
            r = deliver(agent, msg, f"[127.0.0.2]:{peer.port}")[f"u{i}@x.test"]
            assert r["status"] == "S", r
        assert peer.connections == 3
        assert len(peer.bodies) == 3
    finally:
        peer.stop()


def test_server_that_stops_reading_the_body_times_out(agent):
    agent.set(smtp_data_xfer_timeout="1s")
    peer = Scripted(stall="BODY")
    try:
        msg = Message(agent, b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 40000, ["u@x.test"])
        t0 = time.monotonic()
        r = deliver(agent, msg, f"[127.0.0.2]:{peer.port}")["u@x.test"]
        assert time.monotonic() - t0 < 10
        assert (r["status"], r["dsn"]) == ("D", "4.4.2")
        assert r["reason"] == "conversation with 127.0.0.2[127.0.0.2] timed out while sending message body"
    finally:
        peer.stop()


def send_ok(agent, peer, msg):
    assert deliver(agent, msg, f"[127.0.0.2]:{peer.port}")[msg.envelopes[0][1]]["status"] == "S"


def test_idle_connections_expire(agent):
    # Idle limit small, age limit far away: only idleness can close it.
    agent.set(smtp_connection_cache_time_limit="1s", smtp_connection_reuse_time_limit="300s")
    peer = Scripted()
    try:
        send_ok(agent, peer, Message(agent, BODY, ["u1@x.test"]))
        wait_for(lambda: "QUIT" in peer.lines, 15, what="QUIT after the idle time limit")
        assert peer.connections == 1
        send_ok(agent, peer, Message(agent, BODY, ["u2@x.test"]))
        assert peer.connections == 2  # the idle one was closed: a new connection
    finally:
        peer.stop()


def test_old_connections_are_not_reused(agent):
    # Idle limit far away, age limit 5s: only age can stop a reuse. The reuse
    # is checked at once (a loaded machine has 4s in hand), the refusal a full
    # second past the limit.
    agent.set(smtp_connection_cache_time_limit="120s", smtp_connection_reuse_time_limit="5s")
    peer = Scripted()
    try:
        first = time.monotonic()  # the connection is younger than this
        send_ok(agent, peer, Message(agent, BODY, ["u1@x.test"]))
        opened_by = time.monotonic()  # ... and older than this
        send_ok(agent, peer, Message(agent, BODY, ["u2@x.test"]))
        assert time.monotonic() - first < 5, "too slow to test a reuse within the age limit"
        assert peer.connections == 1
        time.sleep(max(0.0, 6.0 - (time.monotonic() - opened_by)))
        send_ok(agent, peer, Message(agent, BODY, ["u3@x.test"]))
        assert peer.connections == 2
        wait_for(lambda: "QUIT" in peer.lines, 15, what="QUIT on the connection too old to reuse")
    finally:
        peer.stop()


def test_fallback_relay_takes_mail_the_destination_cannot(agent):
    sink = Sink("127.0.0.3")
    dead = free_port("127.0.0.2")
    agent.set(smtp_fallback_relay=f"[127.0.0.4]:{free_port('127.0.0.4')}, [127.0.0.3]:{sink.port}")
    try:
        msg = Message(agent, BODY, ["u@x.test"])
        r = deliver(agent, msg, f"[127.0.0.2]:{dead}")["u@x.test"]
        assert (r["status"], r["relay"]) == ("S", f"127.0.0.3[127.0.0.3]:{sink.port}"), r
        assert sink.messages[0]["rcpts"] == ["u@x.test"]
        agent.wait_log(rf"connect to 127\.0\.0\.2\[127\.0\.0\.2\]:{dead}: Connection refused")
        agent.wait_log(r"connect to 127\.0\.0\.4\[127\.0\.0\.4\]:\d+: Connection refused")
    finally:
        sink.stop()


def test_bounce_from_the_destination_does_not_go_to_the_fallback_relay(agent):
    sink = Sink("127.0.0.3")
    agent.set(smtp_fallback_relay=f"[127.0.0.3]:{sink.port}", smtp_skip_5xx_greeting="no")
    bad = Scripted("127.0.0.2", greeting="554 5.7.1 go away")
    try:
        msg = Message(agent, BODY, ["u@x.test"])
        r = deliver(agent, msg, f"[127.0.0.2]:{bad.port}")["u@x.test"]
        assert (r["status"], r["dsn"]) == ("B", "5.7.1")
        assert sink.messages == []
    finally:
        bad.stop()
        sink.stop()


def test_destination_that_cannot_be_found_goes_to_the_fallback_relay(agent, dns):
    sink = Sink("127.0.0.3")
    agent.set(fallback_relay=f"[127.0.0.3]:{sink.port}")  # smtp_fallback_relay = $fallback_relay
    try:
        for rcpt in ("u@nosuch.test", "u@noaddr.test"):  # NXDOMAIN; an MX host without address
            msg = Message(agent, BODY, [rcpt])
            r = deliver(agent, msg, "")[rcpt]
            assert (r["status"], r["relay"]) == ("S", f"127.0.0.3[127.0.0.3]:{sink.port}"), r
        assert [m["rcpts"] for m in sink.messages] == [["u@nosuch.test"], ["u@noaddr.test"]]
    finally:
        sink.stop()


def test_null_mx_bounces_even_with_a_fallback_relay(agent, dns):
    sink = Sink("127.0.0.3")
    agent.set(smtp_fallback_relay=f"[127.0.0.3]:{sink.port}")
    try:
        msg = Message(agent, BODY, ["u@nullmx.test"])
        r = deliver(agent, msg, "nullmx.test")["u@nullmx.test"]
        assert (r["status"], r["dsn"]) == ("B", "5.1.10"), r
        assert sink.messages == []
    finally:
        sink.stop()


def test_fallback_relay_that_cannot_be_found_defers_as_a_configuration_problem(agent, dns):
    agent.set(smtp_fallback_relay="relay.nosuch.test")
    msg = Message(agent, BODY, ["u@nosuch.test"])
    r = deliver(agent, msg, "nosuch.test")["u@nosuch.test"]
    assert (r["status"], r["dsn"], r["relay"]) == ("D", "4.3.5", "none"), r
    assert "relay.nosuch.test" in r["reason"], r
    agent.wait_log(r"warning: smtp_fallback_relay configuration problem")


def test_mx_hosts_without_address_bounce_unless_smtp_defer_if_no_mx_address_found(agent, dns):
    msg = Message(agent, BODY, ["u@noaddr.test"])
    r = deliver(agent, msg, "noaddr.test")["u@noaddr.test"]
    assert (r["status"], r["dsn"]) == ("B", "5.4.4"), r
    assert "mx.noaddr.test" in r["reason"], r
    agent.wait_log(r"warning: no MX host for noaddr\.test has a valid address record")
    agent.set(smtp_defer_if_no_mx_address_found="yes")
    agent.reload()
    msg = Message(agent, BODY, ["u@noaddr.test"])
    r2 = deliver(agent, msg, "noaddr.test")["u@noaddr.test"]
    assert (r2["status"], r2["dsn"], r2["reason"]) == ("D", "4.4.4", r["reason"]), r2


def test_servfail_of_the_mx_lookup_defers_or_goes_to_the_fallback_relay(agent):
    broken = BrokenMxDns("127.0.0.3")
    sink = Sink("127.0.0.3")
    agent.set(dns_servers=f"127.0.0.1:{broken.port}")
    try:
        msg = Message(agent, BODY, ["u@broken.test"])
        r = deliver(agent, msg, "broken.test")["u@broken.test"]
        assert (r["status"], r["dsn"]) == ("D", "4.4.3"), r
        assert "type=MX" in r["reason"], r
        agent.set(smtp_fallback_relay=f"[127.0.0.3]:{sink.port}")
        agent.reload()
        msg = Message(agent, BODY, ["u@broken.test"])
        r = deliver(agent, msg, "broken.test")["u@broken.test"]
        assert (r["status"], r["relay"]) == ("S", f"127.0.0.3[127.0.0.3]:{sink.port}"), r
        assert sink.messages[0]["rcpts"] == ["u@broken.test"]
    finally:
        sink.stop()
        broken.stop()


def test_ignore_mx_lookup_error_delivers_to_the_domains_address(agent, port):
    broken = BrokenMxDns("127.0.0.3")
    sink = Sink("127.0.0.3", port)
    agent.set(dns_servers=f"127.0.0.1:{broken.port}", smtp_tcp_port=port, ignore_mx_lookup_error="yes")
    try:
        msg = Message(agent, BODY, ["u@broken.test"])
        r = deliver(agent, msg, "broken.test")["u@broken.test"]
        assert (r["status"], r["relay"]) == ("S", f"broken.test[127.0.0.3]:{port}"), r
        assert broken.mx_queries >= 1
        assert sink.messages[0]["rcpts"] == ["u@broken.test"]
    finally:
        sink.stop()
        broken.stop()


@pytest.mark.parametrize("options, sent", [(None, False), ("noanonymous", True)])
def test_lmtp_sasl_security_options_decide_whether_plain_goes_without_tls(agent, options, sent):
    peer = Scripted(lmtp=True, extensions=("PIPELINING", "AUTH PLAIN LOGIN"))
    table = agent.root / "lmtp_passwd"
    table.write_text(f"[127.0.0.2]:{peer.port} lmtpuser:lmtp secret\n")
    agent.set(lmtp_sasl_auth_enable="yes", lmtp_sasl_password_maps=f"texthash:{table}",
              **({"lmtp_sasl_security_options": options} if options else {}))
    agent.reload()
    try:
        msg = Message(agent, BODY, ["u@x.test"])
        r = deliver(agent, msg, f"inet:127.0.0.2:{peer.port}", transport="lmtp")["u@x.test"]
        auths = [l for l in peer.lines if l.upper().startswith("AUTH")]
        if sent:
            assert r["status"] == "S", r
            assert auths == ["AUTH PLAIN " + base64.b64encode(b"\0lmtpuser\0lmtp secret").decode()]
        else:
            assert (r["status"], r["dsn"]) == ("D", "4.7.0"), r
            assert r["reason"] == ("SASL authentication failed; cannot authenticate to server "
                                   "127.0.0.2[127.0.0.2]: no mechanism available"), r
            wait_for(lambda: "QUIT" in peer.lines, what="QUIT after the refusal")
            assert auths == []
            agent.wait_log(r"warning: SASL authentication failure: No worthy mechs found "
                           r"\(lmtp_sasl_security_options excludes PLAIN and LOGIN without TLS\)")
        assert "lmtp secret" not in agent.log()
    finally:
        peer.stop()


def test_reload_retires_the_worker_and_its_cached_connection_says_quit(agent):
    agent.set(smtp_connection_cache_time_limit="60s")
    peer = Scripted()
    try:
        msg = Message(agent, BODY, ["u@x.test"])
        assert deliver(agent, msg, f"[127.0.0.2]:{peer.port}")["u@x.test"]["status"] == "S"
        (pid,) = agent.workers("smtp")
        assert "QUIT" not in peer.lines
        agent.reload()
        wait_for(lambda: "QUIT" in peer.lines, 5, what="QUIT on drain")
        wait_for(lambda: pid not in agent.workers("smtp"), 5, what="the retired worker to exit")
    finally:
        peer.stop()
