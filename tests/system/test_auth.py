# tests/system/test_auth.py — SMTP AUTH end to end: smtpd's PLAIN and LOGIN
# against crypt hashes in a table, relay by login, sender login maps, the
# failure delay and 421, AUTH only after STARTTLS, and the smtp client
# logging in to a second postern used as its smarthost.
import base64
import ctypes
import ctypes.util
import shutil
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import BIN, QTOOL, Instance, _traversable_tempdir, free_port, wait_for
from test_smtp_client import Message, deliver
from test_smtpd import start_smtpd
from test_tls import pki, tls_params  # noqa: F401 (pki is a fixture)

PASSWORDS = {"alice": "correct horse", "bob": "b0b's pässword"}


def crypt_hash(password, prefix=b"$y$"):
    """A crypt(3) hash made the way `postern encrypt` makes one (libxcrypt)."""
    lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = lib.crypt_gensalt(prefix, 0, None, 0)
    h = lib.crypt(password.encode(), salt)
    assert h and not h.startswith(b"*"), (prefix, h)
    return h.decode()


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def plain(user, password, authzid=""):
    return b64(f"{authzid}\0{user}\0{password}")


def write_passwords(instance, hashes=None):
    path = instance.root / "sasl_passwd"
    hashes = hashes or {"alice": crypt_hash(PASSWORDS["alice"]),
                        "bob": crypt_hash(PASSWORDS["bob"], b"$6$")}
    path.write_text("".join(f"{u} {h}\n" for u, h in hashes.items()))
    return f"texthash:{path}"


def auth_smtpd(instance, master_opts="", **params):
    """smtpd with AUTH on plaintext (smtpd_tls_auth_only=no), clients from
    127.0.0.1 outside mynetworks, no delay after failures unless asked."""
    p = dict(smtpd_sasl_auth_enable="yes", smtpd_tls_auth_only="no",
             mynetworks="127.0.0.2/32", smtpd_sasl_failure_delay="0s", local_recipient_maps="")
    p.update(params)
    if "smtpd_sasl_password_maps" not in p:
        p["smtpd_sasl_password_maps"] = write_passwords(instance)
    return start_smtpd(instance, master_opts, **p)


def login(c, user, password, mech="PLAIN"):
    """AUTH with raw commands; returns the final (code, text)."""
    if mech == "PLAIN":
        return c.cmd(f"AUTH PLAIN {plain(user, password)}")
    assert c.cmd("AUTH LOGIN") == (334, "VXNlcm5hbWU6")
    assert c.cmd(b64(user)) == (334, "UGFzc3dvcmQ6")
    return c.cmd(b64(password))


@pytest.fixture
def server(instance):
    return auth_smtpd(instance)


# --- the exchange -----------------------------------------------------------
def test_ehlo_offers_plain_and_login(server):
    c = server.raw()
    assert "AUTH PLAIN LOGIN" in c.ehlo()


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_good_password_authenticates(server, mech):
    c = server.raw()
    c.ehlo()
    assert login(c, "alice", PASSWORDS["alice"], mech) == (235, "2.7.0 Authentication successful")
    assert c.cmd("AUTH PLAIN " + plain("alice", "x"))[0] == 503  # once per session


def test_sha512_hash_and_non_ascii_password_authenticate(server):
    c = server.raw()
    c.ehlo()
    assert login(c, "bob", PASSWORDS["bob"])[0] == 235


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_bad_password_fails_with_535(server, mech):
    c = server.raw()
    c.ehlo()
    assert login(c, "alice", "wrong", mech) == (535, "5.7.8 Error: authentication failed")
    assert login(c, "nobody", "wrong", mech)[0] == 535  # unknown users fail alike
    server.instance.wait_log(rf"warning: unknown\[127\.0\.0\.1\]: SASL {mech} authentication failed: "
                             r"authentication failure, sasl_username=alice")


def test_initial_response_in_plain_is_optional(server):
    c = server.raw()
    c.ehlo()
    assert c.cmd("AUTH PLAIN") == (334, "")
    assert c.cmd(plain("alice", PASSWORDS["alice"]))[0] == 235


def test_cancel_bad_base64_and_unknown_mechanism(server):
    c = server.raw()
    c.ehlo()
    assert c.cmd("AUTH LOGIN") == (334, "VXNlcm5hbWU6")
    assert c.cmd("*") == (501, "5.7.0 Authentication aborted")
    assert c.cmd("AUTH PLAIN not!base64") == (501, "5.5.2 Cannot decode response")
    assert c.cmd("AUTH CRAM-MD5")[0] == 504
    assert c.cmd("AUTH")[0] == 501
    assert c.cmd("AUTH PLAIN " + b64("\0us\r\ner\0pw")) == (501, "5.5.2 Invalid authentication message")
    assert c.cmd("NOOP")[0] == 250  # the session is in command mode again


def test_auth_needs_ehlo_and_no_transaction(server):
    c = server.raw()
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"]))[0] == 503
    c.ehlo()
    c.cmd("MAIL FROM:<a@example.org>")
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"]))[0] == 503


def test_pipelined_commands_wait_for_the_verification(server):
    c = server.raw()
    c.ehlo()
    c.send(f"AUTH PLAIN {plain('alice', PASSWORDS['alice'])}\r\nMAIL FROM:<a@example.org>\r\n"
           "RCPT TO:<x@other.test>\r\n")
    assert c.replies(3) == [(235, "2.7.0 Authentication successful"), (250, "2.1.0 Ok"), (250, "2.1.5 Ok")]


def test_smtplib_login_works(server):
    with server.smtp() as s:
        s.ehlo("client.test")
        assert s.login("alice", PASSWORDS["alice"])[0] == 235


# --- what authentication allows ---------------------------------------------
def test_authenticated_client_outside_mynetworks_may_relay(server):
    c = server.raw()
    c.ehlo()
    assert login(c, "alice", PASSWORDS["alice"])[0] == 235
    c.cmd("MAIL FROM:<alice@example.org>")
    assert c.cmd("RCPT TO:<someone@other.test>") == (250, "2.1.5 Ok")


def test_unauthenticated_client_outside_mynetworks_may_not_relay(server):
    c = server.raw()
    c.ehlo()
    assert login(c, "alice", "wrong")[0] == 535
    c.cmd("MAIL FROM:<alice@example.org>")
    assert c.cmd("RCPT TO:<someone@other.test>")[0] == 454


def test_auth_parameter_on_mail_from_is_accepted(server):
    c = server.raw()
    c.ehlo()
    login(c, "alice", PASSWORDS["alice"])
    assert c.cmd("MAIL FROM:<alice@example.org> AUTH=<>") == (250, "2.1.0 Ok")
    c.cmd("RSET")
    assert c.cmd("MAIL FROM:<alice@example.org> AUTH=alice+40example.org") == (250, "2.1.0 Ok")


def send_one(c, sender="alice@example.org", rcpt="carol@mx.postern.test"):
    assert c.cmd(f"MAIL FROM:<{sender}>")[0] == 250
    assert c.cmd(f"RCPT TO:<{rcpt}>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    code, text = c.cmd("Subject: t\r\n\r\nhello\r\n.")
    assert code == 250, text
    return text.split()[-1]


def test_log_names_method_and_user_and_never_the_password(server):
    c = server.raw()
    c.ehlo()
    login(c, "alice", "wrong", "LOGIN")
    login(c, "alice", PASSWORDS["alice"], "PLAIN")
    msgid = send_one(c)
    server.instance.wait_log(rf"{msgid}: client=unknown\[127\.0\.0\.1\], sasl_method=PLAIN, sasl_username=alice$")
    log = server.instance.log()
    for secret in (PASSWORDS["alice"], "wrong", plain("alice", PASSWORDS["alice"]), b64("wrong")):
        assert secret not in log


def test_received_header_names_the_user_only_when_asked(instance):
    s = auth_smtpd(instance, smtpd_sasl_authenticated_header="yes")
    c = s.raw()
    c.ehlo()
    login(c, "alice", PASSWORDS["alice"])
    send_one(c)
    [m] = s.queue()
    head = m["body"].split(b"\r\n\r\n")[0]
    assert b"\r\n\t(Authenticated sender: alice)\r\n\tby mx.postern.test" in head, head
    assert b"with ESMTPA id" in head


def test_received_header_without_the_user_by_default(server):
    c = server.raw()
    c.ehlo()
    login(c, "alice", PASSWORDS["alice"])
    send_one(c)
    [m] = server.queue()
    head = m["body"].split(b"\r\n\r\n")[0]
    assert b"alice" not in head.replace(b"alice@example.org", b"")
    assert b"Authenticated sender" not in head and b"with ESMTPA id" in head


def test_submission_style_service_requires_authentication(instance):
    s = auth_smtpd(instance, "-o smtpd_client_restrictions=permit_sasl_authenticated,reject",
                   mynetworks="127.0.0.1/32")
    c = s.raw()  # inside mynetworks, and still refused without a login
    c.ehlo()
    c.cmd("MAIL FROM:<alice@example.org>")
    assert c.cmd("RCPT TO:<carol@mx.postern.test>")[0] == 554
    c.cmd("RSET")
    login(c, "alice", PASSWORDS["alice"])
    c.cmd("MAIL FROM:<alice@example.org>")
    assert c.cmd("RCPT TO:<carol@mx.postern.test>") == (250, "2.1.5 Ok")


# --- sender login maps ------------------------------------------------------
@pytest.fixture
def owners(instance):
    path = instance.root / "sender_logins"
    path.write_text("alice@example.org alice\nbob@example.org bob, alice\n@team.example bob\n")
    return auth_smtpd(instance, smtpd_sender_login_maps=f"texthash:{path}",
                      smtpd_sender_restrictions="reject_sender_login_mismatch")


def test_sender_login_mismatch_is_rejected(owners):
    c = owners.raw()
    c.ehlo()
    login(c, "bob", PASSWORDS["bob"])
    c.cmd("MAIL FROM:<alice@example.org>")
    assert c.cmd("RCPT TO:<carol@mx.postern.test>") == (
        553, "5.7.1 <alice@example.org>: Sender address rejected: not owned by user bob")
    c.cmd("RSET")
    for sender in ("bob@example.org", "x@team.example"):  # own address, own domain
        c.cmd(f"MAIL FROM:<{sender}>")
        assert c.cmd("RCPT TO:<carol@mx.postern.test>")[0] == 250, sender
        c.cmd("RSET")
    c.cmd("MAIL FROM:<nobody@else.example>")  # owned by nobody: not his either
    assert c.cmd("RCPT TO:<carol@mx.postern.test>")[0] == 553


def test_owned_sender_without_login_is_rejected(owners):
    c = owners.raw()
    c.ehlo()
    c.cmd("MAIL FROM:<alice@example.org>")
    assert c.cmd("RCPT TO:<carol@mx.postern.test>") == (
        553, "5.7.1 <alice@example.org>: Sender address rejected: not logged in")


def test_login_restriction_without_maps_is_a_configuration_error(instance):
    instance.set(smtpd_sender_restrictions="reject_sender_login_mismatch")
    port = free_port()
    instance.set(smtpd_sasl_auth_enable="yes", smtpd_sasl_password_maps=write_passwords(instance))
    instance.add_service(f"127.0.0.1:{port} inet n - n - - smtpd")
    instance.start()
    # master starts smtpd at the first connection; the worker refuses to run.
    wait_for(lambda: _connects(port), timeout=10, what="the smtpd port")
    instance.wait_log(r"reject_sender_login_mismatch needs smtpd_sender_login_maps", timeout=10)


def _connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


# --- failures ---------------------------------------------------------------
def test_failures_are_delayed_and_end_in_421(instance):
    s = auth_smtpd(instance, smtpd_sasl_failure_delay="1s", smtpd_sasl_max_failures="2")
    c = s.raw()
    c.ehlo()
    t0 = time.monotonic()
    assert login(c, "alice", "wrong")[0] == 535
    assert time.monotonic() - t0 >= 0.9
    code, text = login(c, "alice", "wrong again")
    assert (code, text) == (421, "4.7.0 mx.postern.test Error: too many failed authentication attempts")
    assert c.closed()
    s.instance.wait_log(r"too many failed authentication attempts from unknown\[127\.0\.0\.1\]")


def test_a_weak_hash_in_the_table_never_matches(instance):
    weak = crypt_hash("secret", b"$1$")
    s = auth_smtpd(instance, smtpd_sasl_password_maps=write_passwords(instance, {"carl": weak}))
    c = s.raw()
    c.ehlo()
    assert login(c, "carl", "secret")[0] == 535
    s.instance.wait_log(r"the entry of user carl is not a yescrypt, bcrypt or SHA-crypt hash")


# --- TLS --------------------------------------------------------------------
def test_auth_is_not_offered_before_tls_by_default(instance):
    s = start_smtpd(instance, smtpd_sasl_auth_enable="yes", smtpd_sasl_password_maps=write_passwords(instance))
    c = s.raw()
    assert not any(l.startswith("AUTH") for l in c.ehlo())
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"])) == (
        503, "5.5.1 Error: authentication not enabled")


def make_certificate(root):
    certtool = shutil.which("certtool")
    if not certtool:
        pytest.skip("certtool (gnutls-bin) is not installed")
    key, cert, tmpl = root / "key.pem", root / "cert.pem", root / "cert.tmpl"
    subprocess.run([certtool, "--generate-privkey", "--key-type=ecdsa", "--outfile", str(key)],
                   check=True, capture_output=True)
    tmpl.write_text('cn = "mx.postern.test"\ndns_name = "mx.postern.test"\nexpiration_days = 2\n'
                    "tls_www_server\nsigning_key\nencryption_key\n")
    subprocess.run([certtool, "--generate-self-signed", "--load-privkey", str(key), "--template", str(tmpl),
                    "--outfile", str(cert)], check=True, capture_output=True)
    key.chmod(0o644)  # run as root, smtpd reads it as mail_owner; a test key protects nothing
    return cert, key


def test_auth_is_offered_and_works_after_starttls(instance):
    cert, key = make_certificate(instance.root)
    s = start_smtpd(instance, smtpd_sasl_auth_enable="yes", smtpd_sasl_password_maps=write_passwords(instance),
                    smtpd_tls_security_level="may", smtpd_tls_cert_file=str(cert), smtpd_tls_key_file=str(key))
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", s.port, local_hostname="client.test", timeout=10) as c:
        c.ehlo()
        assert c.has_extn("starttls") and not c.has_extn("auth")
        c.starttls(context=ctx)
        c.ehlo()
        assert c.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
        assert c.login("alice", PASSWORDS["alice"])[0] == 235
        c.sendmail("alice@example.org", ["bob@mx.postern.test"], b"Subject: tls\r\n\r\nhi\r\n")
    [m] = s.queue()
    assert b"with ESMTPSA id" in m["body"].split(b"\r\n\r\n")[0]


# --- the smtp client logging in to a smarthost ------------------------------
@pytest.fixture
def smarthost():
    """Starts a second postern whose smtpd relays only for authenticated
    clients and knows one user, relayuser, with the given password."""
    started = []

    def start(password, **params):
        root = _traversable_tempdir()
        inst = Instance(root)
        started.append(inst)
        path = root / "sasl_passwd"
        path.write_text(f"relayuser {crypt_hash(password)}\n")
        return auth_smtpd(inst, smtpd_sasl_password_maps=f"texthash:{path}", **params)

    yield start
    for inst in started:
        inst.cleanup()
        shutil.rmtree(inst.root, ignore_errors=True)


def client_agent(instance, host_port, secret, **params):
    assert QTOOL.exists(), f"no qtool in {BIN}"
    path = instance.root / "smtp_passwd"
    path.write_text(f"[127.0.0.1]:{host_port} relayuser:{secret}\n")
    instance.set(smtp_sasl_auth_enable="yes", smtp_sasl_password_maps=f"texthash:{path}",
                 smtp_connection_cache_on_demand="no", **params)
    instance.add_service("smtp unix - - n - - smtp")
    instance.start()
    wait_for(lambda: (instance.queue_dir / "private" / "smtp").exists(), what="private/smtp")
    return instance


def test_smarthost_requiring_auth_accepts_mail_from_the_client(instance, smarthost):
    smarthost = smarthost("s3cret:with colon")
    # Without TLS only the explicit choice lets the password go (Postfix's noanonymous).
    agent = client_agent(instance, smarthost.port, "s3cret:with colon", smtp_sasl_security_options="noanonymous")
    msg = Message(agent, b"Subject: via smarthost\r\n\r\nhello\r\n", ["far@other.test"])
    r = deliver(agent, msg, f"[127.0.0.1]:{smarthost.port}")
    assert r["far@other.test"]["status"] == "S", r
    [m] = smarthost.queue()
    assert m["rcpts"] == ["far@other.test"] and m["body"].endswith(b"hello\r\n")
    smarthost.instance.wait_log(r"client=localhost\[127\.0\.0\.1\], sasl_method=PLAIN, sasl_username=relayuser|"
                                r"client=unknown\[127\.0\.0\.1\], sasl_method=PLAIN, sasl_username=relayuser")
    assert "s3cret" not in agent.log() and "s3cret" not in smarthost.log()


def test_smarthost_refusing_the_login_defers_with_its_reply(instance, smarthost):
    smarthost = smarthost("the real one")
    agent = client_agent(instance, smarthost.port, "a wrong one", smtp_sasl_security_options="noanonymous")
    msg = Message(agent, b"Subject: x\r\n\r\nx\r\n", ["far@other.test"])
    r = deliver(agent, msg, f"[127.0.0.1]:{smarthost.port}")["far@other.test"]
    assert r["status"] == "D" and r["dsn"] == "4.7.8", r
    assert r["reason"] == ("SASL authentication failed; server 127.0.0.1[127.0.0.1] said: "
                           "535 5.7.8 Error: authentication failed"), r
    assert not smarthost.queue()
    assert "a wrong one" not in agent.log()


def test_client_without_a_login_for_the_smarthost_is_refused_relay(instance, smarthost):
    smarthost = smarthost("pw")
    agent = client_agent(instance, free_port(), "pw")  # the table names another server
    msg = Message(agent, b"Subject: x\r\n\r\nx\r\n", ["far@other.test"])
    r = deliver(agent, msg, f"[127.0.0.1]:{smarthost.port}")["far@other.test"]
    assert r["status"] == "D" and "Relay access denied" in r["reason"], r


def test_smarthost_without_tls_gets_no_password_by_default(instance, smarthost):
    smarthost = smarthost("pw")
    agent = client_agent(instance, smarthost.port, "pw")  # smtp_sasl_security_options = noplaintext, noanonymous
    msg = Message(agent, b"Subject: x\r\n\r\nx\r\n", ["far@other.test"])
    r = deliver(agent, msg, f"[127.0.0.1]:{smarthost.port}")["far@other.test"]
    assert (r["status"], r["dsn"]) == ("D", "4.7.0"), r
    assert r["reason"] == ("SASL authentication failed; cannot authenticate to server 127.0.0.1[127.0.0.1]: "
                           "no mechanism available"), r
    # The smarthost saw EHLO and QUIT, no AUTH.
    smarthost.instance.wait_log(r"disconnect from \S+\[127\.0\.0\.1\] ehlo=1 quit=1 commands=2")
    agent.wait_log(r"warning: SASL authentication failure: No worthy mechs found "
                   r"\(smtp_sasl_security_options excludes PLAIN and LOGIN without TLS\)")
    assert not smarthost.queue()


@pytest.mark.parametrize("tls_options", [None, "noanonymous"])
def test_login_over_starttls_follows_smtp_sasl_tls_security_options(instance, smarthost, pki, tls_options):
    smarthost = smarthost("over tls", **tls_params(pki, smtpd_tls_auth_only="yes"))
    # Postfix's default $smtp_sasl_security_options keeps noplaintext over TLS too.
    extra = {"smtp_sasl_tls_security_options": tls_options} if tls_options else {}
    agent = client_agent(instance, smarthost.port, "over tls", smtp_tls_security_level="may", **extra)
    msg = Message(agent, b"Subject: x\r\n\r\nover tls\r\n", ["far@other.test"])
    r = deliver(agent, msg, f"[127.0.0.1]:{smarthost.port}")["far@other.test"]
    if tls_options:
        assert r["status"] == "S", r
        smarthost.instance.wait_log(r"client=\S+\[127\.0\.0\.1\], sasl_method=PLAIN, sasl_username=relayuser")
        [m] = smarthost.queue()
        assert b"with ESMTPSA" in m["body"].split(b"\r\n\r\n")[0]
    else:
        assert (r["status"], r["dsn"]) == ("D", "4.7.0") and "no mechanism available" in r["reason"], r
        agent.wait_log(r"warning: SASL authentication failure: No worthy mechs found "
                       r"\(smtp_sasl_tls_security_options excludes PLAIN and LOGIN\)")
        smarthost.instance.wait_log(r"disconnect from \S+\[127\.0\.0\.1\] ehlo=2 starttls=1 quit=1 commands=4")
        assert not smarthost.queue()


def test_unknown_sasl_security_option_is_a_configuration_error(instance, smarthost):
    smarthost = smarthost("pw")
    agent = client_agent(instance, smarthost.port, "pw", smtp_sasl_tls_security_options="noanonymous, nosuchthing")
    msg = Message(agent, b"Subject: x\r\n\r\nx\r\n", ["far@other.test"])
    agent.log_mark()
    with pytest.raises((ConnectionError, OSError)):
        deliver(agent, msg, f"[127.0.0.1]:{smarthost.port}", timeout=10)
    agent.wait_log(r'smtp_sasl_tls_security_options: unknown SASL security option "nosuchthing"', timeout=10)
