"""postern send (issue 22, Plan 9's upas/smtp): one message from standard
input straight to a destination through the smtp program's own client code,
no queue. Each flag against real peers on loopback: aiosmtpd (plain, with
STARTTLS, with AUTH), the scripted peer of test_smtp_client, a peer that
waits for the client to speak first, and dnsmasq for the MX forms."""
import os
import pty
import re
import socketserver
import ssl
import subprocess
import threading

import pytest
from aiosmtpd.smtp import AuthResult

from conftest import BIN, QTOOL, free_port, wait_for
from test_smtp_client import Dnsmasq, Message, Scripted, Sink, agent, deliver  # noqa: F401 (fixture)
from test_tls import pki  # noqa: F401 (fixture)

BODY = (b"Subject: send test\r\nFrom: a@example.org\r\n\r\nfirst line\r\n.leading dot\r\n..two dots\r\n"
        b"last line\r\n")
EIGHTBIT_LONG = (
    "From: a@example.org\r\nSubject: 8bit\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    "Grüße aus Köln = schön \r\n.dot line\r\n" + "ä" * 700 + "\r\n" + "x" * 2500 + "\r\n"
).encode()
EIGHTBIT = 1  # queue::kFlag8BitMime in the delivery protocol


def send(instance, *args, body=BODY, timeout=60):
    """`postern -c DIR send ARGS` with body on standard input."""
    return subprocess.run([str(BIN / "postern"), "-c", str(instance.config_dir), "send", *map(str, args)],
                          input=body, capture_output=True, timeout=timeout)


def lines(r):
    return r.stdout.decode().splitlines()


@pytest.fixture
def sink():
    s = Sink("127.0.0.2")
    yield s
    s.stop()


@pytest.fixture
def mxdns(instance):
    """example.test: MX mx1 (127.0.0.2) preferred over mx2 (127.0.0.3);
    host.test: an address only; anything else under .test: NXDOMAIN."""
    d = Dnsmasq(["--mx-host=example.test,mx1.example.test,10", "--mx-host=example.test,mx2.example.test,20",
                 "--host-record=mx1.example.test,127.0.0.2", "--host-record=mx2.example.test,127.0.0.3",
                 "--host-record=host.test,127.0.0.3"])
    instance.set(dns_servers=f"127.0.0.1:{d.port}")
    yield d
    d.stop()


# --- delivery, exit status, one line per recipient ---------------------------
def test_delivers_from_standard_input_with_one_line_per_recipient(instance, sink):
    r = send(instance, f"[127.0.0.2]:{sink.port}", "me@a.test", "u@x.test", "v@x.test")
    assert r.returncode == 0, r.stderr
    relay = rf"127\.0\.0\.2\[127\.0\.0\.2\]:{sink.port}"
    assert re.fullmatch(rf"to=<u@x\.test>, relay={relay}, dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as SINK1\)",
                        lines(r)[0]), lines(r)
    assert lines(r)[1].startswith("to=<v@x.test>, ") and len(lines(r)) == 2
    [m] = sink.messages
    assert m["content"] == BODY and m["sender"] == "me@a.test" and m["rcpts"] == ["u@x.test", "v@x.test"]
    assert not list(instance.queue_dir.glob("**/*")), "send must not touch the queue"


@pytest.mark.parametrize("rules, code, words", [
    ({"bad@": "550 5.1.1 no such user"}, 69, ["sent", "bounced"]),
    ({"bad@": "451 4.3.0 try later"}, 75, ["sent", "deferred"]),
    ({"bad@": "451 4.3.0 try later", "good@": "550 5.1.1 no"}, 75, ["bounced", "deferred"]),
])
def test_exit_status_tells_permanent_from_temporary_failure(instance, rules, code, words):
    sink = Sink("127.0.0.2", rules=rules)
    try:
        r = send(instance, f"[127.0.0.2]:{sink.port}", "me@a.test", "good@x.test", "bad@x.test")
        assert r.returncode == code, (r.stdout, r.stderr)
        assert [re.search(r"status=(\w+)", l).group(1) for l in lines(r)] == words
        assert "(host 127.0.0.2[127.0.0.2] said: " in lines(r)[1]
    finally:
        sink.stop()


def test_unreachable_destination_is_a_temporary_failure(instance):
    r = send(instance, f"[127.0.0.2]:{free_port('127.0.0.2')}", "me@a.test", "u@x.test")
    assert r.returncode == 75
    assert re.search(r"status=deferred \(connect to 127\.0\.0\.2\[127\.0\.0\.2\]:\d+: Connection refused\)",
                     lines(r)[0]), lines(r)


def test_usage_errors_exit_1_with_the_usage_line(instance):
    for args in (["[127.0.0.1]:2525", "me@a.test"], ["-x", "h", "s", "r"], ["udp!h!25", "s", "r"]):
        r = send(instance, *args)
        assert r.returncode == 1 and b"postern send: " in r.stderr, (args, r.stderr)


# --- destaddr forms -----------------------------------------------------------
@pytest.mark.parametrize("form", ["net!127.0.0.3!{port}", "tcp!127.0.0.3!{port}", "[127.0.0.3]:{port}",
                                  "example.test", "host.test", "tcp!host.test!{port}"])
def test_destaddr_forms(instance, mxdns, form):
    # example.test: mx1 (127.0.0.2) has no server, so mx2 gets it; host.test has no MX.
    port = free_port("127.0.0.3")
    sink = Sink("127.0.0.3", port)
    try:
        instance.set(smtp_tcp_port=port)
        r = send(instance, "-d", form.format(port=port), "me@a.test", "u@example.test")
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert len(sink.messages) == 1
        if form == "example.test":
            assert b"connect to mx1.example.test[127.0.0.2]" in r.stderr
            assert "relay=mx2.example.test[127.0.0.3]" in lines(r)[0]
    finally:
        sink.stop()


# --- the flags ----------------------------------------------------------------
def test_p_pings_with_mail_rcpt_quit_and_no_data(instance):
    peer = Scripted("127.0.0.2", rules={"bad@": "550 5.1.1 <bad@x.test>: Recipient address rejected"})
    try:
        r = send(instance, "-p", f"[127.0.0.2]:{peer.port}", "me@a.test", "good@x.test", "bad@x.test")
        assert r.returncode == 69, r.stderr
        assert "status=deliverable (host 127.0.0.2[127.0.0.2] said: 250 2.1.5 Ok (in reply to RCPT TO command))" \
            in lines(r)[0]
        assert "status=undeliverable (host 127.0.0.2[127.0.0.2] said: 550 5.1.1 <bad@x.test>: Recipient address " \
            "rejected (in reply to RCPT TO command))" in lines(r)[1]
        wait_for(lambda: "QUIT" in peer.lines, what="QUIT")
        assert [l.split()[0] for l in peer.lines] == ["EHLO", "MAIL", "RCPT", "RCPT", "QUIT"]
        assert not peer.bodies
    finally:
        peer.stop()


def test_d_writes_the_dialogue_on_standard_error(instance, sink):
    r = send(instance, "-d", f"[127.0.0.2]:{sink.port}", "me@a.test", "u@x.test")
    assert r.returncode == 0
    err = r.stderr.decode()
    relay = f"127.0.0.2[127.0.0.2]:{sink.port}"
    for want in (f"< {relay}: 220 ", f"> {relay}: EHLO mx.postern.test", f"> {relay}: MAIL FROM:<me@a.test>",
                 f"> {relay}: RCPT TO:<u@x.test>", f"> {relay}: DATA", f"< {relay}: 354 ", f"< {relay}: 250 2.0.0 Ok"):
        assert want in err, (want, err)
    assert "first line" not in err  # the content is never traced
    quiet = send(instance, f"[127.0.0.2]:{sink.port}", "me@a.test", "u@x.test")
    assert quiet.stderr == b""


def test_h_names_the_local_host_in_ehlo(instance):
    peer = Scripted("127.0.0.2")
    try:
        assert send(instance, "-h", "client.example", f"[127.0.0.2]:{peer.port}", "me@a.test", "u@x.test").returncode == 0
        assert peer.lines[0] == "EHLO client.example"
    finally:
        peer.stop()


def test_domain_qualifies_the_envelope_and_the_headers(instance, sink):
    body = b"From: me\r\nTo: Al <al>, c@d.test\r\nCc: bob@host\r\nSubject: to: me\r\n\r\nme\r\n"
    r = send(instance, ".a.test", f"[127.0.0.2]:{sink.port}", "me", "al", "bob@host", body=body)
    assert r.returncode == 0, r.stderr
    [m] = sink.messages
    assert m["sender"] == "me@a.test" and m["rcpts"] == ["al@a.test", "bob@host.a.test"]
    assert m["content"] == (b"From: me@a.test\r\nTo: Al <al@a.test>, c@d.test\r\nCc: bob@host.a.test\r\n"
                            b"Subject: to: me\r\n\r\nme\r\n")


class LateGreeter(socketserver.StreamRequestHandler):
    """A server that says nothing until the client has spoken, then greets
    and answers (the case Plan 9's -A is for)."""
    bodies = []

    def handle(self):
        def say(*ls):
            self.wfile.write(b"".join(l.encode() + b"\r\n" for l in ls))
        first = self.rfile.readline()
        if not first.upper().startswith(b"EHLO"):
            return
        say("220 late ESMTP", "250-late", "250 PIPELINING")
        body = b""
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb == b"DATA":
                say("354 go")
                while (l := self.rfile.readline()) not in (b".\r\n", b""):
                    body += l
                LateGreeter.bodies.append(body)
                say("250 2.0.0 Ok")
            elif verb == b"QUIT":
                say("221 bye")
                return
            elif verb in (b"MAIL", b"RCPT"):
                say("250 Ok")


def test_A_sends_ehlo_without_waiting_for_the_greeting(instance):
    srv = socketserver.ThreadingTCPServer(("127.0.0.2", 0), LateGreeter)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        port = srv.server_address[1]
        instance.set(smtp_helo_timeout="3s")
        waited = send(instance, f"[127.0.0.2]:{port}", "me@a.test", "u@x.test")
        assert waited.returncode == 75
        assert "timed out while receiving the initial server greeting" in lines(waited)[0]
        r = send(instance, "-A", f"[127.0.0.2]:{port}", "me@a.test", "u@x.test")
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert LateGreeter.bodies == [BODY.replace(b"\r\n.", b"\r\n..")]
    finally:
        srv.shutdown()
        srv.server_close()


def test_b_skips_a_busted_mx_host(instance, mxdns):
    port = free_port("127.0.0.2")
    first, second = Sink("127.0.0.2", port), None
    try:
        second = Sink("127.0.0.3", port)
        instance.set(smtp_tcp_port=port)
        assert send(instance, "example.test", "me@a.test", "u@example.test").returncode == 0
        assert len(first.messages) == 1 and not second.messages
        r = send(instance, "-b", "MX1.example.test", "example.test", "me@a.test", "u@example.test")
        assert r.returncode == 0, r.stdout
        assert "relay=mx2.example.test[127.0.0.3]" in lines(r)[0]
        assert len(first.messages) == 1 and len(second.messages) == 1
        r = send(instance, "-b", "mx1.example.test", "-b", "mx2.example.test", "example.test", "me@a.test",
                 "u@example.test")
        assert r.returncode == 75
        assert "dsn=4.4.4, status=deferred (all MX hosts for example.test are in smtp_mx_ignore)" in lines(r)[0]
    finally:
        first.stop()
        if second:
            second.stop()


def test_smtp_mx_ignore_keeps_the_daemon_off_a_busted_mx(agent, mxdns):
    port = free_port("127.0.0.2")
    first, second = Sink("127.0.0.2", port), Sink("127.0.0.3", port)
    try:
        agent.set(smtp_tcp_port=port, smtp_mx_ignore="inline:{mx1.example.test=busted}")
        msg = Message(agent, BODY, ["u@example.test"])
        r = deliver(agent, msg, "example.test")["u@example.test"]
        assert r["status"] == "S" and r["relay"] == f"mx2.example.test[127.0.0.3]:{port}", r
        assert not first.messages and len(second.messages) == 1
        agent.wait_log(r"MX host mx1\.example\.test for example\.test is in smtp_mx_ignore: not tried")
    finally:
        first.stop()
        second.stop()


def test_g_uses_the_gateway_for_a_destination_that_cannot_be_found(instance, mxdns, sink):
    r = send(instance, "nosuch.test", "me@a.test", "u@nosuch.test")
    assert r.returncode == 69 and "dsn=5.4.4, status=bounced (Host or domain name not found." in lines(r)[0]
    r = send(instance, "-g", f"tcp!127.0.0.2!{sink.port}", "nosuch.test", "me@a.test", "u@nosuch.test")
    assert r.returncode == 0, lines(r)
    assert f"relay=127.0.0.2[127.0.0.2]:{sink.port}" in lines(r)[0] and len(sink.messages) == 1


# --- TLS: -o, -s -----------------------------------------------------------------
def tls_sink(pki, **kw):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(pki["cert"]), str(pki["key"]))
    sink = Sink("127.0.0.2", tls_context=ctx, **kw)
    sink.tls = []
    orig = sink.handle_DATA

    async def handle_DATA(server, session, envelope):
        sink.tls.append(session.ssl is not None)
        return await orig(server, session, envelope)
    sink.handle_DATA = handle_DATA
    return sink


@pytest.mark.parametrize("flag", ["-o", "-s"])
def test_o_and_s_use_starttls_with_an_unverified_server(instance, pki, flag):
    sink = tls_sink(pki)
    try:
        plain = send(instance, f"[127.0.0.2]:{sink.port}", "me@a.test", "u@x.test")
        assert plain.returncode == 0 and sink.tls == [False]  # smtp_tls_security_level = none
        r = send(instance, flag, "-d", f"[127.0.0.2]:{sink.port}", "me@a.test", "u@x.test")
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert sink.tls == [False, True]
        assert b"STARTTLS" in r.stderr
    finally:
        sink.stop()


def test_s_defers_when_the_server_offers_no_starttls_and_o_goes_on(instance, sink):
    r = send(instance, "-s", f"[127.0.0.2]:{sink.port}", "me@a.test", "u@x.test")
    assert r.returncode == 75
    assert "dsn=4.7.4, status=deferred (TLS is required, but was not offered by host 127.0.0.2[127.0.0.2])" \
        in lines(r)[0]
    assert send(instance, "-o", f"[127.0.0.2]:{sink.port}", "me@a.test", "u@x.test").returncode == 0
    assert len(sink.messages) == 1


# --- AUTH: -a, -i, -u --------------------------------------------------------------
class Logins:
    def __init__(self):
        self.seen = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        user, password = auth_data.login.decode(), auth_data.password.decode()
        self.seen.append((mechanism, user, password))
        return AuthResult(success=(user, password) in (("bob", "s3cret"), ("carol", "typed pw")))


def auth_sink(**kw):
    logins = Logins()
    sink = Sink("127.0.0.2", authenticator=logins, auth_require_tls=False, **kw)
    sink.logins = logins
    return sink


def test_a_i_logs_in_with_the_password_table_without_tls(instance):
    sink = auth_sink()
    try:
        instance.set(smtp_sasl_password_maps=f"inline:{{[127.0.0.2]:{sink.port}=bob:s3cret}}")
        r = send(instance, "-a", f"[127.0.0.2]:{sink.port}", "me@a.test", "u@x.test")
        assert r.returncode == 75 and "TLS is required, but was not offered" in lines(r)[0]  # -a implies -s
        r = send(instance, "-ai", f"[127.0.0.2]:{sink.port}", "me@a.test", "u@x.test")
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert sink.logins.seen == [("PLAIN", "bob", "s3cret")] and len(sink.messages) == 1
        # Without -a, smtp_sasl_auth_enable = no: no AUTH at all.
        assert send(instance, f"[127.0.0.2]:{sink.port}", "me@a.test", "u@x.test").returncode == 0
        assert len(sink.logins.seen) == 1 and len(sink.messages) == 2
    finally:
        sink.stop()


def test_a_over_starttls(instance, pki):
    sink = tls_sink(pki, authenticator=Logins(), auth_require_tls=True)
    try:
        instance.set(smtp_sasl_password_maps=f"inline:{{[127.0.0.2]:{sink.port}=bob:s3cret}}")
        r = send(instance, "-a", f"[127.0.0.2]:{sink.port}", "me@a.test", "u@x.test")
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert sink.tls == [True]
    finally:
        sink.stop()


def test_u_asks_for_the_password_at_the_terminal(instance):
    sink = auth_sink()
    try:
        instance.set(smtp_sasl_password_maps=f"inline:{{[127.0.0.2]:{sink.port}=bob:s3cret}}")
        pid, fd = pty.fork()
        if pid == 0:
            out = os.open(str(instance.root / "send.out"), os.O_WRONLY | os.O_CREAT)
            os.dup2(out, 1)
            nul = os.open("/dev/null", os.O_RDONLY)
            os.dup2(nul, 0)
            os.execv(str(BIN / "postern"), ["postern", "-c", str(instance.config_dir), "send", "-ai", "-u", "carol",
                                            f"[127.0.0.2]:{sink.port}", "me@a.test", "u@x.test"])
        seen = b""
        while b"Password for carol: " not in seen:
            seen += os.read(fd, 100)
        os.write(fd, b"typed pw\n")
        while True:
            try:
                if not os.read(fd, 100):
                    break
            except OSError:
                break
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, (instance.root / "send.out").read_text()
        assert sink.logins.seen == [("PLAIN", "carol", "typed pw")]
        assert b"typed pw" not in seen  # no echo
    finally:
        sink.stop()


# --- -f: the wire bytes, as the daemon's smtp sends them ------------------------------
def test_f_prints_without_connecting(instance):
    r = send(instance, "-f", f"[127.0.0.2]:{free_port('127.0.0.2')}", "me@a.test", "u@x.test")
    assert r.returncode == 0, r.stderr
    assert r.stdout == BODY.replace(b"\r\n.", b"\r\n..") + b".\r\n"


@pytest.mark.parametrize("body", [BODY, EIGHTBIT_LONG], ids=["7bit", "8bit-long-lines"])
def test_f_output_is_byte_identical_to_what_the_smtp_daemon_sends(agent, body):
    # The smtp worker delivers the queued message to a server without
    # 8BITMIME (converted, lines broken at smtp_line_length_limit, dot-stuffed);
    # the scripted peer keeps the DATA bytes as they came.
    peer = Scripted("127.0.0.3", extensions=("PIPELINING",))
    try:
        msg = Message(agent, body, ["u@x.test"], args=["--8bit"] if body is EIGHTBIT_LONG else [])
        flags = EIGHTBIT if body is EIGHTBIT_LONG else 0
        assert deliver(agent, msg, f"[127.0.0.3]:{peer.port}", flags=flags)["u@x.test"]["status"] == "S"
        r = send(agent, "-f", f"[127.0.0.3]:{peer.port}", "me@a.test", "u@x.test", body=body)
        assert r.returncode == 0, r.stderr
        assert r.stdout == peer.bodies[0] + b".\r\n"
        if body is EIGHTBIT_LONG:
            assert max(r.stdout) < 128 and b"quoted-printable" in r.stdout
    finally:
        peer.stop()


def test_f_matches_what_an_aiosmtpd_sink_receives(agent):
    sink = Sink("127.0.0.2")

    async def no_8bitmime(server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [r for r in responses if "8BITMIME" not in r]
    sink.handle_EHLO = no_8bitmime
    try:
        msg = Message(agent, EIGHTBIT_LONG, ["u@x.test"], args=["--8bit"])
        res = deliver(agent, msg, f"[127.0.0.2]:{sink.port}", flags=EIGHTBIT)["u@x.test"]
        assert res["status"] == "S", res
        r = send(agent, "-f", "[127.0.0.2]:1", "me@a.test", "u@x.test", body=EIGHTBIT_LONG)
        unstuffed = r.stdout[:-3].replace(b"\r\n..", b"\r\n.")
        assert unstuffed == sink.messages[0]["content"]
    finally:
        sink.stop()
