# tests/system/test_smtp_tls.py — the smtp client's STARTTLS (issue 9, client
# side): postern -> postern with verify against the test CA and against a
# wrong one (deferred, the reason in the queue), may and encrypt against a
# server without STARTTLS, smtp_tls_policy_maps per destination, the
# plain-text retry after a failed handshake under may, the injection defence
# (replies behind "220 Ready" are discarded), TLS connection reuse, and
# `postern trace transfer`. Certificates: test_tls.py's pki (certtool, a test
# CA and a server certificate for localhost/127.0.0.1).
import re
import shutil
import socket
import socketserver
import ssl
import threading

import pytest

from conftest import QTOOL, Instance, _traversable_tempdir, free_port, wait_for
from qmgr_helpers import FAST, envelopes, trigger
from test_smtp_client import Message, Sink, deliver
from test_tls import pki, start_tls_smtpd  # noqa: F401 (pki is a fixture)

pytestmark = pytest.mark.skipif(not (shutil.which("certtool") and QTOOL.exists()),
                                reason="certtool or test helpers missing")

BODY = b"Subject: over tls\r\nFrom: a@example.org\r\n\r\nsecret line\r\n"
CIPHER = r"TLSv1\.3 with cipher TLS_\w+ \((\d+)/\1 bits\)"


@pytest.fixture
def receiver(pki):
    """A second postern whose smtpd offers STARTTLS with the test CA's
    certificate for localhost/127.0.0.1 and keeps what it accepts queued."""
    inst = Instance(_traversable_tempdir())
    try:
        yield start_tls_smtpd(inst, pki)
    finally:
        inst.cleanup()
        shutil.rmtree(inst.root, ignore_errors=True)


def client(instance, **params):
    """The instance running the smtp transport with the given smtp_tls_*."""
    instance.set(**{"smtp_tls_loglevel": "1", "smtp_connection_cache_time_limit": "5s", **params})
    instance.add_service("smtp unix - - n - - smtp")
    instance.start()
    wait_for(lambda: (instance.queue_dir / "private" / "smtp").exists(), what="private/smtp")
    return instance


def send(agent, nexthop, rcpt="alice@mx.postern.test"):
    msg = Message(agent, BODY, [rcpt])
    return msg, deliver(agent, msg, nexthop)[rcpt]


# --- postern -> postern ------------------------------------------------------
def test_verify_against_the_test_ca_delivers_and_logs_verified(instance, receiver, pki):
    agent = client(instance, smtp_tls_security_level="verify", smtp_tls_CAfile=pki["ca"])
    msg, r = send(agent, f"[127.0.0.1]:{receiver.port}")
    assert r["status"] == "S" and r["dsn"] == "2.0.0", r
    agent.wait_log(rf"Verified TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:{receiver.port}: {CIPHER}")
    receiver.instance.wait_log(r"Anonymous TLS connection established from \S+\[127\.0\.0\.1\]: " + CIPHER)
    [m] = receiver.queue()
    assert m["rcpts"] == ["alice@mx.postern.test"] and m["body"].endswith(b"secret line\r\n")
    assert re.search(rb"\(using TLSv1\.3 with cipher TLS_", m["body"]), m["body"][:400]


def test_may_logs_trusted_when_the_chain_checks_out(instance, receiver, pki):
    agent = client(instance, smtp_tls_security_level="may", smtp_tls_CAfile=pki["ca"])
    assert send(agent, f"[127.0.0.1]:{receiver.port}")[1]["status"] == "S"
    agent.wait_log(rf"Trusted TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:{receiver.port}: {CIPHER}")


def test_verify_against_a_wrong_ca_defers_with_the_reason_in_the_queue(instance, receiver, pki):
    instance.set(**{**FAST, "default_transport": "smtp", "relayhost": f"[127.0.0.1]:{receiver.port}",
                    "smtp_tls_security_level": "verify", "smtp_tls_CAfile": str(pki["wrong_ca"]),
                    "smtp_tls_loglevel": "1"})
    instance.add_service("qmgr unix n - n 300 1 qmgr")
    instance.add_service("bounce unix - - n - 0 bounce")
    instance.add_service("smtp unix - - n - - smtp")
    instance.start()
    msg = Message(instance, BODY, ["far@other.test"])  # this instance is mx.postern.test itself
    trigger(instance)
    instance.wait_log(rf"certificate verification failed for 127\.0\.0\.1\[127\.0\.0\.1\]:{receiver.port}: ",
                      timeout=15)
    instance.wait_log(rf"{msg.msgid_text}: to=<far@other\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:"
                      rf"{receiver.port}, .*dsn=4\.7\.5, status=deferred \(Server certificate not trusted\)",
                      timeout=15)
    env = wait_for(lambda: [e for e in envelopes(instance) if e["state"] == "deferred"], what="deferred envelope")
    assert env[0]["error"].endswith("Server certificate not trusted"), env
    assert not receiver.queue()


def test_verify_with_a_name_the_certificate_lacks_is_not_verified(instance, receiver, pki):
    agent = client(instance, smtp_tls_security_level="verify", smtp_tls_CAfile=pki["ca"],
                   smtp_tls_verify_cert_match="mx.elsewhere.test")
    _, r = send(agent, f"[127.0.0.1]:{receiver.port}")
    assert (r["status"], r["dsn"], r["reason"]) == ("D", "4.7.5", "Server certificate not verified"), r
    agent.wait_log(r"server certificate verification failed for 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: "
                   r"certificate does not match mx\.elsewhere\.test")
    assert not receiver.queue()


# --- servers without STARTTLS ------------------------------------------------
def test_may_against_a_server_without_tls_delivers_in_plain_text(instance):
    sink = Sink("127.0.0.2")
    try:
        agent = client(instance, smtp_tls_security_level="may")
        _, r = send(agent, f"[127.0.0.2]:{sink.port}", "u@x.test")
        assert r["status"] == "S", r
        assert sink.messages and b"secret line" in sink.messages[0]["content"]
        assert "TLS connection established" not in agent.log()
    finally:
        sink.stop()


def test_encrypt_against_a_server_without_starttls_defers(instance):
    sink = Sink("127.0.0.2")
    try:
        agent = client(instance, smtp_tls_security_level="encrypt")
        _, r = send(agent, f"[127.0.0.2]:{sink.port}", "u@x.test")
        assert (r["status"], r["dsn"]) == ("D", "4.7.4"), r
        assert r["reason"] == "TLS is required, but was not offered by host 127.0.0.2[127.0.0.2]", r
        assert not sink.messages
    finally:
        sink.stop()


def test_policy_maps_override_the_level_per_destination(instance, receiver, pki):
    sink = Sink("127.0.0.2")
    try:
        table = instance.root / "tls_policy"
        table.write_text(f"[127.0.0.2]:{sink.port} may\n"
                         f"[127.0.0.1]:{receiver.port} secure match=localhost protocols=>=TLSv1.2 ciphers=high\n")
        agent = client(instance, smtp_tls_security_level="encrypt", smtp_tls_CAfile=pki["ca"],
                       smtp_tls_policy_maps=f"texthash:{table}")
        # encrypt from main.cf would defer this one; its entry says may.
        assert send(agent, f"[127.0.0.2]:{sink.port}", "u@x.test")[1]["status"] == "S"
        assert sink.messages
        # secure with match=localhost: the certificate's name, so Verified.
        assert send(agent, f"[127.0.0.1]:{receiver.port}")[1]["status"] == "S"
        agent.wait_log(rf"Verified TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:{receiver.port}")
        # Without an entry the main.cf level applies: encrypt, and this server has no STARTTLS.
        other = Sink("127.0.0.3")
        try:
            _, r = send(agent, f"[127.0.0.3]:{other.port}", "u@x.test")
            assert (r["status"], r["dsn"]) == ("D", "4.7.4"), r
        finally:
            other.stop()
    finally:
        sink.stop()


# --- scripted TLS servers ----------------------------------------------------
class TlsScripted:
    """An SMTP server on 127.0.0.2 offering STARTTLS with the test
    certificate, recording the SNI name of each handshake. mode "tls": plain
    STARTTLS; "inject": its 220 to STARTTLS carries a bogus reply
    behind it in the same write; mode "break": after the 220 it sends
    garbage instead of a handshake and closes. Later connections that do not
    ask for STARTTLS get plain SMTP. Records what it received."""

    def __init__(self, pki, mode, host="127.0.0.2"):
        self.mode, self.messages, self.connections, self.ehlos = mode, [], 0, []
        self.server_names = []  # the SNI name of each handshake (None: none sent)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(pki["cert"]), str(pki["key"]))
        self.ctx.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)
        peer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                peer.connections += 1
                try:
                    peer.serve(self.request)
                except (OSError, ssl.SSLError):
                    pass

        self.port = free_port(host)
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer((host, self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def serve(self, sock):
        buf = b""

        def line():
            nonlocal buf
            while b"\r\n" not in buf:
                chunk = sock.recv(4096)
                if not chunk:
                    raise OSError("closed")
                buf += chunk
            l, _, buf = buf.partition(b"\r\n")
            return l.decode()

        sock.sendall(b"220 tls.scripted ESMTP\r\n")
        while True:
            cmd = line()
            verb = cmd.split(" ")[0].upper()
            if verb == "EHLO":
                self.ehlos.append((cmd, isinstance(sock, ssl.SSLSocket)))
                tls_ext = [] if isinstance(sock, ssl.SSLSocket) else ["STARTTLS"]
                exts = ["tls.scripted", "8BITMIME", *tls_ext]
                sock.sendall("".join(f"250-{e}\r\n" for e in exts[:-1]).encode() + f"250 {exts[-1]}\r\n".encode())
            elif verb == "STARTTLS":
                if self.mode in ("inject", "tls"):
                    extra = b"554 5.7.1 injected reply\r\n" if self.mode == "inject" else b""
                    sock.sendall(b"220 2.0.0 Ready to start TLS\r\n" + extra)
                    sock = self.ctx.wrap_socket(sock, server_side=True)
                else:
                    sock.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                    sock.sendall(b"this is not a TLS record\r\n" * 4)
                    return
            elif verb in ("MAIL", "RCPT", "RSET"):
                sock.sendall(b"250 2.0.0 Ok\r\n")
            elif verb == "DATA":
                sock.sendall(b"354 go ahead\r\n")
                body = b""
                while (l := line()) != ".":
                    body += l.encode() + b"\r\n"
                self.messages.append((body, isinstance(sock, ssl.SSLSocket)))
                sock.sendall(b"250 2.0.0 Ok: queued\r\n")
            elif verb == "QUIT":
                sock.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                sock.sendall(b"502 5.5.2 Error: command not recognized\r\n")

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_replies_behind_the_starttls_220_are_discarded(instance, pki):
    server = TlsScripted(pki, "inject")
    try:
        agent = client(instance, smtp_tls_security_level="encrypt")
        _, r = send(agent, f"[127.0.0.2]:{server.port}", "u@x.test")
        # Taken as the answer to the EHLO after TLS, the injected 554 would
        # have ended the session; it was dropped, and the mail went over TLS.
        assert r["status"] == "S", r
        assert server.messages and server.messages[0][1] is True
        assert [tls for _, tls in server.ehlos] == [False, True]
        agent.wait_log(rf"127\.0\.0\.2\[127\.0\.0\.2\]:{server.port}: discarding 26 bytes of plaintext "
                       r"received after the reply to STARTTLS")
        agent.wait_log(rf"Untrusted TLS connection established to 127\.0\.0\.2\[127\.0\.0\.2\]:{server.port}")
    finally:
        server.stop()


def test_may_retries_in_plain_text_after_a_failed_handshake(instance, pki):
    server = TlsScripted(pki, "break")
    try:
        agent = client(instance, smtp_tls_security_level="may")
        _, r = send(agent, f"[127.0.0.2]:{server.port}", "u@x.test")
        assert r["status"] == "S", r
        assert server.connections == 2
        assert server.messages and server.messages[0][1] is False
        agent.wait_log(rf"SSL_connect error to 127\.0\.0\.2\[127\.0\.0\.2\]:{server.port}: ")
        agent.wait_log(r"TLS handshake failed; trying again in plain text")
    finally:
        server.stop()


def test_encrypt_defers_after_a_failed_handshake(instance, pki):
    server = TlsScripted(pki, "break")
    try:
        agent = client(instance, smtp_tls_security_level="encrypt")
        _, r = send(agent, f"[127.0.0.2]:{server.port}", "u@x.test")
        assert (r["status"], r["dsn"], r["reason"]) == ("D", "4.7.5", "Cannot start TLS: handshake failure"), r
        assert server.connections == 1 and not server.messages
    finally:
        server.stop()


# --- connection reuse and tracing --------------------------------------------
def test_tls_connection_is_reused_for_the_same_policy(instance, receiver, pki):
    agent = client(instance, smtp_tls_security_level="verify", smtp_tls_CAfile=pki["ca"])
    nexthop = f"[127.0.0.1]:{receiver.port}"
    assert send(agent, nexthop)[1]["status"] == "S"
    assert send(agent, nexthop)[1]["status"] == "S"
    assert len(receiver.queue()) == 2
    # One handshake, one session at the receiver: the second mail rode the first connection.
    assert len(re.findall(r"Verified TLS connection established", agent.log())) == 1
    assert len(re.findall(r"TLS connection established from", receiver.log())) == 1


def test_trace_transfer_logs_the_smtp_dialogue(instance, receiver, pki):
    agent = client(instance, smtp_tls_security_level="encrypt", smtp_connection_cache_on_demand="no")
    r = agent.postern("trace", "transfer")
    assert r.returncode == 0, r.stderr
    assert send(agent, f"[127.0.0.1]:{receiver.port}")[1]["status"] == "S"
    peer = rf"127\.0\.0\.1\[127\.0\.0\.1\]:{receiver.port}"
    agent.wait_log(rf"trace: transfer: > {peer}: STARTTLS")
    agent.wait_log(rf"trace: transfer: < {peer}: 220 2\.0\.0 Ready to start TLS")
    agent.wait_log(rf"trace: transfer: > {peer}: MAIL FROM:<sender@example\.org>")
    agent.wait_log(rf"trace: transfer: < {peer}: 250 2\.0\.0 Ok: queued as")
    assert "secret line" not in agent.log()  # the content is never traced
