# tests/system/test_policy_service.py — check_policy_service end to end: a
# Python policy server (attributes, actions, hang, garbage, close), real
# Debian postgrey (greylisting) and policyd-spf (SPF with dnsmasq as DNS).
import getpass
import os
import pwd
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import free_port, wait_for
from test_smtp_client import Dnsmasq
from test_smtpd import start_smtpd

ATTRIBUTES = [
    "request", "protocol_state", "protocol_name", "helo_name", "queue_id", "sender", "recipient",
    "recipient_count", "client_address", "client_name", "reverse_client_name", "instance", "sasl_method",
    "sasl_username", "sasl_sender", "size", "ccert_subject", "ccert_issuer", "ccert_fingerprint",
    "ccert_pubkey_fingerprint", "encryption_protocol", "encryption_cipher", "encryption_keysize", "etrn_domain",
    "stress", "server_address", "server_port", "compatibility_level", "mail_version", "policy_context",
]


class PolicyServer:
    """A policy server on 127.0.0.1: decide(attrs) returns the action, or
    "<hang>", "<garbage>", "<close>" for a misbehaving peer."""

    def __init__(self, decide):
        self.decide = decide
        self.requests = []
        self.connections = 0
        self.release = threading.Event()  # ends every hang
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                outer.connections += 1
                attrs = {}
                order = []
                for raw in self.rfile:
                    line = raw.decode().rstrip("\n")
                    if line:
                        k, _, v = line.partition("=")
                        attrs[k] = v
                        order.append(k)
                        continue
                    outer.requests.append((order, attrs))
                    action = outer.decide(attrs)
                    if action == "<hang>":
                        outer.release.wait(60)
                        return
                    if action == "<close>":
                        return
                    if action == "<garbage>":
                        self.wfile.write(b"hello there\n\n")
                    else:
                        self.wfile.write(f"action={action}\n\n".encode())
                    self.wfile.flush()
                    attrs, order = {}, []

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def policy_server():
    servers = []

    def make(decide):
        s = PolicyServer(decide)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


def rcpt(s, *rcpts, sender="a@sender.test", helo="client.test"):
    """One session: EHLO, MAIL, the RCPTs; returns (client, [replies])."""
    c = s.raw()
    c.ehlo(helo)
    assert c.cmd(f"MAIL FROM:<{sender}> SIZE=1234")[0] == 250
    return c, [c.cmd(f"RCPT TO:<{r}>") for r in rcpts]


def send_data(c, body="Subject: t\r\n\r\nhello\r\n"):
    assert c.cmd("DATA")[0] == 354
    c.send(body + ".\r\n")
    return c.reply()


def with_policy(instance, service, **params):
    return start_smtpd(instance, smtpd_recipient_restrictions=f"check_policy_service {service}", **params)


# --- the request -----------------------------------------------------------

def test_request_carries_postfix_attributes_in_order(instance, policy_server):
    ps = policy_server(lambda a: "DUNNO")
    s = with_policy(instance, f"inet:127.0.0.1:{ps.port}", smtpd_policy_service_policy_context="inbound")
    c, replies = rcpt(s, "alice@localhost", "bob@localhost")
    assert replies == [(250, "2.1.5 Ok"), (250, "2.1.5 Ok")]
    (order, a), (_, b) = ps.requests
    assert order == ATTRIBUTES
    assert a["request"] == "smtpd_access_policy" and a["protocol_state"] == "RCPT"
    assert (a["protocol_name"], a["helo_name"], a["sender"], a["recipient"]) == (
        "ESMTP", "client.test", "a@sender.test", "alice@localhost")
    assert (a["client_address"], a["client_name"], a["server_address"]) == ("127.0.0.1", "unknown", "127.0.0.1")
    assert a["server_port"] == str(s.port) and a["size"] == "1234" and a["policy_context"] == "inbound"
    assert a["mail_version"] and a["encryption_keysize"] == "0" and a["recipient_count"] == "0"
    assert b["recipient"] == "bob@localhost"
    assert a["instance"] and a["instance"] == b["instance"]  # one per MAIL transaction
    c.cmd("RSET")
    c.cmd("MAIL FROM:<a@sender.test>")
    c.cmd("RCPT TO:<alice@localhost>")
    assert ps.requests[2][1]["instance"] != a["instance"]


def test_one_connection_serves_many_sessions(instance, policy_server):
    ps = policy_server(lambda a: "DUNNO")
    s = with_policy(instance, f"inet:127.0.0.1:{ps.port}")
    for _ in range(3):
        c, replies = rcpt(s, "alice@localhost")
        assert replies == [(250, "2.1.5 Ok")]
        c.close()
    assert len(ps.requests) == 3 and ps.connections == 1


def test_request_limit_opens_a_new_connection(instance, policy_server):
    ps = policy_server(lambda a: "DUNNO")
    s = with_policy(instance, f"inet:127.0.0.1:{ps.port}", smtpd_policy_service_request_limit=2)
    c, replies = rcpt(s, "alice@localhost", "bob@localhost", "alice@localhost")
    assert all(r[0] == 250 for r in replies)
    assert ps.connections == 2


# --- actions -----------------------------------------------------------------

@pytest.mark.parametrize("action,reply", [
    ("REJECT go away", (554, "5.7.1 <alice@localhost>: Recipient address rejected: go away")),
    ("550 5.7.23 SPF says no", (550, "5.7.23 <alice@localhost>: Recipient address rejected: SPF says no")),
    ("DEFER_IF_PERMIT Greylisted", (450, "4.7.1 <alice@localhost>: Recipient address rejected: Greylisted")),
    ("OK", (250, "2.1.5 Ok")),
])
def test_action_is_an_access_action(instance, policy_server, action, reply):
    ps = policy_server(lambda a: action)
    s = with_policy(instance, f"inet:127.0.0.1:{ps.port}")
    mark = instance.log_mark()
    _, replies = rcpt(s, "alice@localhost")
    assert replies == [reply]
    if reply[0] != 250:
        instance.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: " + str(reply[0]), since=mark)


def test_prepend_goes_above_received_in_the_queued_message(instance, policy_server):
    ps = policy_server(lambda a: "PREPEND X-Policy: checked " + a["recipient"])
    s = with_policy(instance, f"inet:127.0.0.1:{ps.port}")
    c, _ = rcpt(s, "alice@localhost")
    assert send_data(c)[0] == 250
    [m] = s.queue()
    assert m["body"].startswith(b"X-Policy: checked alice@localhost\r\nReceived: from client.test"), m["body"][:200]


def test_hold_and_discard(instance, policy_server):
    ps = policy_server(lambda a: "HOLD" if a["recipient"].startswith("alice") else "DISCARD")
    s = with_policy(instance, f"inet:127.0.0.1:{ps.port}")
    mark = instance.log_mark()
    c, _ = rcpt(s, "alice@localhost")
    assert send_data(c)[0] == 250
    instance.wait_log(r"NOQUEUE: hold: RCPT from unknown\[127\.0\.0\.1\]: <alice@localhost>: Recipient address "
                      r"triggers HOLD action; from=<a@sender\.test> to=<alice@localhost>", since=mark)
    [m] = s.queue()
    assert [e["state"] for e in m["recipients"]] == ["hold"]
    c, _ = rcpt(s, "bob@localhost")
    code, text = send_data(c)
    assert code == 250 and text.startswith("2.0.0 Ok: queued as ")
    instance.wait_log(r"discard: END-OF-MESSAGE", since=mark)
    assert len(s.queue()) == 1  # the discarded one is not there


# --- bad peers ---------------------------------------------------------------

def test_hanging_server_times_out_to_default_action_without_blocking_others(instance, policy_server):
    ps = policy_server(lambda a: "<hang>" if a["recipient"] == "alice@localhost" else "DUNNO")
    s = start_smtpd(instance, smtpd_recipient_restrictions=f"check_recipient_access inline:{{ bob@localhost=OK }}, "
                                                           f"check_policy_service {{ inet:127.0.0.1:{ps.port}, "
                                                           f"timeout=10s, try_limit=1 }}")
    mark = instance.log_mark()
    hung = s.raw()
    hung.ehlo()
    hung.cmd("MAIL FROM:<a@sender.test>")
    hung.send("RCPT TO:<alice@localhost>\r\n")
    wait_for(lambda: ps.requests, timeout=10, what="policy request")
    started = time.monotonic()
    # Meanwhile another session is served (the table's OK comes before the policy step).
    _, replies = rcpt(s, "bob@localhost")
    assert replies == [(250, "2.1.5 Ok")] and time.monotonic() - started < 8
    hung.sock.settimeout(30)  # the policy timeout is 10 s too: a loaded machine may answer just after
    assert hung.reply() == (451, "4.3.5 <alice@localhost>: Recipient address rejected: Server configuration problem")
    instance.wait_log(r"warning: problem talking to server 127\.0\.0\.1:\d+: Connection timed out", since=mark)
    assert instance.log()[mark:].count("problem talking to server") == 1


def test_garbage_reply_gets_default_action(instance, policy_server):
    ps = policy_server(lambda a: "<garbage>")
    s = with_policy(instance, f"{{ inet:127.0.0.1:{ps.port}, default_action=DUNNO }}")
    mark = instance.log_mark()
    _, replies = rcpt(s, "alice@localhost")
    assert replies == [(250, "2.1.5 Ok")]
    instance.wait_log(r"warning: problem talking to server 127\.0\.0\.1:\d+: reply without action=", since=mark)


def test_closed_connection_is_retried(instance, policy_server):
    seen = []

    def decide(a):
        seen.append(a["recipient"])
        return "<close>" if len(seen) == 1 else "REJECT second try"

    ps = policy_server(decide)
    s = with_policy(instance, f"inet:127.0.0.1:{ps.port}", smtpd_policy_service_retry_delay="1s")
    _, replies = rcpt(s, "alice@localhost")
    assert replies == [(554, "5.7.1 <alice@localhost>: Recipient address rejected: second try")]
    assert ps.connections == 2


def test_server_that_always_closes_gets_default_action_after_try_limit(instance, policy_server):
    ps = policy_server(lambda a: "<close>")
    s = with_policy(instance, f"inet:127.0.0.1:{ps.port}", smtpd_policy_service_try_limit=3,
                    smtpd_policy_service_retry_delay="1s")
    mark = instance.log_mark()
    _, replies = rcpt(s, "alice@localhost")
    assert replies == [(451, "4.3.5 <alice@localhost>: Recipient address rejected: Server configuration problem")]
    assert ps.connections == 3
    instance.wait_log(r"warning: problem talking to server 127\.0\.0\.1:\d+: lost connection", since=mark)


def test_nobody_listening_gets_default_action(instance):
    port = free_port()
    s = with_policy(instance, f"inet:127.0.0.1:{port}", smtpd_policy_service_retry_delay="1s")
    mark = instance.log_mark()
    _, replies = rcpt(s, "alice@localhost")
    assert replies[0][0] == 451
    instance.wait_log(r"warning: problem talking to server 127\.0\.0\.1:\d+: Connection refused", since=mark)


def test_unix_socket_relative_to_queue_directory(instance, policy_server):
    path = instance.queue_dir / "private" / "pol"
    path.parent.mkdir(parents=True, exist_ok=True)
    requests = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            for raw in self.rfile:
                if raw.strip():
                    continue
                requests.append(1)
                self.wfile.write(b"action=REJECT via unix\n\n")
                self.wfile.flush()

    server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
    os.chmod(path, 0o666)  # smtpd runs as mail_owner when the test runs as root
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s = with_policy(instance, "unix:private/pol")
        _, replies = rcpt(s, "alice@localhost")
        assert replies == [(554, "5.7.1 <alice@localhost>: Recipient address rejected: via unix")], instance.log()
    finally:
        server.shutdown()
        server.server_close()


# --- real policy servers from Debian -------------------------------------------

@pytest.fixture
def postgrey():
    binary = shutil.which("postgrey") or "/usr/sbin/postgrey"
    if not os.access(binary, os.X_OK):
        pytest.skip("postgrey is not installed (scripts/install-deps)")
    # Not under pytest's tmp_path: its parent is private to us, and postgrey
    # run as root drops to its own user, which must write its database.
    dbdir = Path(tempfile.mkdtemp(prefix="postern-postgrey-"))
    os.chmod(dbdir, 0o755)
    user = getpass.getuser()
    if os.geteuid() == 0:
        user = "postgrey"
        os.chown(dbdir, pwd.getpwnam(user).pw_uid, -1)
    port = free_port()
    err = open(dbdir / "stderr", "w")
    proc = subprocess.Popen([binary, f"--inet=127.0.0.1:{port}", f"--dbdir={dbdir}", "--delay=2",
                             f"--user={user}", "--auto-whitelist-clients=0"], stdout=err, stderr=err)

    def listening():
        if proc.poll() is not None:
            pytest.fail("postgrey exited: " + (dbdir / "stderr").read_text())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    wait_for(listening, timeout=30, what="postgrey listening")
    yield port
    proc.terminate()
    proc.wait(10)
    err.close()
    shutil.rmtree(dbdir, ignore_errors=True)


def test_postgrey_greylists_first_attempt_and_accepts_retry_after_delay(instance, postgrey):
    s = with_policy(instance, f"inet:127.0.0.1:{postgrey}")
    c, replies = rcpt(s, "alice@localhost")
    code, text = replies[0]
    # postgrey writes DSN 4.2.0 for a Postfix that sends etrn_domain (2.3 and later).
    assert code == 450 and text.startswith("4.2.0 <alice@localhost>: Recipient address rejected: Greylisted"), text
    c.close()

    def retried():
        c, [(code, _)] = rcpt(s, "alice@localhost")
        if code == 250:
            return c
        c.close()
        return None

    c = wait_for(retried, timeout=30, interval=0.5, what="greylisting delay to pass")
    assert send_data(c)[0] == 250
    [m] = s.queue()
    assert m["rcpts"] == ["alice@localhost"]
    # postgrey PREPENDs its X-Greylist header once the delay has passed.
    assert m["body"].startswith(b"X-Greylist: delayed "), m["body"][:200]


# policyd-spf from Debian's python3-spf-engine (the program of
# postfix-policyd-spf-python), started per connection as Postfix's spawn(8)
# would, with its resolver pointed at dnsmasq's port (it only reads
# /etc/resolv.conf, which cannot name a port).
SPF_WRAPPER = """
import sys
import dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = ["127.0.0.1"]
r.port = int(sys.argv.pop(1))
dns.resolver.default_resolver = r
sys.argv[0] = "policyd-spf"
from spf_engine.policyd_spf import main
main()
"""


@pytest.fixture
def policyd_spf(tmp_path):
    try:
        import spf_engine.policyd_spf  # noqa: F401
    except ImportError:
        pytest.skip("policyd-spf is not installed (python3-spf-engine, scripts/install-deps)")
    # No quotes: in an argv (not a shell) dnsmasq would keep them in the record.
    d = Dnsmasq(["--txt-record=pass.test,v=spf1 ip4:127.0.0.1 -all",
                 "--txt-record=fail.test,v=spf1 ip4:192.0.2.1 -all"])
    conf = tmp_path / "policyd-spf.conf"
    conf.write_text("debugLevel = 1\nTestOnly = 1\nHELO_reject = False\nMail_From_reject = Fail\n"
                    "PermError_reject = False\nTempError_Defer = False\nskip_addresses = 192.0.2.250/32\n"
                    "Header_Type = SPF\n")
    (tmp_path / "spf_wrapper.py").write_text(SPF_WRAPPER)

    class Spawn(socketserver.BaseRequestHandler):
        def handle(self):
            fd = self.request.fileno()
            subprocess.run([sys.executable, str(tmp_path / "spf_wrapper.py"), str(d.port), str(conf)],
                           stdin=fd, stdout=fd, stderr=subprocess.DEVNULL, timeout=60)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Spawn)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    d.stop()


def test_policyd_spf_rejects_spf_fail(instance, policyd_spf):
    s = with_policy(instance, f"inet:127.0.0.1:{policyd_spf}")
    _, [(code, text)] = rcpt(s, "alice@localhost", sender="someone@fail.test")
    assert code == 550 and text.startswith("5.7.23 <alice@localhost>: Recipient address rejected: "
                                           "Message rejected due to: SPF fail"), text


def test_policyd_spf_pass_prepends_received_spf(instance, policyd_spf):
    s = with_policy(instance, f"inet:127.0.0.1:{policyd_spf}")
    c, replies = rcpt(s, "alice@localhost", sender="someone@pass.test")
    assert replies == [(250, "2.1.5 Ok")]
    assert send_data(c)[0] == 250
    [m] = s.queue()
    first = m["body"].split(b"\r\n", 1)[0]
    assert first.startswith(b"Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=127.0.0.1;"), m["body"][:300]
