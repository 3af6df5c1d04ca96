"""smtpd_data_restrictions (at DATA) and smtpd_end_of_data_restrictions (after
the final dot, before 250) with Postfix's replies and log lines, the
restrictions meant for them (reject_unauth_pipelining,
reject_multi_recipient_bounce), and greylisting on the message content
(greylist_key ... content) at the end of data."""
import time

from test_smtpd import Raw, start_smtpd

MSG = "From: a@client.test\r\nSubject: {subject}\r\n\r\n{body}\r\n"


def envelope(port, sender="someone@client.test", rcpts=("alice@mx.postern.test",), source="127.0.0.2"):
    c = Raw(port, source)
    c.ehlo("client.test")
    assert c.cmd(f"MAIL FROM:<{sender}>")[0] == 250
    for r in rcpts:
        assert c.cmd(f"RCPT TO:<{r}>")[0] == 250
    return c


def send(port, subject="hello", body="a body", **kw):
    """One whole message: the reply to its final dot."""
    c = envelope(port, **kw)
    try:
        assert c.cmd("DATA")[0] == 354
        c.send(MSG.format(subject=subject, body=body) + ".\r\n")
        return c.reply()
    finally:
        c.close()


def queued(instance):
    return instance.queue_messages()


def test_a_reject_at_data_answers_with_the_data_command_reply(instance):
    s = start_smtpd(instance, smtpd_data_restrictions="permit_mynetworks, reject")
    mark = instance.log_mark()
    c = envelope(s.port)
    assert c.cmd("DATA") == (554, "5.7.1 <DATA>: Data command rejected: Access denied")
    assert c.cmd("QUIT")[0] == 221
    instance.wait_log(r"NOQUEUE: reject: DATA from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 <DATA>: Data command rejected: "
                      r"Access denied; from=<someone@client\.test> to=<alice@mx\.postern\.test> proto=ESMTP", since=mark)
    # mynetworks passes the same list.
    assert send(s.port, source="127.0.0.1")[0] == 250


def test_recipient_restrictions_at_data_see_only_a_lone_recipient(instance):
    s = start_smtpd(instance, smtpd_data_restrictions="check_recipient_access inline:{ bob@mx.postern.test=REJECT }")
    c = envelope(s.port, rcpts=("bob@mx.postern.test",))
    assert c.cmd("DATA") == (554, "5.7.1 <bob@mx.postern.test>: Recipient address rejected: Access denied")
    c.close()
    # With two recipients the restriction has none to act on (Postfix's smtpd_check_data).
    assert send(s.port, rcpts=("alice@mx.postern.test", "bob@mx.postern.test"))[0] == 250


def test_unauth_pipelining_of_the_content_is_refused_at_data(instance):
    s = start_smtpd(instance, smtpd_data_restrictions="reject_unauth_pipelining")
    assert send(s.port)[0] == 250  # waits for 354: fine
    mark = instance.log_mark()
    c = envelope(s.port)
    c.send("DATA\r\n" + MSG.format(subject="bulk", body="x") + ".\r\n")  # without waiting for 354
    assert c.reply() == (503, "5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining")
    c.close()
    instance.wait_log(r"improper command pipelining after DATA from unknown\[127\.0\.0\.2\]: From: a@client\.test\\r\\n",
                      since=mark)
    assert len(queued(instance)) == 1


def test_multi_recipient_bounce_is_refused_at_data(instance):
    s = start_smtpd(instance, smtpd_data_restrictions="reject_multi_recipient_bounce")
    c = envelope(s.port, sender="", rcpts=("alice@mx.postern.test", "bob@mx.postern.test"))
    assert c.cmd("DATA") == (550, "5.5.3 <DATA>: Data command rejected: Multi-recipient bounce")
    c.close()
    assert send(s.port, sender="")[0] == 250  # a bounce to one recipient


def test_a_reject_at_end_of_data_refuses_the_whole_message(instance):
    s = start_smtpd(instance, smtpd_end_of_data_restrictions="check_sender_access inline:{ spam@client.test=REJECT }")
    mark = instance.log_mark()
    code, text = send(s.port, sender="spam@client.test", rcpts=("alice@mx.postern.test", "bob@mx.postern.test"))
    assert (code, text) == (554, "5.7.1 <spam@client.test>: Sender address rejected: Access denied")
    instance.wait_log(r"[0-9a-f]{8}: reject: END-OF-MESSAGE from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 "
                      r"<spam@client\.test>: Sender address rejected: Access denied; from=<spam@client\.test> proto=ESMTP",
                      since=mark)
    assert queued(instance) == []
    assert send(s.port, sender="ham@client.test")[0] == 250
    assert len(queued(instance)) == 1


def test_end_of_data_restrictions_apply_to_bdat_too(instance):
    s = start_smtpd(instance, smtpd_end_of_data_restrictions="permit_mynetworks, reject")
    c = envelope(s.port)
    data = MSG.format(subject="chunked", body="x")
    c.send(f"BDAT {len(data)} LAST\r\n{data}")
    assert c.reply() == (554, "5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied")
    c.close()
    assert queued(instance) == []


def test_content_greylisting_defers_at_end_of_data_until_the_same_content_returns(instance):
    s = start_smtpd(instance, greylist_key="client_network, sender, content", greylist_delay="3s",
                    greylist_auto_whitelist_count="0", smtpd_end_of_data_restrictions="check_greylist")
    first = time.monotonic()
    code, text = send(s.port, subject="offer")
    assert code == 450 and text.startswith("4.7.1 <END-OF-MESSAGE>: End-of-data rejected: Greylisted, please try again in"), text
    assert queued(instance) == []
    assert send(s.port, subject="offer")[0] == 450  # too early
    time.sleep(max(0.0, first + 4 - time.monotonic()))
    # Another content is another record: greylisted afresh.
    assert send(s.port, subject="offer 2")[0] == 450
    assert send(s.port, subject="offer")[0] == 250
    instance.wait_log(r"greylist: grey:127\.0\.0\.0/24,someone@client\.test,[0-9a-f]{32} passed after \d+s")
    assert len(queued(instance)) == 1


def test_check_refuses_a_content_key_outside_end_of_data(instance):
    instance.add_testd()
    instance.set(alias_maps="", greylist_key="client_network, sender, content",
                 smtpd_recipient_restrictions="reject_unauth_destination, check_greylist")
    r = instance.postern("check")
    assert r.returncode != 0
    assert ("smtpd_recipient_restrictions: check_greylist with content in greylist_key works only in "
            "smtpd_end_of_data_restrictions") in r.stderr, r.stderr
    instance.set(smtpd_recipient_restrictions="reject_unauth_destination",
                 smtpd_end_of_data_restrictions="check_greylist")
    r = instance.postern("check")
    assert r.returncode == 0, r.stderr
