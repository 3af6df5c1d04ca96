# tests/system/test_header_checks.py — header_checks(5) (issue 17): each action
# of header_checks, mime_header_checks, nested_header_checks and body_checks as
# smtpd's client, the queue and an aiosmtpd next hop see it; pickup's bounce of
# a rejected local submission; smtp_header_checks on the way out.
import re

from conftest import free_port, wait_for
from qmgr_helpers import envelopes, wait_empty
from test_sendmail import USER, sendmail
from test_smtp_client import Scripted, Sink
from test_smtpd import start_smtpd
from test_cleanup import pickup_host, relay_host

FROM, TO = "a@example.org", "b@remote.test"


def table(instance, name, rules):
    """A regexp: table file in the instance's config directory."""
    path = instance.config_dir / name
    path.write_text(rules)
    return f"regexp:{path}"


def data(s, body, sender=FROM, rcpts=(TO,)):
    """One transaction on a raw connection; the DATA reply."""
    c = s.raw()
    c.ehlo()
    assert c.cmd(f"MAIL FROM:<{sender}>")[0] == 250
    for r in rcpts:
        assert c.cmd(f"RCPT TO:<{r}>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(body + b".\r\n")
    reply = c.reply()
    c.close()
    return reply


def test_reject_answers_550_at_end_of_data_logs_as_postfix_and_queues_nothing(instance):
    s = start_smtpd(instance, header_checks=table(instance, "hc", "/^Subject: .*pills/ REJECT no pills here\n"))
    code, text = data(s, b"Subject: cheap pills\r\n\r\nbuy\r\n")
    assert (code, text) == (550, "5.7.1 no pills here")
    instance.wait_log(r"[0-9a-f]{8}: reject: header Subject: cheap pills from \S+\[127\.0\.0\.1\]; "
                      r"from=<a@example\.org> to=<b@remote\.test> proto=ESMTP helo=<client\.test>: "
                      r"5\.7\.1 no pills here$")
    assert s.queue() == []
    # Without text: Postfix's generic reason; with a 4.x.x status: a temporary refusal.
    instance.set(header_checks=table(instance, "hc", "/^Subject: plain/ REJECT\n/^Subject: later/ REJECT 4.7.1 try later\n"))
    instance.reload()
    assert data(s, b"Subject: plain\r\n\r\nx\r\n") == (550, "5.7.1 message content rejected")
    assert data(s, b"Subject: later\r\n\r\nx\r\n") == (451, "4.7.1 try later")
    assert s.queue() == []


def test_a_folded_header_is_matched_as_one_logical_header(instance):
    s = start_smtpd(instance, header_checks=table(instance, "hc", "/^Subject: first.*second/ REJECT folded\n"
                                                                  "/^[[:space:]]+second/ REJECT a line alone\n"))
    assert data(s, b"Subject: first\r\n second\r\n\r\nx\r\n") == (550, "5.7.1 folded")
    instance.wait_log(r"reject: header Subject: first\? second from ")
    assert data(s, b"Subject: first\r\n\r\nsecond\r\n")[0] == 250
    assert len(s.queue()) == 1


def test_discard_answers_250_and_queues_nothing(instance):
    s = start_smtpd(instance, body_checks=table(instance, "bc", "/^unsubscribe now/ DISCARD bulk\n"))
    code, text = data(s, b"Subject: hi\r\n\r\nhello\r\nunsubscribe now\r\n")
    assert code == 250 and text.startswith("2.0.0 Ok: queued as "), text
    instance.wait_log(r"discard: body unsubscribe now from \S+; from=<a@example\.org> to=<b@remote\.test> "
                      r"proto=ESMTP helo=<client\.test>: bulk")
    assert s.queue() == []


def test_hold_puts_the_message_on_hold(instance):
    instance.add_service("qmgr unix n - n 300 1 qmgr")  # it answers `postern show queue`
    s = start_smtpd(instance, header_checks=table(instance, "hc", "/^X-Suspect:/ HOLD look at it\n"))
    code, text = data(s, b"X-Suspect: yes\r\nSubject: s\r\n\r\nbody\r\n")
    assert code == 250, text
    msgid = text.split()[-1]
    [m] = s.queue()
    assert m["id"] == msgid and [r["state"] for r in m["recipients"]] == ["hold"]
    instance.wait_log(rf"{msgid}: hold: header X-Suspect: yes from .*: look at it")
    wait_for(lambda: (instance.queue_dir / "public" / "control").exists(), 10, what="the control socket")
    r = wait_for(lambda: (lambda r: r.returncode == 0 and r)(instance.postern("show", "queue")), 10,
                 what="postern show queue")
    lines = [l for l in r.stdout.splitlines() if l.startswith(msgid)]
    assert len(lines) == 1 and re.search(r"\|(\w+,)*hold(,\w+)*\|", lines[0]), (r.stdout, r.stderr)


def test_content_actions_reach_the_next_hop(instance):
    sink = Sink("127.0.0.2")
    port = free_port()
    try:
        s = relay_host(instance, port, relayhost=f"[127.0.0.2]:{sink.port}", header_checks=table(
            instance, "hc",
            "/^X-Internal:/ IGNORE\n"
            "/^Subject: (.*)draft(.*)/ REPLACE Subject: ${1}final${2}\n"
            "/^X-Mailer:/ PREPEND X-Seen-Mailer: yes\n"
            "/^Organization:/ WARN organisation header\n"),
            body_checks=table(instance, "bc", "/^secret: .*/ REPLACE secret: [removed]\n"))
        with s.smtp() as c:
            c.sendmail(FROM, [TO], b"X-Internal: one\r\n\tand its continuation\r\nSubject: a draft text\r\n"
                                   b"X-Mailer: m\r\nOrganization: o\r\n\r\nhello\r\nsecret: 1234\r\nbye\r\n")
        wait_for(lambda: sink.messages, 60, what="delivery to the sink")
        content = sink.messages[0]["content"]
        head, body = content.split(b"\r\n\r\n", 1)
        assert b"X-Internal" not in head and b"continuation" not in head
        assert b"\r\nSubject: a final text\r\n" in head
        assert b"\r\nX-Seen-Mailer: yes\r\nX-Mailer: m\r\n" in head
        assert b"\r\nOrganization: o" in head
        assert body == b"hello\r\nsecret: [removed]\r\nbye\r\n"
        instance.wait_log(r"warning: header Organization: o from \S+; from=<a@example\.org> to=<b@remote\.test> "
                          r"proto=ESMTP helo=<client\.test>: organisation header")
    finally:
        sink.stop()


def test_redirect_and_bcc_change_the_recipients(instance):
    sink = Sink("127.0.0.2")
    port = free_port()
    try:
        s = relay_host(instance, port, relayhost=f"[127.0.0.2]:{sink.port}", header_checks=table(
            instance, "hc", "/^Subject: redirect/ REDIRECT quarantine@remote.test\n"
                            "/^Subject: copy/ BCC archive@remote.test\n"))
        with s.smtp() as c:
            c.sendmail(FROM, ["one@remote.test", "two@remote.test"], b"Subject: redirect me\r\n\r\nx\r\n")
        wait_for(lambda: sink.messages, 60, what="the redirected message")
        assert sink.messages[0]["rcpts"] == ["quarantine@remote.test"]
        with s.smtp() as c:
            c.sendmail(FROM, ["one@remote.test"], b"Subject: copy me\r\n\r\nx\r\n")
        wait_for(lambda: len(sink.messages) == 2, 60, what="the copied message")
        assert sorted(sink.messages[1]["rcpts"]) == ["archive@remote.test", "one@remote.test"]
        instance.wait_log(r"redirect: header Subject: redirect me from .*: quarantine@remote\.test")
        instance.wait_log(r"bcc: header Subject: copy me from .*: archive@remote\.test")
    finally:
        sink.stop()


def test_a_redirect_does_not_end_inspection_and_the_last_one_wins(instance):
    # Postfix: only REJECT and DISCARD stop header_checks; a later HOLD still
    # holds, and of two REDIRECTs the second is where the message goes.
    s = start_smtpd(instance, header_checks=table(
        instance, "hc", "/^Subject:/ REDIRECT first@remote.test\n/^X-Route:/ REDIRECT second@remote.test\n"
                        "/^X-Hold:/ HOLD held\n"))
    assert data(s, b"Subject: a\r\nX-Route: b\r\nX-Hold: c\r\n\r\nx\r\n")[0] == 250
    instance.wait_log(r"hold: header X-Hold: c from .*: held")
    [q] = s.queue()
    assert q["rcpts"] == ["second@remote.test"]
    assert [e["state"] for e in envelopes(instance)] == ["hold"]


def test_body_checks_stop_at_body_checks_size_limit(instance):
    s = start_smtpd(instance, body_checks=table(instance, "bc", "/^forbidden/ REJECT\n"),
                    body_checks_size_limit=200)
    assert data(s, b"Subject: early\r\n\r\nforbidden\r\n") == (550, "5.7.1 message content rejected")
    late = b"Subject: late\r\n\r\n" + b"x" * 70 + b"\r\n" + b"y" * 70 + b"\r\n" + b"z" * 70 + b"\r\nforbidden\r\n"
    assert data(s, late)[0] == 250
    assert [m["body"].count(b"forbidden") for m in s.queue()] == [1]


MULTIPART = (b"Subject: with attachment\r\nMIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=\"sep\"\r\n\r\n"
             b"--sep\r\nContent-Type: text/plain\r\nX-Part-Note: plain part\r\n\r\nhello\r\n"
             b"--sep\r\nContent-Type: application/x-msdownload; name=\"a.exe\"\r\n"
             b"Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--sep--\r\n")


def test_mime_header_checks_see_the_part_headers_of_a_multipart_message(instance):
    s = start_smtpd(instance,
                    header_checks=table(instance, "hc", "/^X-Part-Note:/ REJECT header_checks saw a part header\n"),
                    mime_header_checks=table(instance, "mc",
                                             "/^Content-Type:.*x-msdownload/ REJECT 5.7.0 no executables\n"))
    assert data(s, MULTIPART) == (550, "5.7.0 no executables")
    instance.wait_log(r"reject: header Content-Type: application/x-msdownload; name=\"a\.exe\" from .*: "
                      r"5\.7\.0 no executables")
    # The same part headers in the primary header block are header_checks' own.
    assert data(s, b"X-Part-Note: top level\r\n\r\nx\r\n") == (550, "5.7.1 header_checks saw a part header")
    assert data(s, MULTIPART.replace(b"x-msdownload", b"pdf"))[0] == 250


def test_nested_header_checks_see_an_attached_message(instance):
    s = start_smtpd(instance, nested_header_checks=table(instance, "nc", "/^Subject: inner/ HOLD nested\n"))
    msg = (b"Subject: outer\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n"
           b"Subject: inner\r\nFrom: x@y.test\r\n\r\ninner body\r\n")
    assert data(s, msg)[0] == 250
    [m] = s.queue()
    assert [r["state"] for r in m["recipients"]] == ["hold"]
    instance.wait_log(r"hold: header Subject: inner from .*: nested")


def test_smtp_header_checks_rewrite_outbound_mail(instance):
    sink = Sink("127.0.0.2")
    port = free_port()
    try:
        s = relay_host(instance, port, relayhost=f"[127.0.0.2]:{sink.port}",
                       smtp_header_checks=table(instance, "shc", "/^X-Internal-Id:/ IGNORE\n"
                                                                 "/^Subject: (.*)/ REPLACE Subject: [ext] $1\n"),
                       smtp_body_checks=table(instance, "sbc", "/^internal host (.*)/ REPLACE internal host hidden\n"))
        with s.smtp() as c:
            c.sendmail(FROM, [TO], b"X-Internal-Id: 42\r\nSubject: report\r\n\r\ninternal host db1\r\nend\r\n")
        wait_for(lambda: sink.messages, 60, what="delivery to the sink")
        head, body = sink.messages[0]["content"].split(b"\r\n\r\n", 1)
        assert b"X-Internal-Id" not in head
        assert b"\r\nSubject: [ext] report" in head + b"\r\n"
        assert body == b"internal host hidden\r\nend\r\n"
        instance.wait_log(r"smtp\[\d+\]: [0-9a-f]{8}: replace: header Subject: report: Subject: \[ext\] report")
        instance.wait_log(r"status=sent")
    finally:
        sink.stop()


def test_pickup_bounces_a_rejected_local_submission_to_its_sender(instance):
    mx = Scripted(host="127.0.0.2")  # the sender's domain (myorigin) receives the notice
    try:
        pickup_host(instance, mx, header_checks=table(instance, "hc", "/^Subject: forbidden/ REJECT not from here\n"))
        r = sendmail(instance, "b@far.test", data=b"Subject: forbidden fruit\n\nbody\n")
        assert r.returncode == 0, r.stderr
        instance.start()
        instance.wait_log(r"reject: header Subject: forbidden fruit from local; from=<" + USER +
                          r"@origin\.test> to=<b@far\.test>: 5\.7\.1 not from here", timeout=30)
        instance.wait_log(r"pickup\[\d+\]: \w+: to=<b@far\.test>, relay=none, .*dsn=5\.7\.1, "
                          r"status=bounced \(not from here\)", timeout=30)
        wait_for(lambda: mx.bodies, 60, what="the notice at the sender's domain")
        assert b"not from here" in mx.bodies[0]
        wait_empty(instance, timeout=60)
    finally:
        mx.stop()
