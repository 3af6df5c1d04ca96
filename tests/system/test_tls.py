# tests/system/test_tls.py — TLS end to end: smtpd's STARTTLS and wrapper mode
# (port 465) with swaks, openssl s_client and Python's ssl; the
# STARTTLS injection defence (CVE-2011-0411); and session resumption across
# two smtpd processes. Keys and certificates are made
# here with GnuTLS's certtool: a test CA, a server certificate for
# localhost/127.0.0.1 signed by it, and an unrelated CA.
import os
import select
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import _traversable_tempdir, free_port, wait_for
from test_smtpd import DEFAULTS, Raw, Smtpd

pytestmark = pytest.mark.skipif(not shutil.which("certtool"), reason="GnuTLS certtool not installed")

BODY = b"Subject: tls\r\nFrom: a@example.org\r\n\r\nsecret line\r\n"
ESTABLISHED = r"Anonymous TLS connection established from \S+\[127\.0\.0\.1\]: TLSv1\.3 with cipher TLS_\w+ \((\d+)/\1 bits\)"


# --- keys and certificates ---------------------------------------------------

def _certtool(*args):
    subprocess.run(["certtool", *args], check=True, capture_output=True)


def _make_ca(d, name):
    key, cert, tmpl = d / f"{name}.key", d / f"{name}.pem", d / f"{name}.tmpl"
    tmpl.write_text(f'cn = "{name}"\nca\ncert_signing_key\nexpiration_days = 2\n')
    _certtool("--generate-privkey", "--key-type=ecdsa", "--outfile", str(key))
    _certtool("--generate-self-signed", "--load-privkey", str(key), "--template", str(tmpl), "--outfile", str(cert))
    return key, cert


@pytest.fixture(scope="module")
def pki():
    d = _traversable_tempdir()
    ca_key, ca = _make_ca(d, "Postern Test CA")
    _, wrong_ca = _make_ca(d, "Unrelated CA")
    key, cert, tmpl = d / "server.key", d / "server.pem", d / "server.tmpl"
    tmpl.write_text('cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\n'
                    "tls_www_server\nsigning_key\nencryption_key\nexpiration_days = 2\n")
    _certtool("--generate-privkey", "--key-type=ecdsa", "--outfile", str(key))
    _certtool("--generate-certificate", "--load-privkey", str(key), "--load-ca-privkey", str(ca_key),
              "--load-ca-certificate", str(ca), "--template", str(tmpl), "--outfile", str(cert))
    for f in d.iterdir():
        f.chmod(0o644)  # workers run as mail_owner under root (test keys only)
    yield dict(dir=d, ca=ca, wrong_ca=wrong_ca, key=key, cert=cert)
    shutil.rmtree(d, ignore_errors=True)


def tls_params(pki, **extra):
    p = dict(DEFAULTS, smtpd_tls_cert_file=str(pki["cert"]), smtpd_tls_key_file=str(pki["key"]),
             smtpd_tls_security_level="may", smtpd_tls_loglevel="1", smtpd_tls_received_header="yes")
    p.update(extra)
    return p


def start_tls_smtpd(instance, pki, master_opts="", **extra):
    instance.set(**tls_params(pki, **extra))
    port = free_port()
    instance.add_service(f"127.0.0.1:{port} inet n - n - - smtpd -o max_use=0 {master_opts}".rstrip())
    instance.start()
    wait_for(lambda: _accepts(port), timeout=10, what="smtpd listening")
    return Smtpd(instance, port)


def _accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


def client_context(pki):
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    ctx.check_hostname = True
    return ctx


def queued_with_tls(smtpd, rcpt="alice@mx.postern.test"):
    """The one message queued for rcpt; checks the Received header's TLS lines."""
    msgs = wait_for(lambda: [m for m in smtpd.queue() if rcpt in m["rcpts"]], 10, what="queued message")
    body = msgs[0]["body"]
    head = body.split(b"\r\n\r\n", 1)[0]
    assert b"\r\n\t(using TLSv1.3 with cipher TLS_" in head, head
    assert b"with ESMTPS id " in head, head
    return body


class Interactive:
    """A command-line TLS client (gnutls-cli, openssl s_client) driven line by line."""

    def __init__(self, argv):
        self.err = tempfile.TemporaryFile()
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err)
        self.buf = b""

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def send(self, line):
        self.p.stdin.write(line.encode() + b"\n")
        self.p.stdin.flush()

    def expect(self, code, timeout=10):
        """Reads server lines until a final reply line starting with `code`."""
        end = time.monotonic() + timeout
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                line = line.rstrip(b"\r").decode(errors="replace")
                if line[:3].isdigit() and line[3:4] == " ":
                    assert line.startswith(str(code)), f"expected {code}, got {line!r}"
                    return line
            left = end - time.monotonic()
            assert left > 0, f"no {code} reply; have {self.buf!r}; stderr: {self.stderr()}"
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 65536)
                assert chunk, f"client ended: {self.stderr()}"
                self.buf += chunk

    def message(self):
        """One message after the handshake (the client already said STARTTLS)."""
        self.send("EHLO client.test")
        self.expect(250)
        self.send("MAIL FROM:<a@example.org>")
        self.expect(250)
        self.send("RCPT TO:<alice@mx.postern.test>")
        self.expect(250)
        self.send("DATA")
        self.expect(354)
        for line in BODY.decode().split("\r\n")[:-1]:
            self.send(line)
        self.send(".")
        self.expect(250)
        self.send("QUIT")
        self.expect(221)

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


# --- smtpd: clients -------------------------------------------------------------

def test_swaks_starttls_delivers_and_received_header_names_the_cipher(instance, pki):
    smtpd = start_tls_smtpd(instance, pki)
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{smtpd.port}", "--tls", "--from", "a@example.org",
                        "--to", "alice@mx.postern.test", "--helo", "client.test", "--body", "hello over tls"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr + instance.log()
    assert "STARTTLS" in r.stdout
    instance.wait_log(ESTABLISHED)
    queued_with_tls(smtpd)


def test_openssl_s_client_starttls_delivers(instance, pki):
    smtpd = start_tls_smtpd(instance, pki)
    c = Interactive(["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{smtpd.port}",
                     "-CAfile", str(pki["ca"]), "-verify_return_error", "-crlf", "-quiet"])
    try:
        c.message()
    finally:
        c.close()
    queued_with_tls(smtpd)


def test_port_465_wrapper_mode_with_swaks_tlsc(instance, pki):
    smtpd = start_tls_smtpd(instance, pki, master_opts="-o smtpd_tls_wrappermode=yes")
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{smtpd.port}", "--tlsc", "--from", "a@example.org",
                        "--to", "alice@mx.postern.test", "--helo", "client.test"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr + instance.log()
    instance.wait_log(ESTABLISHED)
    queued_with_tls(smtpd)
    # A plain-text client on the wrapper port gets no banner: a fatal TLS
    # alert record (content type 21, level 2 fatal), then the end.
    c = socket.create_connection(("127.0.0.1", smtpd.port), timeout=10)
    c.sendall(b"EHLO plain.test\r\n")
    data = b""
    while chunk := c.recv(100):
        data += chunk
    assert data[:1] == b"\x15" and data[5:6] == b"\x02" and len(data) == 7, data
    instance.wait_log(r"SSL_accept error from \S+\[127\.0\.0\.1\]")


# --- smtpd: protocol ------------------------------------------------------------

def starttls(c, pki, pipelined=b""):
    """STARTTLS on a Raw client (with bytes pipelined behind it in the same
    write); returns the TLS socket."""
    c.send(b"STARTTLS\r\n" + pipelined)
    assert c.reply() == (220, "2.0.0 Ready to start TLS")
    assert c.buf == b""
    return client_context(pki).wrap_socket(c.sock, server_hostname="localhost")


def read_some(sock, timeout):
    sock.settimeout(timeout)
    try:
        return sock.recv(65536)
    except (socket.timeout, TimeoutError):
        return None


def test_plaintext_pipelined_behind_starttls_is_never_answered(instance, pki):
    smtpd = start_tls_smtpd(instance, pki)
    c = Raw(smtpd.port)
    assert "STARTTLS" in c.ehlo()
    s = starttls(c, pki, pipelined=b"RSET\r\n")
    assert read_some(s, 1.0) is None  # the injected RSET got no 250
    # The session starts over: EHLO again, no STARTTLS offered inside TLS.
    s.sendall(b"MAIL FROM:<a@example.org>\r\n")
    assert read_some(s, 5).startswith(b"503 5.5.1 Error: send HELO/EHLO first")
    s.sendall(b"EHLO client.test\r\n")
    ehlo = read_some(s, 5)
    assert ehlo.startswith(b"250-mx.postern.test\r\n") and b"STARTTLS" not in ehlo, ehlo
    s.sendall(b"STARTTLS\r\n")
    assert read_some(s, 5).startswith(b"554 5.5.1 Error: TLS already active")
    s.sendall(b"QUIT\r\n")
    assert read_some(s, 5).startswith(b"221")


def test_encrypt_level_refuses_mail_before_starttls(instance, pki):
    smtpd = start_tls_smtpd(instance, pki, smtpd_tls_security_level="encrypt")
    c = Raw(smtpd.port)
    assert "STARTTLS" in c.ehlo()
    assert c.cmd("MAIL FROM:<a@example.org>") == (530, "5.7.0 Must issue a STARTTLS command first")
    s = starttls(c, pki)
    f = s.makefile("rwb")
    f.write(b"EHLO client.test\r\nMAIL FROM:<a@example.org>\r\n")
    f.flush()
    lines = [f.readline()]
    while lines[-1].startswith(b"250-"):
        lines.append(f.readline())
    assert lines[-1].startswith(b"250 "), lines  # the end of the EHLO reply
    assert f.readline() == b"250 2.1.0 Ok\r\n"


def test_no_starttls_when_tls_is_off(instance, pki):
    smtpd = start_tls_smtpd(instance, pki, smtpd_tls_security_level="none")
    c = Raw(smtpd.port)
    assert "STARTTLS" not in c.ehlo()
    assert c.cmd("STARTTLS") == (502, "5.5.1 Error: command not implemented")


def test_session_resumes_in_another_smtpd_process(instance, pki):
    instance.set(**tls_params(pki))
    ports = [free_port(), free_port()]
    for p in ports:  # two services: two smtpd processes sharing the queue directory
        instance.add_service(f"127.0.0.1:{p} inet n - n - - smtpd -o max_use=0")
    instance.start()
    for p in ports:
        wait_for(lambda: _accepts(p), timeout=10, what="smtpd listening")
    ctx = client_context(pki)
    sessions = []
    for i, p in enumerate(ports):
        c = Raw(p)
        c.ehlo()
        c.send(b"STARTTLS\r\n")
        assert c.reply()[0] == 220
        s = ctx.wrap_socket(c.sock, server_hostname="localhost", session=sessions[-1] if sessions else None)
        s.sendall(b"EHLO client.test\r\n")
        assert read_some(s, 5).startswith(b"250")  # the ticket has arrived with it
        sessions.append(s.session)
        if i == 1:
            assert s.session_reused
        s.sendall(b"QUIT\r\n")
        read_some(s, 5)
        s.close()
    assert len(set(instance.workers("smtpd"))) == 2
    key = instance.queue_dir / "tls_ticket_key"
    assert key.stat().st_mode & 0o777 == 0o600
