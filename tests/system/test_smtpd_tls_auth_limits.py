"""Postfix's anvil limits on TLS handshakes and AUTH commands, end to end:
smtpd_client_new_tls_session_rate_limit with real STARTTLS (Python's ssl,
gnutls-cli) where a resumed session does not count, and
smtpd_client_auth_rate_limit with real AUTH (smtplib and raw PLAIN), both
lifted by smtpd_client_event_limit_exceptions."""
import smtplib
import subprocess

from conftest import wait_for

from test_auth import PASSWORDS, auth_smtpd, login
from test_smtpd import Raw
from test_tls import client_context, pki, read_some, start_tls_smtpd  # noqa: F401 (pki is a fixture)

TLS_REFUSAL = "421 4.7.0 mx.postern.test Error: too many new TLS sessions from 127.0.0.2"


def handshake(port, ctx, source="127.0.0.2", session=None):
    """EHLO, STARTTLS and a TLS handshake from source: the TLS socket."""
    c = Raw(port, source)
    c.ehlo()
    assert c.cmd("STARTTLS")[0] == 220
    return ctx.wrap_socket(c.sock, server_hostname="localhost", session=session)


def ehlo_over(s):
    """What the server says to an EHLO over TLS (its first bytes)."""
    s.sendall(b"EHLO client.test\r\n")
    return read_some(s, 10)


def test_new_tls_sessions_over_the_rate_get_421_and_resumed_ones_do_not_count(instance, pki):
    s = start_tls_smtpd(instance, pki, smtpd_client_new_tls_session_rate_limit="2",
                        smtpd_client_event_limit_exceptions="")
    ctx = client_context(pki)
    first = handshake(s.port, ctx)
    assert ehlo_over(first).startswith(b"250")  # the session ticket came along
    ticket = first.session
    first.close()
    second = handshake(s.port, ctx)
    assert ehlo_over(second).startswith(b"250")
    second.close()
    resumed = handshake(s.port, ctx, session=ticket)  # no new session: not counted
    assert resumed.session_reused
    assert ehlo_over(resumed).startswith(b"250")
    resumed.close()
    third = handshake(s.port, ctx)
    assert read_some(third, 10).decode().startswith(TLS_REFUSAL)
    third.close()
    instance.wait_log(r"warning: New TLS session rate limit exceeded: 3 from unknown\[127\.0\.0\.2\] for service")
    other = handshake(s.port, ctx, source="127.0.0.3")  # per client address
    assert ehlo_over(other).startswith(b"250")
    other.close()


def test_gnutls_cli_meets_the_tls_rate_limit_unless_the_client_is_an_exception(instance, pki):
    # gnutls-cli connects from 127.0.0.1, which mynetworks (the default exceptions) holds.
    s = start_tls_smtpd(instance, pki, smtpd_client_new_tls_session_rate_limit="1",
                        smtpd_client_event_limit_exceptions="")

    def gnutls_session():
        # stdbuf: gnutls-cli writes through stdio, block-buffered into a pipe; CRLF sent by us.
        r = subprocess.run(["stdbuf", "-oL", "gnutls-cli", "--starttls-proto=smtp", "--port", str(s.port),
                            "--x509cafile", str(pki["ca"]), "localhost"],
                           input=b"EHLO client.test\r\nQUIT\r\n", capture_output=True, timeout=60)
        return r.stdout.decode("utf-8", "replace")

    out = gnutls_session()
    assert "250-" in out and "221 " in out, out
    out = gnutls_session()
    assert TLS_REFUSAL.replace("127.0.0.2", "127.0.0.1") in out, out
    instance.set(smtpd_client_event_limit_exceptions="$mynetworks")
    instance.reload()
    for _ in range(2):  # an exception has no limit
        out = wait_for(lambda: (lambda o: o if "221 " in o else None)(gnutls_session()), timeout=30,
                       what="a TLS session after the reload")
        assert "250-" in out, out


def test_auth_commands_over_the_rate_get_450(instance):
    s = auth_smtpd(instance, smtpd_client_auth_rate_limit="2")  # 127.0.0.1 is outside mynetworks
    for _ in range(2):
        with smtplib.SMTP("127.0.0.1", s.port, local_hostname="client.test", timeout=30) as c:
            c.login("alice", PASSWORDS["alice"])
    c = Raw(s.port)
    c.ehlo()
    assert login(c, "alice", PASSWORDS["alice"]) == (450, "4.7.1 Error: too many AUTH commands from 127.0.0.1")
    c.close()
    instance.wait_log(r"warning: AUTH command rate limit exceeded: 3 from \S+\[127\.0\.0\.1\] for service")
    with smtplib.SMTP("127.0.0.1", s.port, local_hostname="client.test", timeout=30) as c:
        try:
            c.login("alice", PASSWORDS["alice"])  # smtplib tries PLAIN, then LOGIN: both 450
            raise AssertionError("AUTH over the rate was accepted")
        except smtplib.SMTPAuthenticationError as e:
            assert e.smtp_code == 450


def test_auth_rate_limit_spares_the_event_limit_exceptions(instance):
    s = auth_smtpd(instance, smtpd_client_auth_rate_limit="1", smtpd_client_event_limit_exceptions="127.0.0.1")
    for _ in range(3):
        with smtplib.SMTP("127.0.0.1", s.port, local_hostname="client.test", timeout=30) as c:
            c.login("alice", PASSWORDS["alice"])


def test_new_tls_sessions_count_across_hosts_sharing_redis(instance, other_instance, redis, pki):
    shared = dict(smtpd_client_new_tls_session_rate_limit="1", smtpd_client_event_limit_exceptions="",
                  policy_cache_database=f"redis:127.0.0.1:{redis.port}")
    a = start_tls_smtpd(instance, pki, **shared)
    b = start_tls_smtpd(other_instance, pki, **shared)
    ctx = client_context(pki)
    first = handshake(a.port, ctx)
    assert ehlo_over(first).startswith(b"250")  # the EHLO waited for Redis's count, then was answered
    first.close()
    second = handshake(b.port, ctx)  # the client's second new session, on the other host
    assert read_some(second, 10).decode().startswith(TLS_REFUSAL)
    second.close()
    other_instance.wait_log(r"warning: New TLS session rate limit exceeded: 2 from unknown\[127\.0\.0\.2\]")
