# tests/system/test_cleanup.py — what cleanup does to mail on its way into the
# queue (issue 14): the hop count that ends a mail loop through the host's own
# smtpd, stray CR/LF/NUL that must never leave the host, header_size_limit,
# and the message-id= log line of every way in.
import re

from conftest import free_port, wait_for
from qmgr_helpers import FAST, wait_empty
from test_smtp_client import Scripted
from test_sendmail import headers, queue, sendmail, with_submit
from test_smtpd import DEFAULTS, Smtpd, _greets, start_smtpd


def relay_host(instance, port, **params):
    """smtpd on `port` with qmgr, bounce and the smtp client: the whole path
    from a client's DATA to the next hop."""
    instance.set(**{**FAST, **DEFAULTS, "default_transport": "smtp", "relay_domains": "", **params})
    instance.add_service(f"127.0.0.1:{port} inet n - n - - smtpd -o max_use=0")
    instance.add_service("qmgr unix n - n 300 1 qmgr")
    instance.add_service("bounce unix - - n - 0 bounce")
    instance.add_service("smtp unix - - n - - smtp")
    instance.start()
    wait_for(lambda: _greets(port), timeout=10, what="smtpd greeting")
    return Smtpd(instance, port)


def pickup_host(instance, mx, **params):
    """pickup from the maildrop with qmgr, bounce and the smtp client; mail for
    the sender's domain (myorigin, origin.test) goes to `mx`. Not started."""
    with_submit(instance, start=False, pickup=True)
    instance.set(**{**FAST, "default_transport": "smtp",
                    "transport_maps": f"inline:{{ origin.test=smtp:[127.0.0.2]:{mx.port} }}", **params})
    instance.add_service("qmgr unix n - n 300 1 qmgr")
    instance.add_service("bounce unix - - n - 0 bounce")
    instance.add_service("smtp unix - - n - - smtp")


def test_a_mail_loop_through_our_own_smtpd_bounces_at_hopcount_limit(instance):
    mx = Scripted(host="127.0.0.2")  # the sender's domain: receives the notice
    port = free_port()
    try:
        s = relay_host(instance, port, hopcount_limit=5,
                       transport_maps=f"inline:{{ loop.test=smtp:[127.0.0.1]:{port}, "
                                      f"sender.test=smtp:[127.0.0.2]:{mx.port} }}")
        with s.smtp() as c:
            c.sendmail("a@sender.test", ["x@loop.test"], b"Subject: round and round\r\n\r\nagain\r\n")
        instance.wait_log(r"to=<x@loop\.test>, .*status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: "
                          r"554 5\.4\.0 Error: too many hops", timeout=90)
        wait_for(lambda: mx.bodies, 60, what="the non-delivery notice at the sender's MX")
        notice = mx.bodies[0]
        assert b"too many hops" in notice and b"x@loop.test" in notice
        log = instance.log()
        # Our own Received: counts: the client's copy (1) and three loops (2..4)
        # are queued; the fourth loop would carry 5 and is refused.
        assert len(re.findall(r"smtp\[\d+\]: \w+: to=<x@loop\.test>, .*status=sent", log)) == 3
        assert len(re.findall(r"message rejected: hopcount exceeded", log)) == 1
        wait_empty(instance, timeout=60)
    finally:
        mx.stop()


def test_smuggling_endings_never_leave_with_a_bare_cr_lf_or_nul(instance):
    mx = Scripted(host="127.0.0.2")
    port = free_port()
    try:
        s = relay_host(instance, port, relayhost=f"[127.0.0.2]:{mx.port}")
        c = s.raw()
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
        assert c.cmd("RCPT TO:<b@remote.test>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        # The three endings other servers have been fooled by are content here.
        c.send(b"Subject: smuggle\r\n\r\none\r.\rMAIL FROM:<x@evil.test>\r\n"
               b"two\r.\r\nRCPT TO:<y@evil.test>\r\nthree\r\n\0.\r\nDATA\r\nend\r\n.\r\n")
        assert c.reply()[0] == 250
        wait_for(lambda: mx.bodies, 60, what="delivery to the next hop")
        wire = mx.bodies[0]
        assert b"\0" not in wire
        assert re.search(rb"\r(?!\n)", wire) is None, wire
        assert re.search(rb"(?<!\r)\n", wire) is None, wire
        assert b"one . MAIL FROM:<x@evil.test>\r\ntwo .\r\nRCPT TO:<y@evil.test>\r\nthree\r\n .\r\nDATA\r\n" in wire
        assert mx.lines.count("DATA") == 1 and not any("evil" in l for l in mx.lines)
        instance.wait_log(r"1 NUL character\(s\) in message content replaced with spaces")
        instance.wait_log(r"3 stray CR or LF character\(s\) in message content replaced with spaces")
    finally:
        mx.stop()


def test_a_megabyte_header_is_cut_at_header_size_limit(instance):
    s = start_smtpd(instance)  # no qmgr: the message stays in the queue to be read back
    c = s.raw()
    c.ehlo()
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd("RCPT TO:<b@remote.test>")
    assert c.cmd("DATA")[0] == 354
    c.send(b"X-Big: " + b"a" * (1 << 20) + b"\r\n folded too\r\nSubject: after\r\n\r\nbody\r\n.\r\n")
    code, text = c.reply()
    assert code == 250, text
    [m] = s.queue()
    body = m["body"]
    assert len(body) < 102400 + 1000
    assert re.search(rb"\r\nX-Big: a{102393}\r\nSubject: after\r\n\r\nbody\r\n$", body), body[-200:]
    instance.wait_log(r"message header length exceeds safety limit: 1 header\(s\) cut at header_size_limit 102400")


def test_pickup_returns_a_looping_message_to_its_sender(instance):
    from test_sendmail import USER, sendmail
    mx = Scripted(host="127.0.0.2")  # the sender's domain (myorigin) receives the notice
    try:
        pickup_host(instance, mx, hopcount_limit=3)
        # Two Received: headers and the one pickup adds reach hopcount_limit 3.
        r = sendmail(instance, "b@far.test", data=b"Received: from a\nReceived: from b\nSubject: loop\n\nagain\n")
        assert r.returncode == 0, r.stderr
        [dropped] = list((instance.queue_dir / "maildrop").iterdir())
        instance.start()
        # Postfix's log_adhoc shape: no queue manager, so all of it is delays=a.
        instance.wait_log(r"pickup\[\d+\]: \w+: to=<b@far\.test>, relay=none, delay=(\d+), delays=\1/0/0/0, "
                          r"dsn=5\.4\.0, status=bounced \(too many hops\)", timeout=30)
        wait_for(lambda: mx.bodies, 60, what="the notice at the sender's domain")
        assert b"too many hops" in mx.bodies[0]
        assert not dropped.exists()
        assert any(l.startswith(f"RCPT TO:<{USER}@origin.test>") for l in mx.lines)
        wait_empty(instance, timeout=60)
    finally:
        mx.stop()


# --- the message-id= line admins grep for (issue 19) --------------------------

def test_smtpd_logs_the_message_id_of_each_queued_message(instance):
    s = start_smtpd(instance)
    with s.smtp() as c:
        c.sendmail("a@example.org", ["b@example.org"],
                   b"Message-ID:\r\n <folded.1@client.test>\r\nSubject: one\r\n\r\nbody\r\n")
        c.sendmail("a@example.org", ["b@example.org"], b"Subject: no id\r\n\r\nMessage-ID: <in@body>\r\n")
    first = instance.wait_log(r"smtpd\[\d+\]: (\w{8}): message-id=<folded\.1@client\.test>$")
    second = instance.wait_log(r"smtpd\[\d+\]: (\w{8}): message-id=<>$")
    assert first.group(1) != second.group(1)
    # Postfix's order: client= first, then cleanup's message-id=.
    log = instance.log()
    assert log.index(f"{first.group(1)}: client=") < log.index(f"{first.group(1)}: message-id=")


def test_sendmail_and_pickup_log_the_message_id(instance):
    with_submit(instance, start=False, pickup=True)
    # Down: the maildrop, queued by pickup once the system starts.
    r = sendmail(instance, "-t", data=b"To: a@x.test\nMessage-ID: <dropped.2@x.test>\nSubject: later\n\nx\n")
    assert r.returncode == 0, r.stderr
    instance.start()
    instance.wait_log(r"pickup\[\d+\]: \w{8}: message-id=<dropped\.2@x\.test>$", timeout=10)
    wait_for((instance.queue_dir / "public" / "submit").exists, timeout=10, what="public/submit")
    # Up: local submission through the submit service; cleanup adds the header
    # as Postfix's does: <YYYYMMDDhhmmss.QUEUEID@$myhostname>.
    mark = instance.log_mark()
    r = sendmail(instance, "a@x.test", data=b"Subject: now\n\nx\n")
    assert r.returncode == 0, r.stderr
    m = instance.wait_log(r"smtpd\[\d+\]: (\w{8}): message-id=<(\d{14}\.(\w{8})@mx\.postern\.test)>$", since=mark,
                          timeout=10)
    assert m.group(3) == m.group(1)
    [q] = [q for q in queue(instance) if q["id"] == m.group(1)]
    assert b"Subject: now" in q["body"] and f"Message-Id: <{m.group(2)}>".encode() in q["body"]


def test_pickup_adds_message_id_and_date_to_dropped_mail(instance):
    with_submit(instance, start=False, pickup=True)
    r = sendmail(instance, "a@x.test", data=b"Subject: dropped\n\nx\n")
    assert r.returncode == 0, r.stderr
    instance.start()
    m = instance.wait_log(r"pickup\[\d+\]: (\w{8}): message-id=<\d{14}\.(\w{8})@mx\.postern\.test>$", timeout=10)
    assert m.group(1) == m.group(2)
    # pickup logs message-id= as it writes the message, before the commit.
    [q] = wait_for(lambda: [q for q in queue(instance) if q["id"] == m.group(1)], timeout=10, what="queued message")
    names = [n for n, _ in headers(q["body"])]
    assert names.count("Message-Id") == names.count("Date") == names.count("From") == 1, names


def test_smtp_mail_gets_missing_headers_only_with_always_add_missing_headers(instance):
    s = start_smtpd(instance)
    with s.smtp() as c:
        c.sendmail("a@example.org", ["b@example.org"], b"Subject: bare\r\n\r\nbody\r\n")
    first = instance.wait_log(r"smtpd\[\d+\]: (\w{8}): message-id=<>$")
    [q] = [q for q in queue(instance) if q["id"] == first.group(1)]
    assert [n for n, _ in headers(q["body"])] == ["Received", "Subject"]
    instance.set(always_add_missing_headers="yes")
    instance.reload()
    mark = instance.log_mark()
    wait_for(lambda: _greets(s.port), timeout=10, what="smtpd greeting")
    with s.smtp() as c:
        c.sendmail("a@example.org", ["b@example.org"], b"Subject: bare\r\nFrom: Me <a@example.org>\r\n\r\nbody\r\n")
    m = instance.wait_log(r"smtpd\[\d+\]: (\w{8}): message-id=<(\d{14}\.(\w{8})@mx\.postern\.test)>$", since=mark,
                          timeout=20)
    assert m.group(1) == m.group(3)
    [q] = [q for q in queue(instance) if q["id"] == m.group(1)]
    h = headers(q["body"])
    assert [n for n, _ in h] == ["Received", "Subject", "From", "Message-Id", "Date"], h
    assert ("Message-Id", f"<{m.group(2)}>") in h and ("From", "Me <a@example.org>") in h
