# tests/system/test_tls_server.py — smtpd's TLS beyond test_tls.py: gnutls-cli
# over STARTTLS, what STARTTLS makes the session forget (RFC 3207 §4.2), a
# root-only key read before the worker drops to mail_owner, an unreadable
# key (TLS unavailable, not fatal), certificates re-read on reload without
# cutting a session, the protocol name recorded for a message (ESMTPSA and
# friends), the handshake timeout and smtpd_tls_loglevel. Certificates are
# made here with certtool (test_tls.py's pki fixture).
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess

import pytest

from conftest import free_port, wait_for
from qmgr_helpers import configure
from test_auth import PASSWORDS, b64, plain, write_passwords
from test_smtpd import Raw, Smtpd
from test_tls import ESTABLISHED, Interactive, _accepts, _certtool, pki, start_tls_smtpd, tls_params  # noqa: F401

pytestmark = pytest.mark.skipif(not shutil.which("certtool"), reason="GnuTLS certtool not installed")

AUTH = dict(smtpd_sasl_auth_enable="yes", smtpd_tls_auth_only="no", mynetworks="127.0.0.2/32",
            smtpd_sasl_failure_delay="0s", local_recipient_maps="")


def insecure_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def starttls(c):
    """STARTTLS on a Raw client; the same client then speaks over TLS."""
    assert c.cmd("STARTTLS") == (220, "2.0.0 Ready to start TLS")
    c.sock = insecure_context().wrap_socket(c.sock, server_hostname="localhost")
    return c


def self_signed(d, name, serial):
    key, cert, tmpl = d / f"{name}.key", d / f"{name}.pem", d / f"{name}.tmpl"
    tmpl.write_text(f'cn = "{name}"\ndns_name = "localhost"\nserial = {serial}\nexpiration_days = 2\n'
                    "tls_www_server\nsigning_key\nencryption_key\n")
    _certtool("--generate-privkey", "--key-type=ecdsa", "--outfile", str(key))
    _certtool("--generate-self-signed", "--load-privkey", str(key), "--template", str(tmpl), "--outfile", str(cert))
    return key, cert


def der(cert_path):
    return ssl.PEM_cert_to_DER_cert(cert_path.read_text())


# --- clients ---------------------------------------------------------------------

class CrlfInteractive(Interactive):
    def send(self, line):
        self.p.stdin.write(line.encode() + b"\r\n")
        self.p.stdin.flush()


def test_gnutls_cli_starttls_delivers(instance, pki):
    smtpd = start_tls_smtpd(instance, pki)
    # stdbuf: gnutls-cli writes the server's lines through stdio, block-buffered into a pipe.
    # No --crlf: it turns only the first LF of each read into CRLF and drops
    # what follows, so lines that arrive together would be lost; we send CRLF.
    c = CrlfInteractive(["stdbuf", "-oL", "gnutls-cli", "--starttls-proto=smtp", "--port", str(smtpd.port),
                         "--x509cafile", str(pki["ca"]), "localhost"])
    try:
        c.message()
    except AssertionError as e:
        raise AssertionError(f"{e}\nlog:\n{instance.log()}")
    finally:
        c.close()
    instance.wait_log(ESTABLISHED)
    msgs = wait_for(lambda: smtpd.queue(), 10, what="queued message")
    head = msgs[0]["body"].split(b"\r\n\r\n", 1)[0]
    assert b"with ESMTPS id " in head and b"(using TLSv1.3 with cipher TLS_" in head, head
    assert msgs[0]["protocol"] == "ESMTPS"


def swaks_auth(port, mech, password):
    return subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--tls", "--auth", mech,
                           "--auth-user", "alice", "--auth-password", password, "--from", "alice@example.org",
                           "--to", "carol@elsewhere.test", "--helo", "client.test"],
                          capture_output=True, text=True, timeout=60)


def test_swaks_auth_plain_and_login_over_starttls(instance, pki):
    smtpd = start_tls_smtpd(instance, pki, smtpd_sasl_auth_enable="yes", mynetworks="127.0.0.2/32",
                            smtpd_sasl_failure_delay="0s", smtpd_sasl_password_maps=write_passwords(instance))
    for mech in ("PLAIN", "LOGIN"):
        ok = swaks_auth(smtpd.port, mech, PASSWORDS["alice"])
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "235 2.7.0 Authentication successful" in ok.stdout
        bad = swaks_auth(smtpd.port, mech, "wrong")
        assert bad.returncode != 0 and "535 5.7.8 Error: authentication failed" in bad.stdout, bad.stdout
    # Relayed for alice (outside mynetworks) only because she logged in.
    msgs = wait_for(lambda: [m for m in smtpd.queue() if m["rcpts"] == ["carol@elsewhere.test"]] or None, 10,
                    what="two relayed messages")
    assert len(msgs) == 2 and all(m["protocol"] == "ESMTPSA" for m in msgs)


# --- RFC 3207 §4.2: STARTTLS forgets -------------------------------------------------

def test_starttls_forgets_helo_transaction_and_login(instance, pki):
    smtpd = start_tls_smtpd(instance, pki, smtpd_sasl_password_maps=write_passwords(instance),
                            smtpd_sasl_max_failures="2", **AUTH)
    c = Raw(smtpd.port)
    c.ehlo()
    assert c.cmd("AUTH PLAIN " + plain("alice", "wrong"))[0] == 535  # one failure of two allowed
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"])) == (235, "2.7.0 Authentication successful")
    assert c.cmd("MAIL FROM:<alice@example.org>") == (250, "2.1.0 Ok")
    assert c.cmd("RCPT TO:<carol@elsewhere.test>") == (250, "2.1.5 Ok")  # relay by login
    starttls(c)
    # HELO forgotten.
    assert c.cmd("MAIL FROM:<alice@example.org>") == (503, "5.5.1 Error: send HELO/EHLO first")
    assert "AUTH PLAIN LOGIN" in c.ehlo()
    # The transaction forgotten.
    assert c.cmd("RCPT TO:<carol@elsewhere.test>") == (503, "5.5.1 Error: need MAIL command")
    # The login forgotten: no relay now.
    assert c.cmd("MAIL FROM:<alice@example.org>") == (250, "2.1.0 Ok")
    assert c.cmd("RCPT TO:<carol@elsewhere.test>")[0] == 454
    assert c.cmd("RSET")[0] == 250
    # The failure before TLS forgotten: this one is the first again, not the last.
    assert c.cmd("AUTH PLAIN " + plain("alice", "wrong"))[0] == 535
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"])) == (235, "2.7.0 Authentication successful")
    assert c.cmd("MAIL FROM:<alice@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<carol@elsewhere.test>") == (250, "2.1.5 Ok")
    assert c.cmd("QUIT")[0] == 221


# --- keys: read as root, unreadable, re-read on reload -------------------------------

def _uid_of(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("Uid:"):
            return [int(x) for x in line.split()[1:]]
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the key is readable by root only")
def test_root_only_key_is_read_before_dropping_to_mail_owner(instance, pki):
    d = instance.root / "private_tls"
    d.mkdir(mode=0o700)
    key, cert = d / "key.pem", d / "cert.pem"
    shutil.copy(pki["key"], key)
    shutil.copy(pki["cert"], cert)
    for f in (key, cert):
        os.chown(f, 0, 0)
        f.chmod(0o600)
    smtpd = start_tls_smtpd(instance, pki, smtpd_tls_cert_file=str(cert), smtpd_tls_key_file=str(key))
    c = starttls(Raw(smtpd.port))
    assert c.sock.getpeercert(binary_form=True) == der(pki["cert"])
    assert c.ehlo()[0] == "mx.postern.test"
    # The worker that read the key runs as mail_owner now, for good.
    [pid] = smtpd.pids()
    uids = _uid_of(pid)
    assert uids and all(u != 0 for u in uids), uids
    assert "disabling TLS support" not in instance.log()


def test_unreadable_key_is_named_and_leaves_tls_unavailable(instance, pki):
    missing = instance.root / "no-such-key.pem"
    smtpd = start_tls_smtpd(instance, pki, smtpd_tls_key_file=str(missing))
    instance.wait_log(rf"warning: TLS: cannot read smtpd_tls_key_file {re.escape(str(missing))}: "
                      r"No such file or directory -- disabling TLS support")
    c = Raw(smtpd.port)
    assert "STARTTLS" in c.ehlo()  # as Postfix: offered, then refused
    assert c.cmd("STARTTLS") == (454, "4.7.0 TLS not available due to local problem")
    assert c.cmd("MAIL FROM:<a@example.org>") == (250, "2.1.0 Ok")  # plain text still works


def test_wrapper_mode_without_key_drops_the_client_with_a_warning(instance, pki):
    missing = instance.root / "no-such-key.pem"
    smtpd = start_tls_smtpd(instance, pki, master_opts="-o smtpd_tls_wrappermode=yes",
                            smtpd_tls_key_file=str(missing))
    s = socket.create_connection(("127.0.0.1", smtpd.port), timeout=10)
    assert s.recv(100) == b""
    instance.wait_log(r"warning: Wrapper-mode request dropped from \S+\[127\.0\.0\.1\] for service 127\.0\.0\.1:\d+\. "
                      r"TLS context initialization failed")


def test_reload_rereads_the_certificate_and_keeps_an_open_session(instance, pki):
    d = instance.root / "certs"
    d.mkdir()
    old_key, old_cert = self_signed(d, "old.localhost", 1)
    new_key, new_cert = self_signed(d, "new.localhost", 2)
    key, cert = d / "key.pem", d / "cert.pem"
    shutil.copy(old_key, key)
    shutil.copy(old_cert, cert)
    for f in d.iterdir():
        f.chmod(0o644)
    smtpd = start_tls_smtpd(instance, pki, smtpd_tls_cert_file=str(cert), smtpd_tls_key_file=str(key))
    first = starttls(Raw(smtpd.port))
    assert first.sock.getpeercert(binary_form=True) == der(old_cert)
    first.ehlo()
    assert first.cmd("MAIL FROM:<a@example.org>")[0] == 250
    [old_pid] = smtpd.pids()

    shutil.copy(new_key, key)
    shutil.copy(new_cert, cert)
    instance.reload()
    second = starttls(Raw(smtpd.port))
    assert second.sock.getpeercert(binary_form=True) == der(new_cert)
    second.ehlo()
    assert second.cmd("QUIT")[0] == 221

    # The session that started before the reload finishes in its old worker.
    assert old_pid in smtpd.pids()
    assert first.cmd("RCPT TO:<alice@mx.postern.test>")[0] == 250
    assert first.cmd("DATA")[0] == 354
    code, text = first.cmd("Subject: across a reload\r\n\r\nhello\r\n.")
    assert code == 250 and text.startswith("2.0.0 Ok: queued as "), text
    assert first.cmd("QUIT")[0] == 221
    wait_for(lambda: old_pid not in smtpd.pids(), 10, what="the old worker to exit")
    assert any(b"across a reload" in m["body"] for m in smtpd.queue())


# --- the protocol recorded for a message -------------------------------------------------

def _send(port, tls, user=None, rcpt="alice@mx.postern.test"):
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=10) as c:
        c.ehlo()
        if tls:
            c.starttls(context=insecure_context())
            c.ehlo()
        if user:
            c.login(user, PASSWORDS[user])
        c.sendmail("alice@example.org", [rcpt], f"Subject: {tls} {user}\r\n\r\nhi\r\n".encode())


def test_protocol_names_tls_and_login_in_received_queue_and_show_envelope(instance, pki):
    configure(instance, **tls_params(pki, **AUTH, smtpd_sasl_password_maps=write_passwords(instance)))
    port = free_port()
    instance.add_service(f"127.0.0.1:{port} inet n - n - - smtpd -o max_use=0")
    instance.start()
    wait_for(lambda: _accepts(port), timeout=10, what="smtpd listening")
    wait_for(lambda: instance.processes("qmgr"), 10, what="qmgr")
    wait_for(lambda: (instance.queue_dir / "public" / "control").exists(), 10, what="the control socket")
    for what in ("mta", "mda"):  # the mail stays in the queue to be looked at
        r = instance.postern("pause", what)
        assert r.returncode == 0, r.stderr
    smtpd = Smtpd(instance, port)
    cases = {(False, None): "ESMTP", (True, None): "ESMTPS", (False, "alice"): "ESMTPA", (True, "alice"): "ESMTPSA"}
    for (tls, user), proto in cases.items():
        _send(port, tls, user)
    msgs = wait_for(lambda: len(smtpd.queue()) == 4 and smtpd.queue(), 10, what="four messages")
    seen = {}
    for m in msgs:
        head = m["body"].split(b"\r\n\r\n", 1)[0].decode()
        subject = re.search(r"Subject: (\S+) (\S+)", head).groups()
        key = (subject[0] == "True", None if subject[1] == "None" else subject[1])
        seen[key] = m
        assert f"with {cases[key]} id {m['id']}" in head, head
        assert m["protocol"] == cases[key]
    assert set(seen) == set(cases)

    # postern show envelope reads the same record.
    msgid = seen[(True, "alice")]["id"]
    lines = wait_for(lambda: [l for l in instance.postern("show", "queue").stdout.splitlines()
                              if l.startswith(msgid)], 10, what="the envelope in show queue")
    env = lines[0].split("|")[0]
    out = instance.postern("show", "envelope", env)
    assert out.returncode == 0, out.stderr
    fields = dict(l.split(": ", 1) for l in out.stdout.splitlines() if ": " in l)
    assert fields["protocol"] == "ESMTPSA"
    assert "authenticated" in fields["flags"]


# --- handshake timeout and log levels ----------------------------------------------------

def test_starttls_handshake_times_out_with_smtpd_starttls_timeout(instance, pki):
    # smtpd_timeout is far away: only the handshake limit can end this session.
    smtpd = start_tls_smtpd(instance, pki, smtpd_starttls_timeout="1s", smtpd_timeout="3600s")
    c = Raw(smtpd.port)
    c.ehlo()
    assert c.cmd("STARTTLS") == (220, "2.0.0 Ready to start TLS")
    # ... and then nothing: no ClientHello.
    instance.wait_log(r"SSL_accept error from \S+\[127\.0\.0\.1\]: TLS handshake timed out", timeout=30)
    instance.wait_log(r"lost connection after STARTTLS from \S+\[127\.0\.0\.1\]", timeout=10)
    assert c.closed(timeout=10)


def test_starttls_timeout_default_is_postfix_expression(instance):
    from test_postconf import postconf
    r = postconf(instance.config_dir, "-d", "smtpd_starttls_timeout")
    assert r.stdout.strip() == "smtpd_starttls_timeout = ${stress?{10}:{300}}s"
    instance.set(stress="yes")
    r = postconf(instance.config_dir, "-x", "smtpd_starttls_timeout")
    assert r.stdout.strip() == "smtpd_starttls_timeout = 10s"


def _one_tls_session(instance, port):
    mark = instance.log_mark()
    c = starttls(Raw(port))
    c.ehlo()
    assert c.cmd("QUIT")[0] == 221
    instance.wait_log(r"disconnect from", since=mark)
    return instance.log()[mark:]


@pytest.mark.parametrize("level", [0, 1, 2])
def test_tls_loglevel(instance, pki, level):
    smtpd = start_tls_smtpd(instance, pki, smtpd_tls_loglevel=str(level))
    log = _one_tls_session(instance, smtpd.port)
    established = re.search(ESTABLISHED, log)
    setting_up = re.search(r"setting up TLS connection from \S+\[127\.0\.0\.1\]", log)
    handshake = re.search(r"\S+\[127\.0\.0\.1\]: TLS handshake done: \(TLS1\.3[^)]*\)", log)
    assert bool(established) == (level >= 1), log
    assert bool(setting_up) == (level >= 2), log
    assert bool(handshake) == (level >= 2), log
    # An error is logged at every level, 0 included.
    mark = instance.log_mark()
    c = Raw(smtpd.port)
    c.ehlo()
    assert c.cmd("STARTTLS")[0] == 220
    c.send(b"this is no ClientHello\r\n" * 4)
    assert c.closed()
    instance.wait_log(r"SSL_accept error from \S+\[127\.0\.0\.1\]: ", since=mark)


# --- a failed handshake ends with a TLS alert, not a bare close ------------------

def _handshake_error(port, ctx):
    """STARTTLS, then a handshake with ctx that the server must refuse;
    returns the ssl.SSLError that the client saw."""
    c = Raw(port)
    try:
        c.cmd("EHLO client.test")
        assert c.cmd("STARTTLS") == (220, "2.0.0 Ready to start TLS")
        with pytest.raises(ssl.SSLError) as e:
            ctx.wrap_socket(c.sock, server_hostname="localhost")
        return e.value
    finally:
        c.sock.close()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_client_with_only_an_old_protocol_gets_a_protocol_version_alert(instance, pki):
    smtpd = start_tls_smtpd(instance, pki, smtpd_tls_protocols=">=TLSv1.2")
    ctx = insecure_context()
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL offers TLS 1.1 only at level 0
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    err = _handshake_error(smtpd.port, ctx)
    assert "TLSV1_ALERT_PROTOCOL_VERSION" in str(err), err
    instance.wait_log(r"SSL_accept error from \S+\[127\.0\.0\.1\]")


def test_client_without_a_common_cipher_gets_a_handshake_failure_alert(instance, pki):
    smtpd = start_tls_smtpd(instance, pki)  # an ECDSA certificate: RSA suites cannot be used
    ctx = insecure_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
    err = _handshake_error(smtpd.port, ctx)
    assert "SSLV3_ALERT_HANDSHAKE_FAILURE" in str(err), err


def test_fallback_scsv_with_a_lower_version_gets_inappropriate_fallback(instance, pki):
    if not shutil.which("gnutls-cli"):
        pytest.skip("gnutls-cli not installed")
    smtpd = start_tls_smtpd(instance, pki)  # TLS 1.3 enabled: a TLS 1.2 fallback is inappropriate
    r = subprocess.run(["gnutls-cli", "--starttls-proto=smtp", "--port", str(smtpd.port), "--insecure",
                        "--priority", "NORMAL:-VERS-TLS1.3:%FALLBACK_SCSV", "127.0.0.1"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert re.search(r"Received alert \[86\]: Inappropriate fallback", out), out
