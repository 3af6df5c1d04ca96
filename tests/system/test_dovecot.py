# tests/system/test_dovecot.py — postern with a real Dovecot (Debian's
# packages, a private instance per test): SASL through Dovecot's auth server
# (smtpd_sasl_type = dovecot), virtual mailbox domains delivered into
# Dovecot's Maildirs over LMTP, and what happens while Dovecot is down.
import base64
import contextlib

import pytest

from conftest import wait_for
from dovecot_helpers import Dovecot
from test_smtpd import start_smtpd

USERS = {"alice@example.org": "alice's secret", "bob@example.org": "b0b"}
FAST = dict(minimal_backoff_time="1s", maximal_backoff_time="2s", queue_run_delay="1s",
            transport_retry_time="1s", service_throttle_time="1s")


def b64(s):
    return base64.b64encode(s.encode()).decode()


def login(c, user, password, mech="PLAIN"):
    if mech == "PLAIN":
        return c.cmd("AUTH PLAIN " + b64(f"\0{user}\0{password}"))
    assert c.cmd("AUTH LOGIN") == (334, "VXNlcm5hbWU6")  # Dovecot's own prompts
    assert c.cmd(b64(user)) == (334, "UGFzc3dvcmQ6")
    return c.cmd(b64(password))


def start(instance, **params):
    """Dovecot, then postern with smtpd (SASL through Dovecot, AUTH before
    TLS allowed), qmgr, lmtp and bounce; mynetworks is not 127.0.0.1."""
    dovecot = Dovecot(instance.root, instance.queue_dir, USERS).start()
    p = dict(smtpd_sasl_auth_enable="yes", smtpd_sasl_type="dovecot", smtpd_sasl_path="private/auth",
             smtpd_tls_auth_only="no", smtpd_sasl_failure_delay="0s", mynetworks="127.0.0.2/32",
             virtual_mailbox_domains="example.org", virtual_transport="lmtp:unix:private/dovecot-lmtp",
             virtual_mailbox_maps="inline:{ alice@example.org=1, bob@example.org=1 }", **FAST)
    p.update(params)
    instance.add_service("qmgr unix n - n 300 1 qmgr")
    instance.add_service("lmtp unix - - n - - lmtp")
    instance.add_service("bounce unix - - n - 0 bounce")
    server = start_smtpd(instance, **p)
    return dovecot, server


@contextlib.contextmanager
def stopped_after(instance, dovecot):
    """Ends the instance and Dovecot (its whole process group) when done."""
    try:
        yield dovecot
    finally:
        instance.cleanup()
        dovecot.stop()


@pytest.fixture
def dovecot_and_smtpd(instance):
    dovecot, server = start(instance)
    with stopped_after(instance, dovecot):
        yield dovecot, server


# --- SASL --------------------------------------------------------------------
def test_ehlo_offers_the_mechanisms_dovecot_reports(dovecot_and_smtpd):
    _, server = dovecot_and_smtpd
    assert "AUTH PLAIN LOGIN" in server.raw().ehlo()


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_login_succeeds_and_fails_as_dovecot_says(dovecot_and_smtpd, mech):
    dovecot, server = dovecot_and_smtpd
    c = server.raw()
    c.ehlo()
    assert login(c, "alice@example.org", "wrong", mech) == (535, "5.7.8 Error: authentication failed")
    server.instance.wait_log(rf"warning: unknown\[127\.0\.0\.1\]: SASL {mech} authentication failed: "
                             r"authentication failure, sasl_username=alice@example\.org")
    assert login(c, "alice@example.org", USERS["alice@example.org"], mech) == (
        235, "2.7.0 Authentication successful")
    wait_for(lambda: "Password mismatch" in dovecot.log_path.read_text(), timeout=10, what="dovecot's log line")


def test_noplaintext_keeps_plain_and_login_out_of_ehlo(instance):
    dovecot, server = start(instance, smtpd_sasl_security_options="noanonymous, noplaintext")
    with stopped_after(instance, dovecot):
        c = server.raw()
        assert not any(l.startswith("AUTH") for l in c.ehlo())
        assert c.cmd("AUTH PLAIN " + b64("\0alice@example.org\0x"))[0] == 503


def test_relay_after_login_logs_sasl_username(dovecot_and_smtpd):
    _, server = dovecot_and_smtpd
    c = server.raw()
    c.ehlo()
    assert c.cmd("MAIL FROM:<alice@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<far@remote.test>")[0] == 454  # defer_unauth_destination
    c.cmd("RSET")
    assert login(c, "bob@example.org", USERS["bob@example.org"])[0] == 235
    assert c.cmd("MAIL FROM:<bob@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<far@remote.test>") == (250, "2.1.5 Ok")  # permit_sasl_authenticated
    assert c.cmd("DATA")[0] == 354
    assert c.cmd("Subject: relayed\r\n\r\nby login\r\n.")[0] == 250
    server.instance.wait_log(r"\w+: client=unknown\[127\.0\.0\.1\], sasl_method=PLAIN, "
                             r"sasl_username=bob@example\.org")


def test_auth_socket_on_inet(instance):
    with stopped_after(instance, Dovecot(instance.root, instance.queue_dir, USERS).start()) as dovecot:
        server = start_smtpd(instance, smtpd_sasl_auth_enable="yes", smtpd_sasl_type="dovecot",
                             smtpd_sasl_path=f"inet:127.0.0.1:{dovecot.auth_port}", smtpd_tls_auth_only="no")
        c = server.raw()
        assert "AUTH PLAIN LOGIN" in c.ehlo()
        assert login(c, "alice@example.org", USERS["alice@example.org"], "LOGIN")[0] == 235


def test_dovecot_down_answers_454_then_reconnects(dovecot_and_smtpd):
    dovecot, server = dovecot_and_smtpd
    c = server.raw()
    assert "AUTH PLAIN LOGIN" in c.ehlo()  # the handshake is done
    mark = server.instance.log_mark()
    dovecot.stop()
    server.instance.wait_log(r"warning: SASL: lost connection", since=mark, timeout=20)
    assert login(c, "alice@example.org", USERS["alice@example.org"]) == (
        454, "4.7.0 Temporary authentication failure")
    dovecot.start()
    # A later AUTH connects again (a failed try is repeated after a second).
    def fresh_login():
        c = server.raw()
        c.ehlo()
        return login(c, "alice@example.org", USERS["alice@example.org"])[0] == 235

    wait_for(fresh_login, timeout=20, interval=0.5, what="AUTH through the restarted Dovecot")


# --- virtual mailbox domains into Dovecot over LMTP ----------------------------
def send(server, rcpt, source="127.0.0.5"):
    c = server.raw(source=source)
    c.ehlo()
    assert c.cmd("MAIL FROM:<sender@remote.test>")[0] == 250
    r = c.cmd(f"RCPT TO:<{rcpt}>")
    if r[0] != 250:
        return r
    assert c.cmd("DATA")[0] == 354
    r = c.cmd(f"Subject: for {rcpt}\r\n\r\nhello {rcpt}\r\n.")
    c.cmd("QUIT")
    return r


def test_virtual_mailbox_mail_lands_in_the_users_maildir(dovecot_and_smtpd):
    dovecot, server = dovecot_and_smtpd
    assert send(server, "alice@example.org")[0] == 250
    server.instance.wait_log(r"\w+: to=<alice@example\.org>, relay=\S*dovecot-lmtp.*, dsn=2\.0\.0, status=sent",
                             timeout=60)
    [path] = wait_for(lambda: dovecot.maildir_messages("alice@example.org"), timeout=10, what="the Maildir file")
    assert b"hello alice@example.org" in path.read_bytes()


def test_unknown_virtual_user_is_refused_at_rcpt(dovecot_and_smtpd):
    _, server = dovecot_and_smtpd
    assert send(server, "carol@example.org") == (
        550, "5.1.1 <carol@example.org>: Recipient address rejected: User unknown in virtual mailbox table")


def test_lmtp_over_inet_with_per_recipient_replies(instance):
    with stopped_after(instance, Dovecot(instance.root, instance.queue_dir, USERS).start()) as dovecot:
        instance.add_service("qmgr unix n - n 300 1 qmgr")
        instance.add_service("lmtp unix - - n - - lmtp")
        instance.add_service("bounce unix - - n - 0 bounce")
        # ghost@ passes postern's table but not Dovecot's: LMTP refuses that one recipient.
        server = start_smtpd(instance, virtual_mailbox_domains="example.org",
                             virtual_transport=f"lmtp:inet:127.0.0.1:{dovecot.lmtp_port}",
                             virtual_mailbox_maps="inline:{ @example.org=1 }", **FAST)
        c = server.raw(source="127.0.0.5")
        c.ehlo()
        assert c.cmd("MAIL FROM:<>")[0] == 250  # no bounce for ghost@ to chase
        for rcpt in ("alice@example.org", "bob@example.org", "ghost@example.org"):
            assert c.cmd(f"RCPT TO:<{rcpt}>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        assert c.cmd("Subject: three\r\n\r\nto three\r\n.")[0] == 250
        for who in ("alice", "bob"):
            instance.wait_log(rf"to=<{who}@example\.org>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:{dovecot.lmtp_port}, "
                              r".*status=sent", timeout=60)
            assert wait_for(lambda: dovecot.maildir_messages(f"{who}@example.org"), timeout=10)
        instance.wait_log(r"to=<ghost@example\.org>, .*dsn=5\.1\.1, status=bounced", timeout=60)


def test_dovecot_down_defers_lmtp_delivery(dovecot_and_smtpd):
    dovecot, server = dovecot_and_smtpd
    dovecot.stop()
    assert send(server, "bob@example.org")[0] == 250
    server.instance.wait_log(r"to=<bob@example\.org>, relay=none, .*status=deferred", timeout=60)
    dovecot.start()  # and when it is back, the retry delivers
    server.instance.wait_log(r"to=<bob@example\.org>, relay=\S*dovecot-lmtp.*status=sent", timeout=90)
    assert "status=bounced" not in server.instance.log()
    assert dovecot.maildir_messages("bob@example.org")


def test_mailbox_transport_hands_local_users_to_dovecot(instance):
    users = {**USERS, "nobody@mx.postern.test": "x"}
    with stopped_after(instance, Dovecot(instance.root, instance.queue_dir, users).start()) as dovecot:
        for line in ("qmgr unix n - n 300 1 qmgr", "lmtp unix - - n - - lmtp", "local unix - n n - - local",
                     "bounce unix - - n - 0 bounce"):
            instance.add_service(line)
        server = start_smtpd(instance, mailbox_transport="lmtp:unix:private/dovecot-lmtp", local_transport="local",
                             local_recipient_maps="", alias_maps="", **FAST)
        assert send(server, "nobody@mx.postern.test")[0] == 250
        instance.wait_log(r"to=<nobody@mx\.postern\.test>, relay=\S*dovecot-lmtp.*status=sent", timeout=60)
        assert wait_for(lambda: dovecot.maildir_messages("nobody@mx.postern.test"), timeout=10)
