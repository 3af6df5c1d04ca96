# tests/system/test_canonical.py — cleanup as the one way into the queue
# (issue 17): canonical maps, masquerading, virtual aliases and their classes
# applied to what smtpd, sendmail/pickup, local's forwarding and bounce
# enqueue, and smtp_generic_maps on what the smtp client sends; each seen at
# a real SMTP peer on 127.0.0.2.
import re

import pytest

from conftest import free_port, wait_for
from qmgr_helpers import FAST, wait_empty
from test_cleanup import relay_host
from test_local import Mda
from test_sendmail import USER, sendmail, with_submit
from test_smtp_client import Scripted
from test_smtpd import start_smtpd


@pytest.fixture
def mx():
    """The next hop: a real SMTP peer on 127.0.0.2 that records what it gets."""
    peer = Scripted(host="127.0.0.2", extensions=("PIPELINING", "8BITMIME", "DSN"))
    yield peer
    peer.stop()


def header_block(body):
    return body.split(b"\r\n\r\n", 1)[0].decode()


def mail_from(mx):
    return [l for l in mx.lines if l.startswith("MAIL FROM:")]


def rcpt_to(mx):
    return sorted(l.split()[1] for l in mx.lines if l.startswith("RCPT TO:"))


def wait_bodies(mx, n=1):
    return wait_for(lambda: len(mx.bodies) >= n and mx.bodies, 60, what=f"{n} message(s) at the next hop")


REWRITING = {
    "recipient_delimiter": "+",
    "canonical_maps": "inline:{ { joe@client.test = joe.public@host.example.test } }",
    "recipient_canonical_maps": "inline:{ { old@remote.test = new@remote.test } }",
    "masquerade_domains": "example.test",
    "mynetworks": "127.0.0.0/8",
}
MESSAGE = (b"From: Joe <joe@client.test>\r\nTo: old@remote.test\r\nCc: ann@mx.example.test\r\n"
           b"Subject: canonical\r\n\r\nFrom: joe@client.test stays in the body\r\n")


def test_smtpd_mail_is_rewritten_by_canonical_and_masquerading(instance, mx):
    s = relay_host(instance, free_port(), relayhost=f"[127.0.0.2]:{mx.port}", **REWRITING)
    with s.smtp() as c:  # from 127.0.0.1: an interface address (local_header_rewrite_clients)
        c.sendmail("joe@client.test", ["old+tag@remote.test"], MESSAGE)
    [body] = wait_bodies(mx)
    # canonical_maps, then masquerading (envelope_sender is in masquerade_classes).
    assert mail_from(mx)[0].startswith("MAIL FROM:<joe.public@example.test>")
    # recipient_canonical_maps with the unmatched extension propagated;
    # envelope_recipient is not in masquerade_classes.
    [rcpt] = [l for l in mx.lines if l.startswith("RCPT TO:")]
    # The original recipient is what the client said (DSN ORCPT).
    assert rcpt == "RCPT TO:<new+tag@remote.test> ORCPT=rfc822;old+2Btag@remote.test", rcpt
    head = header_block(body)
    assert "From: Joe <joe.public@example.test>\r\n" in head, head
    assert "To: new@remote.test\r\n" in head, head
    assert "Cc: ann@example.test\r\n" in head, head  # header_recipient is masqueraded
    assert b"From: joe@client.test stays in the body" in body


def test_headers_from_a_remote_client_are_left_alone(instance, mx):
    s = relay_host(instance, free_port(), relayhost=f"[127.0.0.2]:{mx.port}", **REWRITING)
    with s.smtp(source="127.0.0.2") as c:  # no interface address of this host
        c.sendmail("joe@client.test", ["old@remote.test"], MESSAGE)
    [body] = wait_bodies(mx)
    assert mail_from(mx)[0].startswith("MAIL FROM:<joe.public@example.test>")  # the envelope is
    head = header_block(body)
    assert "From: Joe <joe@client.test>\r\n" in head and "Cc: ann@mx.example.test\r\n" in head, head


def test_a_rewriting_table_that_fails_defers_the_message_at_end_of_data(instance):
    # virtual_alias_domains (by default $virtual_alias_maps) would refuse the
    # RCPT already (451); cleanup's expansion at end of data is what fails here.
    s = start_smtpd(instance, virtual_alias_maps=f"lmdb:{instance.root}/missing", virtual_alias_domains="")
    c = s.raw()
    c.ehlo()
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<b@remote.test>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(b"Subject: x\r\n\r\nbody\r\n.\r\n")
    code, text = c.reply()
    assert code == 451 and "4.3.0 Error: queue file write error" in text, text
    instance.wait_log(r"virtual_alias_maps: .*missing.*: message not accepted, try again later")
    assert s.queue() == []


def test_sendmail_mail_through_pickup_gets_virtual_and_canonical(instance, mx):
    with_submit(instance, start=False, pickup=True)
    instance.set(**{**FAST, "default_transport": "smtp", "relayhost": f"[127.0.0.2]:{mx.port}",
                    "canonical_maps": f"inline:{{ {{ {USER} = chief@corp.test }} }}",
                    "virtual_alias_maps": "inline:{ { list@origin.test = a@far.test, b@far.test } }"})
    instance.add_service("qmgr unix n - n 300 1 qmgr")
    instance.add_service("bounce unix - - n - 0 bounce")
    instance.add_service("smtp unix - - n - - smtp")
    r = sendmail(instance, "list", data=b"Subject: through pickup\n\nhello\n")  # submit is down: maildrop
    assert r.returncode == 0, r.stderr
    assert list((instance.queue_dir / "maildrop").iterdir())
    instance.start()
    [body] = wait_bodies(mx)
    assert mail_from(mx)[0].startswith("MAIL FROM:<chief@corp.test>")
    assert rcpt_to(mx) == ["TO:<a@far.test>", "TO:<b@far.test>"]
    # sendmail's From: is a header_sender address too.
    assert re.search(r"\r\nFrom: [^\r]*<chief@corp\.test>\r\n", header_block(body)), body
    instance.wait_log(r"qmgr\[\d+\]: \w+: from=<chief@corp\.test>, .*nrcpt=2")
    wait_empty(instance, timeout=60)


def test_forwarded_mail_gets_virtual_and_canonical(instance, mx):
    mda = Mda(instance)
    instance.set(transport_maps=f"inline:{{ far.test=smtp:[127.0.0.2]:{mx.port} }}",
                 virtual_alias_maps="inline:{ { team@virt.test = x@far.test } }",
                 recipient_canonical_maps="inline:{ { old@far.test = new@far.test } }")
    instance.add_service("smtp unix - - n - - smtp")
    instance.add_service("bounce unix - - n - 0 bounce")
    mda.write_aliases("fwd: team@virt.test, old@far.test\n")
    mda.start()
    msgid = mda.send(["fwd@localhost"], b"Subject: forwarded\r\n\r\nbody\r\n")
    m = mda.wait(msgid, "team@virt.test", extra=", orig_to=<fwd@localhost>")
    newid = re.fullmatch(r"forwarded as ([0-9a-f]{8})", m.group(1)).group(1)
    wait_bodies(mx)
    # Both expansions happen only in the forwarded copy's cleanup.
    assert rcpt_to(mx) == ["TO:<new@far.test>", "TO:<x@far.test>"]
    instance.wait_log(rf"{newid}: to=<x@far\.test>, .*status=sent")


def test_bounce_notice_goes_through_canonical(instance, mx):
    mx.rules.update({"nobody@remote.test": "550 5.1.1 no such user"})
    s = relay_host(instance, free_port(),
                   transport_maps=f"inline:{{ remote.test=smtp:[127.0.0.2]:{mx.port}, "
                                  f"client.test=smtp:[127.0.0.2]:{mx.port} }}",
                   recipient_canonical_maps="inline:{ { joe@client.test = owner@client.test } }")
    with s.smtp() as c:
        c.sendmail("joe@client.test", ["nobody@remote.test"], b"Subject: to nobody\r\n\r\nbody\r\n")
    [notice] = wait_bodies(mx)
    assert "TO:<owner@client.test>" in rcpt_to(mx)
    head = header_block(notice)
    assert "To: owner@client.test\r\n" in head, head  # header_recipient too
    assert b"no such user" in notice


def test_smtp_generic_maps_rewrite_what_leaves(instance, mx):
    s = relay_host(instance, free_port(), relayhost=f"[127.0.0.2]:{mx.port}",
                   recipient_delimiter="+", propagate_unmatched_extensions="canonical, virtual, generic",
                   smtp_generic_maps="inline:{ { @box.internal = @public.test }, { out@far.test = in@far.test } }")
    with s.smtp() as c:
        c.sendmail("joe+x@box.internal", ["out@far.test"],
                   b"From: Joe <joe@box.internal>\r\nTo: out@far.test\r\nReply-To: ann@box.internal\r\n"
                   b"Subject: generic\r\n\r\nbody joe@box.internal\r\n")
    [body] = wait_bodies(mx)
    assert mail_from(mx)[0].startswith("MAIL FROM:<joe+x@public.test>")
    assert rcpt_to(mx) == ["TO:<in@far.test>"]
    head = header_block(body)
    assert "From: Joe <joe@public.test>\r\n" in head and "Reply-To: ann@public.test\r\n" in head, head
    assert "To: in@far.test\r\n" in head, head
    assert b"body joe@box.internal" in body
    # The queue keeps the addresses as received; only what leaves changes.
    instance.wait_log(r"from=<joe\+x@box\.internal>")
    instance.wait_log(r"to=<out@far\.test>, .*status=sent")
