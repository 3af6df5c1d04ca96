"""Delivery status notifications end to end (issue 7, bounce): qmgr asks the
bounce service for notices about bounced, expired, delayed and NOTIFY=SUCCESS
recipients; bounce queues them as new mail from MAILER-DAEMON; the smtp
client carries them to an aiosmtpd sink, where Python's email package must
read them as RFC 3464 reports."""
import email
import email.policy
import re

import pytest

from conftest import free_port, wait_for
from qmgr_helpers import FAST, QTOOL, envelopes, trigger, wait_empty
from test_smtp_client import Message, Sink

pytestmark = pytest.mark.skipif(not QTOOL.exists(), reason="test helpers not built")

BODY = b"From: sender@example.org\r\nSubject: the original\r\nMessage-Id: <orig@example.org>\r\n\r\n" \
       b"the original body\r\n"
SENDER = "sender@example.org"
NOTIFY_NEVER, NOTIFY_SUCCESS, NOTIFY_FAILURE = 1, 2, 4


@pytest.fixture
def sink():
    """Everything that is relayed lands here; RCPT answers by rules."""
    s = Sink("127.0.0.1")
    yield s
    s.stop()


@pytest.fixture
def dsn(instance, sink):
    """qmgr, bounce and smtp; mail goes to the sink by relayhost, except
    unreach.test whose server refuses connections."""
    dead = free_port()
    instance.set(**{**FAST, "default_transport": "smtp", "relay_domains": "", "maximal_backoff_time": "1s",
                    "relayhost": f"[127.0.0.1]:{sink.port}",
                    "transport_maps": f"inline:{{ unreach.test=smtp:[127.0.0.1]:{dead} }}"})
    instance.add_service("qmgr unix n - n 300 1 qmgr")
    instance.add_service("bounce unix - - n - 0 bounce")
    instance.add_service("smtp unix - - n - - smtp")
    return instance


def send(instance, *rcpts, sender=SENDER, args=()):
    msg = Message(instance, BODY, list(rcpts), sender=sender, args=args)
    trigger(instance)
    return msg


def notices(sink, to=None):
    """The sink's messages from the null sender (or double-bounce), parsed."""
    out = []
    for m in list(sink.messages):
        if m["sender"] not in ("<>", "", "double-bounce@mx.postern.test"):
            continue
        if to and to not in m["rcpts"]:
            continue
        out.append((m, email.message_from_bytes(m["content"], policy=email.policy.default)))
    return out


def report(parsed):
    """(human text, per-message fields, [per-recipient fields], third part)."""
    assert parsed.get_content_type() == "multipart/report"
    assert parsed.get_param("report-type") == "delivery-status"
    human, status, original = parsed.get_payload()
    assert human.get_content_type() == "text/plain"
    assert status.get_content_type() == "message/delivery-status"
    blocks = status.get_payload()
    return human.get_content(), blocks[0], blocks[1:], original


def test_expired_unreachable_recipient_returns_a_dsn_with_the_whole_message(dsn, sink):
    dsn.set(maximal_queue_lifetime="1s")
    dsn.start()
    msg = send(dsn, "u@unreach.test")
    m = dsn.wait_log(rf"{msg.msgid_text}: sender non-delivery notification: (\w{{8}})", timeout=15)
    notice_id = m.group(1)
    (envelope, parsed), = wait_for(lambda: notices(sink), 10, what="the notice at the sink")
    assert envelope["sender"] in ("<>", "") and envelope["rcpts"] == [SENDER]
    assert parsed["From"].startswith("MAILER-DAEMON@mx.postern.test")
    assert parsed["Subject"] == "Undelivered Mail Returned to Sender"
    assert parsed["To"] == SENDER
    text, per_msg, rcpts, original = report(parsed)
    assert "could not\r\nbe delivered" in text or "could not\nbe delivered" in text
    assert "<u@unreach.test>: connect to 127.0.0.1[127.0.0.1]" in text
    assert per_msg["Reporting-MTA"] == "dns; mx.postern.test"
    assert per_msg["X-Postern-Queue-ID"] == msg.msgid_text
    assert per_msg["Arrival-Date"]
    (r,) = rcpts
    assert r["Final-Recipient"] == "rfc822; u@unreach.test"
    assert r["Action"] == "failed"
    assert r["Status"] == "4.4.1"
    assert "Connection refused" in r["Diagnostic-Code"]
    assert original.get_content_type() == "message/rfc822"
    inner = original.get_payload()[0]
    assert inner["Subject"] == "the original"
    assert inner.get_content().strip() == "the original body"
    dsn.wait_log(rf"qmgr\[\d+\]: {msg.msgid_text}: removed")
    dsn.wait_log(rf"qmgr\[\d+\]: {notice_id}: removed")
    wait_empty(dsn)


def test_ret_hdrs_returns_only_the_headers(dsn, sink):
    dsn.set(maximal_queue_lifetime="1s")
    dsn.start()
    send(dsn, "u@unreach.test", args=("--ret", "hdrs", "--envid", "ENV-42"))
    (_, parsed), = wait_for(lambda: notices(sink), 15, what="the notice at the sink")
    _, per_msg, _, original = report(parsed)
    assert per_msg["Original-Envelope-Id"] == "ENV-42"
    assert original.get_content_type() == "text/rfc822-headers"
    raw = original.get_payload() if isinstance(original.get_payload(), str) else original.as_string()
    assert "Subject: the original" in raw
    assert "the original body" not in parsed.as_string()


def test_permanent_550_produces_a_notice_with_the_servers_reply(dsn, sink):
    sink.rules["bad@"] = "550 5.1.1 no such user"
    dsn.start()
    msg = send(dsn, "good@x.test", "bad@x.test;0;rfc822;alias@x.test")
    dsn.wait_log(rf"{msg.msgid_text}: to=<bad@x\.test>, .*dsn=5\.1\.1, status=bounced")
    (_, parsed), = wait_for(lambda: notices(sink), 10, what="the notice at the sink")
    text, _, rcpts, original = report(parsed)
    text = re.sub(r"\r?\n    ", " ", text)  # long lines are folded
    assert "<bad@x.test> (expanded from <alias@x.test>): host 127.0.0.1[127.0.0.1] said: 550 5.1.1" in text
    (r,) = rcpts   # the delivered recipient is not reported
    assert r["Final-Recipient"] == "rfc822; bad@x.test"
    assert r["Original-Recipient"] == "rfc822;alias@x.test"
    assert (r["Action"], r["Status"]) == ("failed", "5.1.1")
    assert r["Remote-MTA"] == "dns; 127.0.0.1"
    assert r["Diagnostic-Code"] == "smtp; 550 5.1.1 no such user"
    assert original.get_content_type() == "message/rfc822"
    wait_empty(dsn)


def test_notify_never_sends_no_notice(dsn, sink):
    sink.rules["bad@"] = "550 5.1.1 no such user"
    dsn.start()
    msg = send(dsn, f"bad@x.test;{NOTIFY_NEVER}")
    dsn.wait_log(rf"bounce\[\d+\]: {msg.msgid_text}: no notice requested")
    dsn.wait_log(rf"qmgr\[\d+\]: {msg.msgid_text}: removed")
    wait_empty(dsn)
    assert notices(sink) == []


def test_delay_warning_is_sent_once_after_delay_warning_time(dsn, sink):
    dsn.set(delay_warning_time="1s", maximal_queue_lifetime="1h")
    dsn.start()
    msg = send(dsn, "u@unreach.test")
    dsn.wait_log(rf"{msg.msgid_text}: sender delay notification: \w{{8}}", timeout=15)
    (_, parsed), = wait_for(lambda: notices(sink), 10, what="the delay warning at the sink")
    assert parsed["Subject"] == "Delayed Mail (still being retried)"
    text, _, rcpts, original = report(parsed)
    assert "THIS IS A WARNING ONLY" in text
    (r,) = rcpts
    assert (r["Action"], r["Status"]) == ("delayed", "4.4.1")
    assert r["Will-Retry-Until"]
    assert original.get_content_type() == "text/rfc822-headers"
    # Three more attempts later there is still only the one warning.
    mark = dsn.log_mark()
    dsn.wait_log(rf"{msg.msgid_text}: to=<u@unreach\.test>, .*status=deferred", since=mark, count=3, timeout=20)
    assert len(re.findall(r"sender delay notification", dsn.log())) == 1
    assert len(notices(sink)) == 1
    # Still queued, one envelope: deferred, or already on its next attempt.
    (e,) = envelopes(dsn)
    assert e["state"] in ("deferred", "active"), e


def test_bounce_of_a_bounce_goes_to_postmaster_and_nothing_loops(dsn, sink):
    # Postfix sends a double bounce only when notify_classes asks for it.
    dsn.set(notify_classes="resource, software, 2bounce")
    # Everything fails: the bounce, then the postmaster notice about it.
    sink.rules["bad@"] = "550 5.1.1 no such user"
    sink.rules["postmaster@"] = "550 5.1.1 postmaster is away"
    dsn.start()
    msg = send(dsn, "bad@x.test", sender="")
    m = dsn.wait_log(rf"{msg.msgid_text}: postmaster non-delivery notification: (\w{{8}})", timeout=10)
    double = m.group(1)
    dsn.wait_log(rf"{double}: from=<double-bounce@mx\.postern\.test>")
    dsn.wait_log(rf"{double}: to=<postmaster@mx\.postern\.test>, .*status=bounced")
    dsn.wait_log(rf"bounce\[\d+\]: warning: {double}: undeliverable postmaster notification discarded")
    dsn.wait_log(rf"qmgr\[\d+\]: {double}: removed")
    wait_empty(dsn)
    log = dsn.log()
    assert len(re.findall(r"non-delivery notification: ", log)) == 1
    assert sink.messages == []


def test_bounce_of_a_bounce_is_discarded_under_default_notify_classes(dsn, sink):
    sink.rules["bad@"] = "550 5.1.1 no such user"
    dsn.start()
    msg = send(dsn, "bad@x.test", sender="")
    dsn.wait_log(rf"bounce\[\d+\]: {msg.msgid_text}: undeliverable bounce discarded")
    dsn.wait_log(rf"qmgr\[\d+\]: {msg.msgid_text}: removed")
    wait_empty(dsn)
    assert notices(sink) == []


def test_bounce_class_sends_postmaster_a_headers_only_copy(dsn, sink):
    dsn.set(notify_classes="bounce")
    sink.rules["bad@"] = "550 5.1.1 no such user"
    dsn.start()
    msg = send(dsn, "bad@x.test")
    dsn.wait_log(rf"{msg.msgid_text}: postmaster non-delivery notification: \w{{8}}")
    got = wait_for(lambda: len(notices(sink)) == 2 and notices(sink), 10, what="notice and postmaster copy")
    by_to = {m["rcpts"][0]: (m, p) for m, p in got}
    env, copy = by_to["postmaster@mx.postern.test"]
    assert env["sender"] == "double-bounce@mx.postern.test"
    assert copy["Subject"] == "Postmaster Copy: Undelivered Mail"
    assert report(copy)[3].get_content_type() == "text/rfc822-headers"
    assert by_to[SENDER][1]["Subject"] == "Undelivered Mail Returned to Sender"


def test_notify_success_gives_a_relayed_notice(dsn, sink):
    dsn.start()
    msg = send(dsn, f"u@x.test;{NOTIFY_SUCCESS}", "v@x.test")
    dsn.wait_log(rf"{msg.msgid_text}: sender delivery status notification: \w{{8}}")
    (_, parsed), = wait_for(lambda: notices(sink), 10, what="the success notice")
    assert parsed["Subject"] == "Successful Mail Delivery Report"
    text, _, rcpts, original = report(parsed)
    assert "successfully delivered" in text
    (r,) = rcpts  # v@ did not ask
    # aiosmtpd does not offer DSN, so the smtp client relayed it without passing NOTIFY on.
    assert (r["Final-Recipient"], r["Action"], r["Status"]) == ("rfc822; u@x.test", "relayed", "2.0.0")
    assert original.get_content_type() == "text/rfc822-headers"
    wait_empty(dsn)


def test_without_the_bounce_service_bounced_recipients_wait(instance, sink):
    sink.rules["bad@"] = "550 5.1.1 no such user"
    instance.set(**{**FAST, "default_transport": "smtp", "relay_domains": "", "maximal_backoff_time": "1s",
                    "relayhost": f"[127.0.0.1]:{sink.port}"})
    instance.add_service("qmgr unix n - n 300 1 qmgr")
    instance.add_service("smtp unix - - n - - smtp")
    instance.start()
    msg = send(instance, "bad@x.test")
    instance.wait_log(rf"{msg.msgid_text}: non-delivery notification not sent, bounce service: connect to")
    env = wait_for(lambda: [e for e in envelopes(instance) if e["state"] == "deferred"], what="a waiting envelope")
    assert "550 5.1.1 no such user" in env[0]["error"]
    instance.add_service("bounce unix - - n - 0 bounce")
    instance.reload()
    trigger(instance)
    instance.wait_log(rf"{msg.msgid_text}: sender non-delivery notification: \w{{8}}", timeout=15)
    wait_for(lambda: notices(sink), 10, what="the notice once bounce runs")
    wait_empty(instance)
