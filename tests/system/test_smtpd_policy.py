# tests/system/test_smtpd_policy.py — relay control and restrictions end to
# end: the relay battery from outside mynetworks (127.0.0.2) and inside it
# (127.0.0.1), unknown local recipients, access tables, connection limits.
import socket

import pytest

from test_smtpd import Raw, smtpd, start_smtpd  # noqa: F401 (smtpd is a fixture)

# Recipient paths that try to make us relay to other.test / 192.0.2.1.
RELAY_BATTERY = [
    "<user@other.test>",
    "<user%other.test@[127.0.0.1]>",
    '<"user@other.test"@localhost>',
    "<@localhost:user@other.test>",
    "<user@other.test@localhost>",
    "<other.test!user@localhost>",
    "<user@[192.0.2.1]>",
]


@pytest.fixture
def relay(instance):
    # An empty local_recipient_maps accepts every local name, so that from
    # inside only relay control decides.
    return start_smtpd(instance, local_recipient_maps="")


def transaction(s, source):
    c = s.raw(source=source)
    assert c.cmd("EHLO client.test")[0] == 250
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    return c


@pytest.mark.parametrize("path", RELAY_BATTERY)
def test_relay_attempt_from_outside_mynetworks_is_refused(relay, path):
    c = transaction(relay, "127.0.0.2")
    code, text = c.cmd(f"RCPT TO:{path}")
    assert code == 454 and text.startswith("4.7.1 <") and text.endswith(">: Relay access denied"), text
    c.cmd("RCPT TO:<alice@localhost>")
    c.cmd("DATA")
    c.send("Subject: r\r\n\r\nx\r\n.\r\n")
    assert c.reply()[0] == 250
    [m] = relay.queue()
    assert m["rcpts"] == ["alice@localhost"]  # only the local one got through


@pytest.mark.parametrize("path", RELAY_BATTERY)
def test_same_paths_from_inside_mynetworks_are_accepted(relay, path):
    c = transaction(relay, "127.0.0.1")
    code, text = c.cmd(f"RCPT TO:{path}")
    assert (code, text) == (250, "2.1.5 Ok")


def test_relay_refusal_is_logged_postfix_style(relay):
    mark = relay.instance.log_mark()
    c = transaction(relay, "127.0.0.2")
    c.cmd("RCPT TO:<user@other.test>")
    relay.instance.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 454 4\.7\.1 <user@other\.test>: "
                            r"Relay access denied; from=<a@example\.org> to=<user@other\.test> proto=ESMTP "
                            r"helo=<client\.test>", since=mark)


def test_relay_domains_may_be_relayed_to_from_anywhere(instance):
    s = start_smtpd(instance, relay_domains="partner.test")
    c = transaction(s, "127.0.0.2")
    assert c.cmd("RCPT TO:<x@mail.partner.test>") == (250, "2.1.5 Ok")
    assert c.cmd("RCPT TO:<x%other.test@partner.test>")[0] == 454


def test_reject_unauth_destination_answers_554(instance):
    s = start_smtpd(instance, smtpd_relay_restrictions="permit_mynetworks, reject_unauth_destination")
    c = transaction(s, "127.0.0.2")
    assert c.cmd("RCPT TO:<user@other.test>") == (554, "5.7.1 <user@other.test>: Relay access denied")


def test_unknown_local_recipient_is_refused_at_rcpt(smtpd):
    c = transaction(smtpd, "127.0.0.1")
    assert c.cmd("RCPT TO:<carol@mx.postern.test>") == (
        550, "5.1.1 <carol@mx.postern.test>: Recipient address rejected: User unknown in local recipient table")
    assert c.cmd("RCPT TO:<ALICE@mx.postern.test>") == (250, "2.1.5 Ok")


def test_passwd_users_are_local_recipients_by_default_maps(instance):
    # local_recipient_maps' default is unix:passwd.byname $alias_maps; root exists everywhere.
    s = start_smtpd(instance, local_recipient_maps="unix:passwd.byname $alias_maps")
    c = transaction(s, "127.0.0.1")
    assert c.cmd("RCPT TO:<root@localhost>") == (250, "2.1.5 Ok")
    assert c.cmd("RCPT TO:<no-such-user-xyz@localhost>")[0] == 550


def test_access_tables_and_fqdn_restrictions(instance):
    s = start_smtpd(
        instance,
        smtpd_client_restrictions="check_client_access inline:{ {127.0.0.2=REJECT go away} }",
        smtpd_helo_restrictions="reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname",
        smtpd_sender_restrictions="reject_non_fqdn_sender, check_sender_access inline:{ {spam.test=550 5.7.0 no spam} }",
        smtpd_recipient_restrictions="check_recipient_access inline:{ {bob@localhost=DEFER try later} }")
    c = transaction(s, "127.0.0.2")
    assert c.cmd("RCPT TO:<alice@localhost>") == (554, "5.7.1 <unknown[127.0.0.2]>: Client host rejected: go away")
    c = s.raw()
    c.cmd("EHLO nodots")
    c.cmd("MAIL FROM:<a@example.org>")
    assert c.cmd("RCPT TO:<alice@localhost>") == (
        504, "5.5.2 <nodots>: Helo command rejected: need fully-qualified hostname")
    c = transaction(s, "127.0.0.1")
    c.cmd("RSET")
    c.cmd("MAIL FROM:<x@spam.test>")
    assert c.cmd("RCPT TO:<alice@localhost>") == (550, "5.7.0 <x@spam.test>: Sender address rejected: no spam")
    c.cmd("RSET")
    c.cmd("MAIL FROM:<x@nodot>")
    assert c.cmd("RCPT TO:<alice@localhost>") == (
        504, "5.5.2 <x@nodot>: Sender address rejected: need fully-qualified address")
    c.cmd("RSET")
    c.cmd("MAIL FROM:<x@example.org>")
    assert c.cmd("RCPT TO:<bob@localhost>") == (450, "4.7.1 <bob@localhost>: Recipient address rejected: try later")
    assert c.cmd("RCPT TO:<alice@localhost>") == (250, "2.1.5 Ok")


def test_connection_count_limit_per_client_address(instance):
    s = start_smtpd(instance, smtpd_client_connection_count_limit="2", smtpd_client_event_limit_exceptions="")
    # start_smtpd's greeting probe must be gone from the count first.
    instance.wait_log(r"smtpd\[\d+\]: disconnect from \S+\[127\.0\.0\.1\]")
    first, second = s.raw(), s.raw()
    mark = instance.log_mark()
    third = Raw(s.port)
    assert third.greeting == (421, "4.7.0 mx.postern.test Error: too many connections from 127.0.0.1")
    assert third.closed()
    instance.wait_log(r"warning: Connection concurrency limit exceeded: 3 from unknown\[127\.0\.0\.1\] "
                      r"for service 127\.0\.0\.1:\d+", since=mark)
    other = Raw(s.port, source="127.0.0.2")  # another address has its own count
    assert other.greeting[0] == 220
    first.cmd("QUIT")
    assert first.closed()
    fourth = Raw(s.port)
    assert fourth.greeting[0] == 220
    assert second.cmd("NOOP") == (250, "2.0.0 Ok")


def test_mynetworks_clients_are_exempt_from_the_connection_limit(instance):
    s = start_smtpd(instance, smtpd_client_connection_count_limit="1")
    conns = [s.raw() for _ in range(3)]  # 127.0.0.1 is in mynetworks, the default exception
    assert all(c.greeting[0] == 220 for c in conns)
