# tests/system/test_client_checks.py — client identity and DNS-based checks
# end to end: dnsmasq on a loopback port serves PTR/A/MX/TXT records and DNS
# list zones; clients connect from 127.0.0.2 (forward-confirmed name),
# 127.0.0.3 (PTR whose name points elsewhere) and 127.0.0.4 (no PTR).
import re
import socketserver
import threading

import pytest

from test_smtp_client import Dnsmasq
from test_smtpd import start_smtpd

RECORDS = [
    "--local=/in-addr.arpa/",
    # 127.0.0.2: good.client.test both ways.
    "--host-record=good.client.test,127.0.0.2",
    # 127.0.0.3: its PTR name resolves to another address.
    "--ptr-record=3.0.0.127.in-addr.arpa,liar.client.test",
    "--address=/liar.client.test/127.0.0.99",
    # A DNS list: 127.0.0.2 is listed (with a reason), 127.0.0.3 is not.
    "--address=/2.0.0.127.bl.test/127.0.0.2",
    "--txt-record=2.0.0.127.bl.test,listed for testing",
    # A domain list naming spammer.test.
    "--address=/spammer.test.dbl.test/127.0.0.2",
    # Mail domains: one with an MX, one with a null MX; others do not exist.
    "--mx-host=domain.test,mail.domain.test,10",
    "--address=/mail.domain.test/127.0.0.5",
    "--dns-rr=nullmx.test,15,000000",
    # For the readiness probe of Dnsmasq.
    "--address=/mx1.example.test/127.0.0.9",
]


@pytest.fixture
def dns():
    d = Dnsmasq(RECORDS)
    yield d
    d.stop()


def smtpd_with(instance, dns, **params):
    params.setdefault("smtpd_peername_lookup", "yes")  # conftest turns it off for other tests
    return start_smtpd(instance, dns_servers=f"127.0.0.1:{dns.port}", **params)


def message(c, sender="someone@domain.test", rcpt="alice@localhost"):
    """MAIL and RCPT: the RCPT reply (restrictions run there)."""
    assert c.cmd(f"MAIL FROM:<{sender}>")[0] == 250
    return c.cmd(f"RCPT TO:<{rcpt}>")


def deliver(c):
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: t\r\n\r\nbody\r\n.\r\n")
    return c.reply()


# --- the client's name ------------------------------------------------------

def test_forward_confirmed_client_is_logged_by_name_and_in_received(instance, dns):
    s = smtpd_with(instance, dns)
    c = s.raw(source="127.0.0.2")
    c.ehlo("helo.test")
    assert message(c) == (250, "2.1.5 Ok")
    assert deliver(c)[0] == 250
    instance.wait_log(r"connect from good\.client\.test\[127\.0\.0\.2\]")
    instance.wait_log(r": client=good\.client\.test\[127\.0\.0\.2\]")
    [m] = s.queue()
    assert b"Received: from helo.test (good.client.test [127.0.0.2])" in m["body"], m["body"][:300]


def test_a_name_that_does_not_point_back_is_unknown(instance, dns):
    smtpd_with(instance, dns).raw(source="127.0.0.3").cmd("QUIT")
    instance.wait_log(r"warning: hostname liar\.client\.test does not resolve to address 127\.0\.0\.3")
    instance.wait_log(r"connect from unknown\[127\.0\.0\.3\]")


def hosts_file_names(ip):
    """The canonical names /etc/hosts gives `ip`."""
    try:
        lines = open("/etc/hosts").read().splitlines()
    except OSError:
        return []
    fields = (line.split("#")[0].split() for line in lines)
    return [f[1].lower() for f in fields if len(f) > 1 and f[0] == ip]


def test_a_client_the_hosts_file_names_is_named_from_it_not_from_dns(instance, dns):
    # dnsmasq has no PTR for 127.0.0.1; the C library (and so Postfix) reads
    # /etc/hosts first, and so does smtpd.
    names = hosts_file_names("127.0.0.1")
    if not names:
        pytest.skip("/etc/hosts does not name 127.0.0.1")
    smtpd_with(instance, dns).raw(source="127.0.0.1").cmd("QUIT")
    instance.wait_log(rf"connect from {re.escape(names[0])}\[127\.0\.0\.1\]")


def test_peername_lookup_off_names_nobody(instance, dns):
    smtpd_with(instance, dns, smtpd_peername_lookup="no").raw(source="127.0.0.2").cmd("QUIT")
    instance.wait_log(r"connect from unknown\[127\.0\.0\.2\]")


@pytest.mark.parametrize("source,restriction,reply", [
    ("127.0.0.3", "reject_unknown_client_hostname",
     (550, "5.7.25 Client host rejected: cannot find your hostname, [127.0.0.3]")),
    ("127.0.0.4", "reject_unknown_client_hostname",
     (550, "5.7.25 Client host rejected: cannot find your hostname, [127.0.0.4]")),
    ("127.0.0.4", "reject_unknown_reverse_client_hostname",
     (550, "5.7.25 Client host rejected: cannot find your reverse hostname, [127.0.0.4]")),
    ("127.0.0.3", "reject_unknown_reverse_client_hostname", (250, "2.1.5 Ok")),
    ("127.0.0.2", "reject_unknown_client_hostname", (250, "2.1.5 Ok")),
])
def test_unknown_client_names_are_rejected(instance, dns, source, restriction, reply):
    s = smtpd_with(instance, dns, smtpd_client_restrictions=restriction, unknown_client_reject_code="550")
    c = s.raw(source=source)
    c.ehlo()
    assert message(c) == reply


def test_unknown_client_default_code_is_450(instance, dns):
    c = smtpd_with(instance, dns, smtpd_client_restrictions="reject_unknown_client_hostname").raw(source="127.0.0.4")
    c.ehlo()
    assert message(c) == (450, "4.7.25 Client host rejected: cannot find your hostname, [127.0.0.4]")


def test_dns_failure_gives_450_even_with_a_550_reject_code(instance, dns):
    s = smtpd_with(instance, dns, smtpd_client_restrictions="reject_unknown_client_hostname",
                   unknown_client_reject_code="550")
    dns.stop()
    c = s.raw(source="127.0.0.2")
    c.ehlo()
    assert message(c) == (450, "4.7.25 Client host rejected: cannot find your hostname, [127.0.0.2]")


def test_client_access_matches_the_name_and_its_parent_domains(instance, dns):
    s = smtpd_with(instance, dns, smtpd_client_restrictions="check_client_access inline:{ client.test=REJECT }, "
                   "check_reverse_client_hostname_access inline:{ liar.client.test=REJECT }")
    for source, subject in (("127.0.0.2", "good.client.test[127.0.0.2]"), ("127.0.0.3", "unknown[127.0.0.3]")):
        c = s.raw(source=source)
        c.ehlo()
        assert message(c) == (554, f"5.7.1 <{subject}>: Client host rejected: Access denied")
    c = s.raw(source="127.0.0.4")
    c.ehlo()
    assert message(c) == (250, "2.1.5 Ok")


# --- DNS lists --------------------------------------------------------------

def test_listed_client_gets_the_rbl_reply_maps_reply(instance, dns):
    replies = instance.config_dir / "rbl_replies"  # readable by mail_owner
    replies.write_text("bl.test 550 5.7.1 Go away, $rbl_what is listed at $rbl_domain ($rbl_reason)\n")
    s = smtpd_with(instance, dns, smtpd_client_restrictions="reject_rbl_client bl.test=127.0.0.[2..4]",
                   rbl_reply_maps=f"texthash:{replies}")
    c = s.raw(source="127.0.0.2")
    c.ehlo()
    assert message(c) == (550, "5.7.1 Go away, 127.0.0.2 is listed at bl.test (listed for testing)")
    instance.wait_log(r"NOQUEUE: reject: RCPT from good\.client\.test\[127\.0\.0\.2\]: 550 5\.7\.1 Go away")
    c = s.raw(source="127.0.0.3")
    c.ehlo()
    assert message(c) == (250, "2.1.5 Ok")


def test_default_rbl_reply_and_result_filter(instance, dns):
    s = smtpd_with(instance, dns, smtpd_client_restrictions="reject_rbl_client bl.test=127.0.0.9, "
                   "reject_rbl_client bl.test")
    c = s.raw(source="127.0.0.2")
    c.ehlo()
    assert message(c) == (554, "5.7.1 Service unavailable; Client host [127.0.0.2] blocked using bl.test; "
                               "listed for testing")


def test_warn_if_reject_only_logs(instance, dns):
    s = smtpd_with(instance, dns, smtpd_client_restrictions="warn_if_reject reject_rbl_client bl.test")
    c = s.raw(source="127.0.0.2")
    c.ehlo()
    assert message(c) == (250, "2.1.5 Ok")
    instance.wait_log(r"NOQUEUE: reject_warning: RCPT from good\.client\.test\[127\.0\.0\.2\]: 554 5\.7\.1 "
                      r"Service unavailable; Client host \[127\.0\.0\.2\] blocked using bl\.test")


def test_dnswl_permits_listed_clients_only(instance, dns):
    s = smtpd_with(instance, dns, smtpd_client_restrictions="permit_dnswl_client bl.test, reject")
    c = s.raw(source="127.0.0.2")
    c.ehlo()
    assert message(c) == (250, "2.1.5 Ok")
    c = s.raw(source="127.0.0.3")
    c.ehlo()
    assert message(c)[0] == 554


def test_rhsbl_sender(instance, dns):
    s = smtpd_with(instance, dns, smtpd_sender_restrictions="reject_rhsbl_sender dbl.test")
    c = s.raw(source="127.0.0.2")
    c.ehlo()
    assert message(c, sender="x@spammer.test") == (
        554, "5.7.1 Service unavailable; Sender address [spammer.test] blocked using dbl.test")
    c.cmd("RSET")
    assert message(c, sender="x@domain.test") == (250, "2.1.5 Ok")


# --- sender and recipient domains --------------------------------------------

@pytest.mark.parametrize("sender,code,reply", [
    ("x@domain.test", "450", (250, "2.1.5 Ok")),
    ("x@nxdomain.test", "450", (450, "4.1.8 <x@nxdomain.test>: Sender address rejected: Domain not found")),
    ("x@nxdomain.test", "550", (550, "5.1.8 <x@nxdomain.test>: Sender address rejected: Domain not found")),
    ("x@nullmx.test", "450",
     (550, "5.7.27 <x@nullmx.test>: Sender address rejected: Domain nullmx.test does not accept mail (nullMX)")),
    ("x@localhost", "450", (250, "2.1.5 Ok")),  # ours: never looked up
])
def test_unknown_sender_domain(instance, dns, sender, code, reply):
    s = smtpd_with(instance, dns, smtpd_sender_restrictions="reject_unknown_sender_domain",
                   unknown_address_reject_code=code)
    c = s.raw(source="127.0.0.2")
    c.ehlo()
    assert message(c, sender=sender) == reply


def test_unknown_sender_domain_defers_when_dns_fails(instance, dns):
    s = smtpd_with(instance, dns, smtpd_sender_restrictions="reject_unknown_sender_domain",
                   unknown_address_reject_code="550")
    dns.stop()
    c = s.raw(source="127.0.0.1")
    c.ehlo()
    assert message(c, sender="x@domain.test") == (
        450, "4.1.8 <x@domain.test>: Sender address rejected: Domain not found")


def test_null_mx_recipient_domain(instance, dns):
    s = smtpd_with(instance, dns, smtpd_recipient_restrictions="reject_unknown_recipient_domain, permit")
    c = s.raw(source="127.0.0.1")  # mynetworks: may relay
    c.ehlo()
    assert message(c, rcpt="u@nullmx.test") == (
        550, "5.1.10 <u@nullmx.test>: Recipient address rejected: Domain nullmx.test does not accept mail (nullMX)")
    assert c.cmd("RCPT TO:<u@domain.test>") == (250, "2.1.5 Ok")


# --- HELO -------------------------------------------------------------------

@pytest.mark.parametrize("helo,reply", [
    ("bad_name!", (501, "5.5.2 <bad_name!>: Helo command rejected: Invalid name")),
    ("nodot", (504, "5.5.2 <nodot>: Helo command rejected: need fully-qualified hostname")),
    ("nx.test", (450, "4.7.1 <nx.test>: Helo command rejected: Host not found")),
    ("good.client.test", (250, "2.1.5 Ok")),
    ("domain.test", (250, "2.1.5 Ok")),  # an MX is enough
    ("[127.0.0.2]", (250, "2.1.5 Ok")),
])
def test_helo_checks(instance, dns, helo, reply):
    s = smtpd_with(instance, dns, smtpd_helo_required="yes",
                   smtpd_helo_restrictions="reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname, "
                   "reject_unknown_helo_hostname")
    c = s.raw(source="127.0.0.2")
    assert c.cmd("MAIL FROM:<a@domain.test>") == (503, "5.5.1 Error: send HELO/EHLO first")
    c.ehlo(helo)
    assert message(c) == reply


# --- our own senders from outside --------------------------------------------

def test_reject_unlisted_sender(instance, dns):
    s = smtpd_with(instance, dns, smtpd_sender_restrictions="reject_unlisted_sender")
    c = s.raw(source="127.0.0.2")
    c.ehlo()
    assert message(c, sender="nobody@localhost") == (
        550, "5.1.0 <nobody@localhost>: Sender address rejected: User unknown in local recipient table")
    c.cmd("RSET")
    assert message(c, sender="alice@localhost") == (250, "2.1.5 Ok")


def test_foreign_sender_header_names_the_client(instance, dns):
    s = smtpd_with(instance, dns, smtpd_foreign_sender_header="X-Foreign-Sender")
    for source in ("127.0.0.2", "127.0.0.1"):
        c = s.raw(source=source)
        c.ehlo()
        assert message(c, sender="alice@localhost", rcpt="bob@localhost")[0] == 250
        assert deliver(c)[0] == 250
    msgs = s.queue()
    tagged = [m for m in msgs if b"X-Foreign-Sender:" in m["body"]]
    assert len(msgs) == 2 and len(tagged) == 1
    assert tagged[0]["body"].startswith(b"X-Foreign-Sender: <alice@localhost> from good.client.test[127.0.0.2] "
                                        b"(not authenticated, outside mynetworks)\r\n")


def test_reject_unauthenticated_local_sender(instance, dns):
    s = smtpd_with(instance, dns, smtpd_sender_restrictions="reject_unauthenticated_local_sender")
    c = s.raw(source="127.0.0.2")
    c.ehlo()
    assert message(c, sender="alice@localhost") == (
        553, "5.7.1 <alice@localhost>: Sender address rejected: not logged in")
    c.cmd("RSET")
    assert message(c, sender="x@domain.test") == (250, "2.1.5 Ok")
    c = s.raw(source="127.0.0.1")
    c.ehlo()
    assert message(c, sender="alice@localhost") == (250, "2.1.5 Ok")


# --- debug_peer_list ----------------------------------------------------------

def test_debug_peer_list_logs_the_dialogue_of_listed_clients_only(instance, dns):
    s = smtpd_with(instance, dns, debug_peer_list="client.test", smtpd_client_restrictions="reject_rbl_client bl.test")
    c = s.raw(source="127.0.0.2")
    c.ehlo("helo.test")
    message(c)
    c.cmd("QUIT")
    instance.wait_log(r"< good\.client\.test\[127\.0\.0\.2\]: EHLO helo\.test")
    instance.wait_log(r"> good\.client\.test\[127\.0\.0\.2\]: 250-mx\.postern\.test")
    instance.wait_log(r"good\.client\.test\[127\.0\.0\.2\]: restriction lookup: A 2\.0\.0\.127\.bl\.test")
    c = s.raw(source="127.0.0.4")
    c.ehlo("other.test")
    c.cmd("QUIT")
    instance.wait_log(r"disconnect from unknown\[127\.0\.0\.4\]")
    assert "< unknown[127.0.0.4]" not in instance.log()


# --- policy services ---------------------------------------------------------

def test_policy_service_gets_the_client_names(instance, dns):
    requests = []

    class Policy(socketserver.StreamRequestHandler):
        def handle(self):
            attrs = {}
            for line in self.rfile:
                line = line.decode().rstrip("\n")
                if not line:
                    requests.append(attrs)
                    attrs = {}
                    self.wfile.write(b"action=DUNNO\n\n")
                    continue
                k, _, v = line.partition("=")
                attrs[k] = v

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Policy)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s = smtpd_with(instance, dns, smtpd_recipient_restrictions=(
            f"check_policy_service inet:127.0.0.1:{server.server_address[1]}, permit"))
        for source in ("127.0.0.2", "127.0.0.3"):
            c = s.raw(source=source)
            c.ehlo()
            assert message(c) == (250, "2.1.5 Ok")
        names = [(r["client_address"], r["client_name"], r["reverse_client_name"]) for r in requests]
        assert names == [("127.0.0.2", "good.client.test", "good.client.test"),
                         ("127.0.0.3", "unknown", "liar.client.test")]
    finally:
        server.shutdown()
        server.server_close()
