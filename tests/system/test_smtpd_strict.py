# tests/system/test_smtpd_strict.py — where smtpd is stricter than Postfix
# with untrusted clients (issue 14) and where it is exactly as lenient:
# unqualified addresses, HELO length, AUTH garbage, recipient overshoot.
import pytest

from test_auth import PASSWORDS, auth_smtpd, login
from test_smtpd import start_smtpd


@pytest.fixture
def smtpd(instance):
    # 127.0.0.1 is mynetworks; 127.0.0.2 is the outside world.
    return start_smtpd(instance, local_recipient_maps="inline:{ alice=1, postmaster=1 }")


def test_mynetworks_client_gets_myorigin_appended(smtpd):
    c = smtpd.raw(source="127.0.0.1")
    c.ehlo()
    assert c.cmd("MAIL FROM:<pepe>")[0] == 250
    assert c.cmd("RCPT TO:<alice>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: x\r\n\r\nhi\r\n.\r\n")
    assert c.reply()[0] == 250
    [m] = smtpd.queue()
    assert m["sender"] == "pepe@mx.postern.test" and m["rcpts"] == ["alice@mx.postern.test"]


def test_authenticated_client_outside_mynetworks_gets_myorigin_appended(instance):
    s = auth_smtpd(instance, local_recipient_maps="inline:{ alice=1 }", mydestination="mx.postern.test")
    c = s.raw()  # 127.0.0.1: outside mynetworks (127.0.0.2) here
    c.ehlo()
    assert c.cmd("MAIL FROM:<pepe>")[0] == 501
    assert login(c, "alice", PASSWORDS["alice"])[0] == 235
    assert c.cmd("MAIL FROM:<alice>") == (250, "2.1.0 Ok")
    assert c.cmd("RCPT TO:<alice>") == (250, "2.1.5 Ok")


def test_repeated_auth_garbage_ends_in_421_like_wrong_passwords(instance):
    s = auth_smtpd(instance, smtpd_sasl_max_failures="3")
    c = s.raw()
    c.ehlo()
    assert c.cmd("AUTH PLAIN not!base64") == (501, "5.5.2 Cannot decode response")
    assert c.cmd("AUTH LOGIN") == (334, "VXNlcm5hbWU6")
    assert c.cmd("%%%") == (501, "5.5.2 Cannot decode response")
    assert c.cmd("AUTH PLAIN ###") == (421, "4.7.0 mx.postern.test Error: too many failed authentication attempts")
    assert c.closed()
    s.instance.wait_log(r"too many failed authentication attempts from unknown\[127\.0\.0\.1\]")


def test_garbage_and_wrong_passwords_count_together(instance):
    s = auth_smtpd(instance, smtpd_sasl_max_failures="2")
    c = s.raw()
    c.ehlo()
    assert c.cmd("AUTH PLAIN ***")[0] == 501
    assert login(c, "alice", "wrong")[0] == 421


def test_recipients_past_the_limit_are_refused_without_ending_the_transaction(smtpd):
    c = smtpd.raw()
    c.ehlo()
    # 1,030 recipients and DATA pipelined, as a bulk sender does.
    c.send("MAIL FROM:<a@example.org>\r\n" + "RCPT TO:<alice@localhost>\r\n" * 1030 + "DATA\r\n")
    assert c.reply()[0] == 250
    codes = [code for code, _ in c.replies(1030)]
    assert codes == [250] * 1000 + [452] * 30
    assert c.reply()[0] == 354
    c.send("Subject: many\r\n\r\nhi\r\n.\r\n")
    assert c.reply()[0] == 250
    [m] = smtpd.queue()
    assert m["nrcpt"] == 1000
    assert c.cmd("NOOP")[0] == 250


def test_overshoot_past_its_limit_counts_as_errors(instance):
    s = start_smtpd(instance, smtpd_recipient_limit="10", smtpd_recipient_overshoot_limit="5",
                    smtpd_hard_error_limit="20")
    c = s.raw()
    c.ehlo()
    c.send("MAIL FROM:<a@example.org>\r\n" + "RCPT TO:<alice@localhost>\r\n" * 40)
    assert c.reply()[0] == 250
    replies = []
    while not replies or replies[-1][0] != 421:
        replies.append(c.reply())
    # 10 accepted, 5 free overshoots, then 20 that count: the 20th error is the last.
    assert [r[0] for r in replies] == [250] * 10 + [452] * 25 + [421]
