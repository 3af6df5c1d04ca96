# tests/system/test_server_checks.py — the restrictions on a name's MX hosts,
# name servers and addresses (check_*_mx_access, check_*_ns_access,
# check_*_a_access), reject_unknown_forward_client_hostname and the old DNS
# list names (reject_rbl, reject_maps_rbl), against dnsmasq on a loopback port.
import pytest

from test_client_checks import RECORDS, message, smtpd_with
from test_smtp_client import Dnsmasq


def wire(name):
    """A domain name in DNS wire format, hex, for dnsmasq's --dns-rr."""
    return "".join(f"{len(label):02x}{label.encode().hex()}" for label in name.split(".")) + "00"


SERVER_RECORDS = RECORDS + [
    # badmx.test: mail goes to a host of spamhost.test.
    "--mx-host=badmx.test,mx.spamhost.test,10",
    "--address=/mx.spamhost.test/127.0.0.66",
    # nomx.test: no MX, its own address is its MX host's.
    "--address=/nomx.test/127.0.0.77",
    # ns-listed.test is served by ns1.evil-dns.test; sub.ns-listed.test has no NS of its own.
    f"--dns-rr=ns-listed.test,2,{wire('ns1.evil-dns.test')}",
    "--address=/ns1.evil-dns.test/127.0.0.88",
]


@pytest.fixture
def dns():
    d = Dnsmasq(SERVER_RECORDS)
    yield d
    d.stop()


def sender_reply(instance, dns, restriction, sender, **params):
    s = smtpd_with(instance, dns, smtpd_sender_restrictions=restriction, **params)
    c = s.raw(source="127.0.0.2")
    c.ehlo()
    return message(c, sender=sender)


@pytest.mark.parametrize("restriction,sender,reply", [
    # The MX host by name (parent domains match), then by address.
    ("check_sender_mx_access inline:{ {spamhost.test=REJECT Spam MX} }", "x@badmx.test",
     (554, "5.7.1 <x@badmx.test>: Sender address rejected: Spam MX")),
    ("check_sender_mx_access inline:{ 127.0.0.66=REJECT }", "x@badmx.test",
     (554, "5.7.1 <x@badmx.test>: Sender address rejected: Access denied")),
    # Without MX the domain is its own MX host; a domain with a good MX passes.
    ("check_sender_mx_access inline:{ 127.0.0.77=REJECT }", "x@nomx.test",
     (554, "5.7.1 <x@nomx.test>: Sender address rejected: Access denied")),
    ("check_sender_mx_access inline:{ 127.0.0.66=REJECT }", "x@domain.test", (250, "2.1.5 Ok")),
    # A null MX or a domain that does not exist decides nothing.
    ("check_sender_mx_access inline:{ nullmx.test=REJECT }", "x@nullmx.test", (250, "2.1.5 Ok")),
    ("check_sender_mx_access inline:{ 127.0.0.66=REJECT }", "x@nxdomain.test", (250, "2.1.5 Ok")),
    # An address literal is its own MX host.
    ("check_sender_mx_access inline:{ 127.0.0.5=REJECT }", "x@[127.0.0.5]",
     (554, "5.7.1 <x@[127.0.0.5]>: Sender address rejected: Access denied")),
    # Name servers, of the parent domain when the name has none.
    ("check_sender_ns_access inline:{ {evil-dns.test=REJECT Bad DNS} }", "x@sub.ns-listed.test",
     (554, "5.7.1 <x@sub.ns-listed.test>: Sender address rejected: Bad DNS")),
    ("check_sender_ns_access inline:{ {127.0.0.88=450 4.7.1 Try later} }", "x@ns-listed.test",
     (450, "4.7.1 <x@ns-listed.test>: Sender address rejected: Try later")),
    # Addresses only: the name itself is not looked up in the table.
    ("check_sender_a_access inline:{ nomx.test=REJECT }", "x@nomx.test", (250, "2.1.5 Ok")),
    ("check_sender_a_access inline:{ 127.0.0=REJECT }", "x@nomx.test",
     (554, "5.7.1 <x@nomx.test>: Sender address rejected: Access denied")),
    # OK would let a spammer whitelist itself through its DNS: refused, as Postfix.
    ("check_sender_mx_access inline:{ spamhost.test=OK }", "x@badmx.test", (451, "4.3.5 Server configuration error")),
    ("check_sender_mx_access inline:{ spamhost.test=DUNNO }, reject", "x@badmx.test",
     (554, "5.7.1 <x@badmx.test>: Sender address rejected: Access denied")),
])
def test_sender_server_checks(instance, dns, restriction, sender, reply):
    assert sender_reply(instance, dns, restriction, sender) == reply


def test_client_helo_and_recipient_server_checks(instance, dns):
    s = smtpd_with(instance, dns,
                   smtpd_client_restrictions="check_client_a_access inline:{ 127.0.0.2=REJECT }",
                   smtpd_helo_restrictions="check_helo_mx_access inline:{ mail.domain.test=REJECT }",
                   smtpd_recipient_restrictions="check_recipient_mx_access inline:{ 127.0.0.5=REJECT }, permit",
                   mynetworks="127.0.0.0/8")
    c = s.raw(source="127.0.0.2")  # good.client.test: A 127.0.0.2
    c.ehlo()
    assert message(c) == (554, "5.7.1 <good.client.test[127.0.0.2]>: Client host rejected: Access denied")
    c = s.raw(source="127.0.0.3")  # no confirmed name: nothing to check
    c.ehlo("domain.test")
    assert message(c) == (554, "5.7.1 <domain.test>: Helo command rejected: Access denied")
    c = s.raw(source="127.0.0.4")  # no name (127.0.0.1 is localhost from /etc/hosts)
    c.ehlo("other.test")
    assert message(c, rcpt="u@domain.test") == (554, "5.7.1 <u@domain.test>: Recipient address rejected: Access denied")
    assert c.cmd("RCPT TO:<u@badmx.test>") == (250, "2.1.5 Ok")


def test_dns_failure_defers_server_checks(instance, dns):
    s = smtpd_with(instance, dns, smtpd_sender_restrictions="check_sender_mx_access inline:{ spamhost.test=REJECT }")
    dns.stop()
    c = s.raw(source="127.0.0.1")
    c.ehlo()
    assert message(c, sender="x@badmx.test") == (
        450, "4.4.3 <x@badmx.test>: Sender address rejected: Temporary DNS lookup failure")
    instance.wait_log(r"warning: Unable to look up MX host for badmx\.test")


@pytest.mark.parametrize("source,reply", [
    ("127.0.0.3", (550, "5.7.25 Client host rejected: cannot find your hostname, [127.0.0.3]")),  # PTR points elsewhere
    ("127.0.0.4", (250, "2.1.5 Ok")),  # no PTR at all: the reverse restriction's business
    ("127.0.0.2", (250, "2.1.5 Ok")),
])
def test_reject_unknown_forward_client_hostname(instance, dns, source, reply):
    s = smtpd_with(instance, dns, smtpd_client_restrictions="reject_unknown_forward_client_hostname",
                   unknown_client_reject_code="550")
    c = s.raw(source=source)
    c.ehlo()
    assert message(c) == reply


@pytest.mark.parametrize("params", [
    {"smtpd_client_restrictions": "reject_rbl bl.test"},
    {"smtpd_client_restrictions": "reject_maps_rbl", "maps_rbl_domains": "nothing.test, bl.test"},
])
def test_old_dns_list_names(instance, dns, params):
    s = smtpd_with(instance, dns, **params)
    c = s.raw(source="127.0.0.2")
    c.ehlo()
    assert message(c) == (554, "5.7.1 Service unavailable; Client host [127.0.0.2] blocked using bl.test; "
                               "listed for testing")
    c = s.raw(source="127.0.0.3")
    c.ehlo()
    assert message(c) == (250, "2.1.5 Ok")


def test_reject_maps_rbl_without_domains_is_refused_by_check(instance):
    instance.set(smtpd_client_restrictions="reject_maps_rbl")
    r = instance.postern("check")
    assert r.returncode == 1
    assert "error: smtpd_client_restrictions: reject_maps_rbl needs maps_rbl_domains" in r.stderr, r.stderr
