"""The rest of smtp(8)'s switches (issue 22), each against a real peer on
loopback through the smtp worker's delivery protocol: EHLO or HELO
(smtp_always_send_ehlo, smtp_never_send_ehlo, PIX workarounds), QUIT without
its reply, envelope quoting, per-record deadlines, connection reuse counts,
the delivery status filter, and the address family (inet_protocols,
smtp_address_preference) with servers on [::1]."""
import re
import select
import smtplib
import socket
import socketserver
import threading
import time

import pytest

from conftest import QTOOL, free_port, wait_for
from test_smtp_client import BODY, Dnsmasq, Message, Scripted, Sink, deliver
from test_smtp_tls import client  # the instance running the smtp transport with main.cf settings
from test_tls import _accepts

pytestmark = pytest.mark.skipif(not QTOOL.exists(), reason="test helpers not built")


def one(agent, nexthop, rcpt="u@x.test", body=BODY, sender="sender@example.org"):
    msg = Message(agent, body, ["u@x.test"], sender=sender)
    msg.envelopes = [(msg.envelopes[0][0], rcpt)]  # any address, even one with a space
    return deliver(agent, msg, nexthop)[rcpt]


def free_port6():
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


class Raw:
    """A scripted SMTP server for the corner cases: a greeting of the test's
    choice, an EHLO reply that may come in slow pieces, the time between the
    end of the content and ".", and whether the client closed after QUIT
    before or after the reply (which it holds back `quit_wait` seconds)."""

    def __init__(self, host="127.0.0.2", greeting="220 raw.example ESMTP", drip=0.0, quit_wait=0.0, xforward=""):
        self.greeting, self.drip, self.quit_wait, self.xforward = greeting, drip, quit_wait, xforward
        self.lines, self.dot_gaps, self.quits = [], [], []
        peer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                peer.serve(self.request)
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def serve(self, sock):
        f = sock.makefile("rb")
        sock.sendall(self.greeting.encode() + b"\r\n")
        while raw := f.readline():
            line = raw.decode().rstrip("\r\n")
            self.lines.append(line)
            verb = line.split(" ")[0].upper()
            if verb == "EHLO":
                reply = b"250-raw.example\r\n250-SIZE 10000000\r\n"
                if self.xforward:
                    reply += b"250-XFORWARD " + self.xforward.encode() + b"\r\n"
                reply += b"250 8BITMIME\r\n"
                step = len(reply) // 5 + 1 if self.drip else len(reply)
                for i in range(0, len(reply), step):
                    if i:
                        time.sleep(self.drip)
                    sock.sendall(reply[i:i + step])
            elif verb == "HELO":
                sock.sendall(b"250 raw.example\r\n")
            elif verb in ("MAIL", "RCPT", "RSET", "XFORWARD"):
                sock.sendall(b"250 2.0.0 Ok\r\n")
            elif verb == "DATA":
                sock.sendall(b"354 go ahead\r\n")
                last = time.monotonic()
                while (l := f.readline()) not in (b".\r\n", b""):
                    last = time.monotonic()
                self.dot_gaps.append(time.monotonic() - last)
                sock.sendall(b"250 2.0.0 Ok: queued\r\n")
            elif verb == "QUIT":
                readable, _, _ = select.select([sock], [], [], self.quit_wait)
                if readable and not sock.recv(1):
                    self.quits.append("closed before the reply")
                    return
                sock.sendall(b"221 2.0.0 Bye\r\n")
                select.select([sock], [], [], 10)
                self.quits.append("closed after the reply")
                return
            else:
                sock.sendall(b"502 5.5.2 Error: command not recognized\r\n")

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# --- EHLO or HELO ------------------------------------------------------------------
@pytest.mark.parametrize("params, greeting, verb", [
    ({}, "220 raw.example", "EHLO"),
    ({"smtp_always_send_ehlo": "no"}, "220 raw.example", "HELO"),
    ({"smtp_always_send_ehlo": "no"}, "220 raw.example ESMTP", "EHLO"),
    ({"smtp_never_send_ehlo": "yes"}, "220 raw.example ESMTP", "HELO"),
])
def test_ehlo_or_helo(instance, params, greeting, verb):
    peer = Raw(greeting=greeting)
    try:
        agent = client(instance, **params)
        assert one(agent, f"[127.0.0.2]:{peer.port}")["status"] == "S"
        assert peer.lines[0] == f"{verb} mx.postern.test"
    finally:
        peer.stop()


def test_pix_mangled_greeting_gets_helo_and_a_delayed_final_dot(instance):
    peer = Raw(greeting="220 ************************************")
    try:
        agent = client(instance, smtp_pix_workaround_threshold_time="0s", smtp_pix_workaround_delay_time="2s")
        assert one(agent, f"[127.0.0.2]:{peer.port}")["status"] == "S"
        assert peer.lines[0] == "HELO mx.postern.test"
        assert peer.dot_gaps[0] >= 1.9, peer.dot_gaps
        agent.wait_log(r"enabling PIX workarounds: disable_esmtp delay_dotcrlf for 127\.0\.0\.2\[127\.0\.0\.2\]")
    finally:
        peer.stop()


def test_pix_delay_only_for_old_messages_and_maps_by_server_address(instance):
    peer = Raw()  # an ordinary greeting
    try:
        agent = client(instance, smtp_pix_workaround_maps="inline:{127.0.0.2=disable_esmtp}",
                       smtp_pix_workaround_delay_time="5s")
        assert one(agent, f"[127.0.0.2]:{peer.port}")["status"] == "S"
        assert peer.lines[0] == "HELO mx.postern.test"
        assert peer.dot_gaps[0] < 4  # delay_dotcrlf not in the map's list
    finally:
        peer.stop()


# --- QUIT --------------------------------------------------------------------------
@pytest.mark.parametrize("skip, outcome", [("yes", "closed before the reply"), ("no", "closed after the reply")])
def test_skip_quit_response(instance, skip, outcome):
    peer = Raw(quit_wait=1.5)
    try:
        agent = client(instance, smtp_connection_cache_on_demand="no", smtp_skip_quit_response=skip)
        assert one(agent, f"[127.0.0.2]:{peer.port}")["status"] == "S"
        wait_for(lambda: peer.quits, 10, what="QUIT")
        assert peer.quits == [outcome]
    finally:
        peer.stop()


# --- the envelope ------------------------------------------------------------------
@pytest.mark.parametrize("quote, rcpt_line", [("yes", 'RCPT TO:<"john doe"@x.test>'),
                                              ("no", "RCPT TO:<john doe@x.test>")])
def test_quote_rfc821_envelope(instance, quote, rcpt_line):
    peer = Scripted("127.0.0.2")
    try:
        agent = client(instance, smtp_quote_rfc821_envelope=quote)
        assert one(agent, f"[127.0.0.2]:{peer.port}", rcpt="john doe@x.test")["status"] == "S"
        assert rcpt_line in peer.lines, peer.lines
        assert "MAIL FROM:<sender@example.org>" in peer.lines[1]
    finally:
        peer.stop()


# --- XFORWARD ------------------------------------------------------------------------
@pytest.mark.parametrize("send_it, offered, want", [
    ("yes", "NAME ADDR PORT PROTO HELO IDENT SOURCE",
     "XFORWARD NAME=[UNAVAILABLE] ADDR=[UNAVAILABLE] PORT=[UNAVAILABLE] PROTO=ESMTP HELO=[UNAVAILABLE] IDENT={id} "
     "SOURCE=LOCAL"),
    ("yes", "addr ident", "XFORWARD ADDR=[UNAVAILABLE] IDENT={id}"),
    ("no", "NAME ADDR", None),
    ("yes", "", None),
])
def test_send_xforward_command(instance, send_it, offered, want):
    # qtool queues ESMTP mail from no network client: no name, address or HELO.
    peer = Raw(xforward=offered)
    try:
        agent = client(instance, smtp_send_xforward_command=send_it)
        msg = Message(agent, BODY, ["u@x.test"])
        assert deliver(agent, msg, f"[127.0.0.2]:{peer.port}")["u@x.test"]["status"] == "S"
        sent = [l for l in peer.lines if l.startswith("XFORWARD")]
        assert sent == ([want.format(id=msg.msgid_text)] if want else []), peer.lines
        if want:
            assert peer.lines.index(sent[0]) < next(i for i, l in enumerate(peer.lines) if l.startswith("MAIL"))
    finally:
        peer.stop()


def test_xforward_port_is_the_port_of_smtpds_client(instance):
    # smtpd keeps the client's TCP port in the queue; smtp sends it as PORT.
    peer = Raw(xforward="NAME ADDR PORT PROTO HELO IDENT SOURCE")
    try:
        port = free_port()
        instance.set(relayhost=f"[127.0.0.2]:{peer.port}", smtp_send_xforward_command="yes", mydestination="")
        instance.add_service(f"127.0.0.1:{port} inet n - n - - smtpd")
        instance.add_service("qmgr unix n - n 300 1 qmgr")
        instance.add_service("smtp unix - - n - - smtp")
        instance.start()
        wait_for(lambda: _accepts(port), timeout=10, what="smtpd listening")
        source = free_port()
        with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example", timeout=30,
                          source_address=("127.0.0.1", source)) as c:
            c.sendmail("a@example.org", ["u@x.test"], b"Subject: t\r\n\r\nbody\r\n")
        wait_for(lambda: any(l.startswith("XFORWARD") for l in peer.lines), timeout=30, what="XFORWARD at the peer")
        [sent] = [l for l in peer.lines if l.startswith("XFORWARD")]
        assert re.fullmatch(rf"XFORWARD NAME=\S+ ADDR=127\.0\.0\.1 PORT={source} PROTO=ESMTP HELO=client\.example "
                            r"IDENT=[0-9a-f]{8} SOURCE=REMOTE", sent), sent
    finally:
        peer.stop()


# --- time limits -------------------------------------------------------------------
@pytest.mark.parametrize("deadline, status", [("no", "S"), ("yes", "D")])
def test_per_record_deadline(instance, deadline, status):
    # The EHLO reply comes in five pieces 0.8 s apart: each read is within
    # the 2 s limit, the whole reply is not.
    peer = Raw(drip=0.8)
    try:
        agent = client(instance, smtp_helo_timeout="2s", smtp_per_record_deadline=deadline)
        r = one(agent, f"[127.0.0.2]:{peer.port}")
        assert r["status"] == status, r
        if status == "D":
            assert r["reason"] == "conversation with 127.0.0.2[127.0.0.2] timed out while performing the EHLO handshake"
    finally:
        peer.stop()


# --- connection reuse --------------------------------------------------------------
def test_connection_reuse_count_limit(instance):
    sink = Sink("127.0.0.2")
    try:
        agent = client(instance, smtp_connection_reuse_count_limit="2")
        for _ in range(3):
            assert one(agent, f"[127.0.0.2]:{sink.port}")["status"] == "S"
        assert len(sink.messages) == 3
        assert sink.ehlos == 2  # two deliveries on the first connection, then a new one
    finally:
        sink.stop()


# --- the delivery status filter ----------------------------------------------------
def test_delivery_status_filter_turns_a_deferral_into_a_bounce(instance):
    sink = Sink("127.0.0.2", rules={"u@": "451 4.7.1 greylisted, try later"})
    try:
        rules = instance.root / "status_filter"
        rules.write_text("/^4\\.7\\.1 (.*greylisted.*)$/ 5.7.1 $1\n/^2\\.(.*)/ 5.0.0 never success to failure\n")
        agent = client(instance, smtp_delivery_status_filter=f"regexp:{rules}")
        r = one(agent, f"[127.0.0.2]:{sink.port}")
        assert (r["status"], r["dsn"]) == ("B", "5.7.1"), r
        assert r["reason"] == ("host 127.0.0.2[127.0.0.2] said: 451 4.7.1 greylisted, try later "
                               "(in reply to RCPT TO command)")
        ok = one(agent, f"[127.0.0.2]:{sink.port}", rcpt="ok@x.test")
        assert (ok["status"], ok["dsn"]) == ("S", "2.0.0"), ok
        agent.wait_log(r"warning: smtp_delivery_status_filter: ignoring \"5\.0\.0 never success to failure\"")
    finally:
        sink.stop()


# --- address families ----------------------------------------------------------------
@pytest.fixture
def dual(instance):
    """dual.test: 127.0.0.2 and ::1, a sink on each, one port."""
    port = free_port("127.0.0.2")
    d = Dnsmasq([f"--host-record=dual.test,127.0.0.2,::1"])
    v4, v6 = Sink("127.0.0.2", port), Sink("::1", port)
    instance.set(dns_servers=f"127.0.0.1:{d.port}")
    yield port, v4, v6
    v4.stop()
    v6.stop()
    d.stop()


@pytest.mark.parametrize("protocols, preference, winner", [
    ("all", "ipv6", "v6"), ("all", "ipv4", "v4"), ("ipv4", "ipv6", "v4"), ("ipv6", "ipv4", "v6")])
def test_address_preference_and_inet_protocols(instance, dual, protocols, preference, winner):
    port, v4, v6 = dual
    agent = client(instance, inet_protocols=protocols, smtp_address_preference=preference)
    r = one(agent, f"[dual.test]:{port}")
    assert r["status"] == "S", r
    want = f"dual.test[::1]:{port}" if winner == "v6" else f"dual.test[127.0.0.2]:{port}"
    assert r["relay"] == want
    assert len((v6 if winner == "v6" else v4).messages) == 1


@pytest.mark.parametrize("protocols, status", [("all", "S"), ("ipv4", "D")])
def test_ipv6_literal_next_hop(instance, protocols, status):
    sink = Sink("::1", free_port6())
    try:
        agent = client(instance, inet_protocols=protocols)
        r = one(agent, f"[::1]:{sink.port}")
        assert r["status"] == status, r
        if status == "S":
            assert r["relay"] == f"::1[::1]:{sink.port}" and len(sink.messages) == 1
        else:
            assert "no address of a protocol enabled by inet_protocols" in r["reason"] and not sink.messages
    finally:
        sink.stop()


# --- how hosts are found -------------------------------------------------------------
@pytest.fixture
def nodns(instance):
    """A DNS server that knows only .test names: "localhost" is not in it,
    only in /etc/hosts (the system's, native resolver)."""
    d = Dnsmasq(["--host-record=mx1.example.test,127.0.0.2"])
    instance.set(dns_servers=f"127.0.0.1:{d.port}")
    yield d
    d.stop()


@pytest.mark.parametrize("params, nexthop, status", [
    ({"smtp_host_lookup": "dns"}, "[localhost]:{port}", "D"),
    ({"smtp_host_lookup": "native"}, "[localhost]:{port}", "S"),
    ({"smtp_host_lookup": "dns, native"}, "[localhost]:{port}", "S"),
    ({}, "localhost:{port}", "D"),  # an MX lookup in DNS
    ({"disable_dns_lookups": "yes"}, "localhost:{port}", "S"),  # no MX lookup, native
])
def test_host_lookup(instance, nodns, params, nexthop, status):
    sink = Sink("127.0.0.1")
    try:
        agent = client(instance, **params)
        r = one(agent, nexthop.format(port=sink.port))
        assert r["status"] == status, r
        if status == "S":
            assert r["relay"] == f"localhost[127.0.0.1]:{sink.port}" and len(sink.messages) == 1
        else:
            assert "localhost" in r["reason"] and not sink.messages
    finally:
        sink.stop()
