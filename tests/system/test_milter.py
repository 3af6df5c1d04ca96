# tests/system/test_milter.py — smtpd_milters and non_smtpd_milters end to
# end: a scripted milter (milter_peer.py) that records what smtpd sends and
# answers as each test says (edits, rejects, quarantine, discard, and the bad
# ones: hang, garbage, close), then the real OpenDKIM and rspamd.
import os
import re
import smtplib
import threading
import time

import pytest

from conftest import wait_for
from dkim_helpers import OpenDkim, signing_key, wait_port
from qmgr_helpers import envelopes
from milter_peer import (ACCEPT, BODY, CONNECT, CONTINUE, DATA, DISCARD, EOB, EOH, HEADER, HELO, MAIL, RCPT,
                         REJECT, TEMPFAIL, UNKNOWN, Milter, add_header, add_rcpt, chg_from, chg_header, del_rcpt,
                         ins_header, quarantine, repl_body, replycode)
from test_header_checks import table
from test_sendmail import sendmail, with_submit
from test_smtpd import start_smtpd

MSG = "From: a@example.org\r\nTo: alice@localhost\r\nSubject: milter test\r\n\r\nhello milter\r\n"


@pytest.fixture
def milters():
    started = []

    def make(*args, **kw):
        m = Milter(*args, **kw)
        started.append(m)
        return m
    yield make
    for m in started:
        m.stop()


def smtpd_with(instance, *ms, **params):
    return start_smtpd(instance, smtpd_milters=", ".join(m.name for m in ms), **params)


def send(s, rcpts=("alice@localhost",), msg=MSG, sender="a@example.org"):
    """(code, text) of DATA's answer (or of the first refused command)."""
    with s.smtp() as c:
        c.ehlo("client.test")
        code, text = c.mail(sender)
        if code != 250:
            return code, text.decode()
        for r in rcpts:
            code, text = c.rcpt(r)
            if code != 250:
                return code, text.decode()
        try:
            code, text = c.data(msg)
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error.decode()
        return code, text.decode()


def queued_id(text):
    return text.split("queued as ")[1]


# --- what milters are told ---------------------------------------------------

def test_milter_sees_every_stage_with_postfix_macros(instance, milters):
    m = milters({EOB: [add_header("X-Milter", "seen by the test milter"), CONTINUE]})
    s = smtpd_with(instance, m)
    code, text = send(s)
    assert code == 250, text
    c = m.seen(CONNECT)[-1]  # start_smtpd's probes connected too
    assert c.startswith((b"[127.0.0.1]\x004", b"localhost\x004")) and c.endswith(b"127.0.0.1\0"), c
    assert m.seen(HELO) == [b"client.test\0"]
    assert m.seen(MAIL) == [b"<a@example.org>\0"]
    assert m.seen(RCPT) == [b"<alice@localhost>\0"]
    headers = [h.split(b"\0")[0] for h in m.seen(HEADER)]
    assert headers == [b"Received", b"From", b"To", b"Subject"]  # our own Received: first, as Postfix
    assert b"".join(m.seen(BODY)) == b"hello milter\r\n"
    assert len(m.seen(EOH)) == 1 and len(m.seen(EOB)) == 1
    qid = queued_id(text)
    assert m.macros["i"] == qid
    assert m.macros["j"] == "mx.postern.test" and m.macros["{daemon_name}"] == "mx.postern.test"
    assert m.macros["v"].startswith("postern ")
    assert m.macros["{mail_addr}"] == "a@example.org" and m.macros["{mail_mailer}"] == "smtp"
    assert m.macros["{rcpt_addr}"] == "alice@localhost" and m.macros["{rcpt_mailer}"] == "local"
    assert m.macros["{rcpt_host}"] == "mx.postern.test"
    assert m.macros["{daemon_addr}"] == "127.0.0.1" and m.macros["_"].endswith(" [127.0.0.1]")
    [q] = s.queue()
    assert q["id"] == qid
    assert b"\r\nX-Milter: seen by the test milter\r\n\r\nhello milter\r\n" in q["body"]


def test_a_milter_on_a_unix_socket(instance, milters):
    m = milters({EOB: [add_header("X-Unix-Milter", "yes"), CONTINUE]}, path=instance.root / "milter.sock")
    os.chmod(instance.root / "milter.sock", 0o666)  # smtpd runs as mail_owner when the test is root
    s = smtpd_with(instance, m)
    assert send(s)[0] == 250
    [q] = s.queue()
    assert b"X-Unix-Milter: yes\r\n" in q["body"]


def test_events_go_through_milters_in_order_and_each_sees_the_edits_before_it(instance, milters):
    first = milters({EOB: [add_header("X-First", "1"), CONTINUE]})
    second = milters({EOB: [add_header("X-Second", "2"), CONTINUE]})
    s = smtpd_with(instance, first, second)
    assert send(s)[0] == 250
    assert b"X-First" not in b"".join(first.seen(HEADER))
    assert any(h.startswith(b"X-First\0") for h in second.seen(HEADER))
    [q] = s.queue()
    assert b"X-First: 1\r\nX-Second: 2\r\n\r\n" in q["body"]


# --- their answers ------------------------------------------------------------

def test_rcpt_refused_with_the_milters_reply_and_logged_as_postfix(instance, milters):
    m = milters({RCPT: [replycode("550 5.7.1 No mail for you")]})
    s = smtpd_with(instance, m)
    c = s.raw()
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<alice@localhost>") == (550, "5.7.1 No mail for you")
    instance.wait_log(r"NOQUEUE: milter-reject: RCPT from \S+\[127\.0\.0\.1\]: 550 5\.7\.1 No mail for you; "
                      r"from=<a@example\.org> to=<alice@localhost> proto=ESMTP helo=<client\.test>")
    assert c.cmd("DATA")[0] == 554  # no valid recipients


def test_reject_at_end_of_message_keeps_nothing(instance, milters):
    m = milters({EOB: [REJECT]})
    s = smtpd_with(instance, m)
    assert send(s) == (550, "5.7.1 Command rejected")
    instance.wait_log(r"[0-9a-f]{8}: milter-reject: END-OF-MESSAGE from .*: 550 5\.7\.1 Command rejected;")
    assert s.queue() == []


def test_reject_at_end_of_message_is_kept_with_smtpd_save_rejected(instance, milters):
    m = milters({EOB: [REJECT]})
    s = smtpd_with(instance, m, smtpd_save_rejected="yes")
    assert send(s) == (550, "5.7.1 Command rejected")
    instance.wait_log(r"[0-9a-f]{8}: quarantine: saved as Q[0-9a-f]{8} \(550 5\.7\.1 Command rejected\)")
    r = instance.postern("show", "quarantine")
    [line] = r.stdout.splitlines()
    assert line.endswith("|a@example.org|alice@localhost|550 5.7.1 Command rejected"), line
    assert s.queue() == []


def test_tempfail_at_mail_and_a_reject_at_helo_for_the_whole_connection(instance, milters):
    m = milters({MAIL: lambda d: [TEMPFAIL] if b"later" in d else [CONTINUE],
                 HELO: lambda d: [replycode("554 5.7.1 Bad HELO")] if d.startswith(b"bad") else [CONTINUE]})
    s = smtpd_with(instance, m)
    c = s.raw()
    assert c.cmd("HELO good.example")[0] == 250
    assert c.cmd("MAIL FROM:<later@example.org>") == (451, "4.7.1 Service unavailable - try again later")
    assert c.cmd("RSET")[0] == 250
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    # A reject at HELO is one for the connection, as in Postfix: it answers what follows.
    bad = s.raw()
    assert bad.cmd("HELO bad.example") == (554, "5.7.1 Bad HELO")
    assert bad.cmd("HELO good.example") == (554, "5.7.1 Bad HELO")
    assert bad.cmd("MAIL FROM:<a@example.org>") == (554, "5.7.1 Bad HELO")


def test_end_of_message_edits_change_headers_body_sender_and_recipients(instance, milters):
    m = milters({EOB: [chg_header(1, "Subject", "changed"), ins_header(0, "X-Top", "first"),
                       chg_header(1, "To", ""), add_rcpt("<bob@localhost>"), del_rcpt("<alice@localhost>"),
                       chg_from("<bounces@example.org>"), repl_body(b"replaced\r\nbody\r\n"), CONTINUE]})
    s = smtpd_with(instance, m)
    assert send(s)[0] == 250
    [q] = s.queue()
    body = q["body"]
    assert body.startswith(b"X-Top: first\r\nReceived: ")
    assert b"\r\nSubject: changed\r\n\r\nreplaced\r\nbody\r\n" in body
    assert b"\r\nTo:" not in body and b"hello milter" not in body
    assert q["rcpts"] == ["bob@localhost"]
    assert q["sender"] == "bounces@example.org"


def test_quarantine_puts_the_message_on_hold(instance, milters):
    m = milters({EOB: [quarantine("looks odd"), CONTINUE]})
    s = smtpd_with(instance, m)
    code, text = send(s)
    assert code == 250
    instance.wait_log(rf"{queued_id(text)}: milter-hold: END-OF-MESSAGE from .*: milter triggers HOLD action;")
    assert [e["state"] for e in envelopes(instance)] == ["hold"]


def test_discard_claims_delivery_and_keeps_nothing(instance, milters):
    m = milters({RCPT: [DISCARD]})
    s = smtpd_with(instance, m)
    code, text = send(s)
    assert code == 250 and "queued as" in text
    instance.wait_log(r"milter-discard: RCPT from .*: milter triggers DISCARD action;")
    assert s.queue() == []


# --- milters with header_checks and access actions: one envelope ------------

def test_milters_see_the_checked_message_and_every_recipient_change_settles_at_commit(instance, milters):
    m = milters({EOB: [add_rcpt("<bob@localhost>"), del_rcpt("<alice@localhost>"), CONTINUE]})
    hc = table(instance, "hc", "/^X-Secret:/ IGNORE\n/^Subject: milter test/ BCC audit@localhost\n"
                                      "/^From:/ HOLD look\n")
    s = smtpd_with(instance, m, header_checks=hc)
    code, text = send(s, msg="X-Secret: 42\r\n" + MSG)
    assert code == 250
    instance.wait_log(rf"{queued_id(text)}: hold: header From: ")
    assert not any(b"X-Secret" in h for h in m.seen(HEADER))  # IGNOREd before the milters
    [q] = s.queue()
    # the milter's delete and add, then header_checks' BCC; once each
    assert sorted(q["rcpts"]) == ["audit@localhost", "bob@localhost"]
    assert [e["state"] for e in envelopes(instance)] == ["hold", "hold"]


def test_milter_envelope_edits_go_through_cleanup_rewriting(instance, milters):
    # Postfix's cleanup: a milter's new sender gets sender_canonical_maps, an
    # added recipient canonical and virtual alias mapping; a deletion names
    # the recipient as the client sent it (here an alias cleanup expanded).
    m = milters({EOB: [chg_from("<old@example.org>"), add_rcpt("<team@localhost>"),
                       del_rcpt("<list@localhost>"), CONTINUE]})
    s = smtpd_with(instance, m, sender_canonical_maps="inline:{ { old@example.org = new@example.org } }",
                   virtual_alias_maps="inline:{ { team@localhost = bob@localhost }, "
                                      "{ list@localhost = carol@localhost } }")
    assert send(s, rcpts=("alice@localhost", "list@localhost"))[0] == 250
    [q] = s.queue()
    assert q["sender"] == "new@example.org"
    assert sorted(q["rcpts"]) == ["alice@localhost", "bob@localhost"]


def test_a_message_the_checks_reject_never_reaches_the_milters(instance, milters):
    m = milters({EOB: [add_rcpt("<bob@localhost>"), CONTINUE]})
    s = smtpd_with(instance, m, header_checks=table(instance, "hc", "/^Subject: milter/ REJECT no milters\n"))
    assert send(s) == (550, "5.7.1 no milters")
    instance.wait_log(r"reject: header Subject: milter test")
    assert m.seen(EOB) == [] and m.seen(HEADER) == []
    assert s.queue() == []


def test_accept_at_connect_ends_the_milters_part(instance, milters):
    m = milters({CONNECT: [ACCEPT]})
    s = smtpd_with(instance, m)
    assert send(s)[0] == 250
    assert m.seen(HELO) == [] and m.seen(EOB) == []


def test_unknown_command_goes_to_the_milter(instance, milters):
    m = milters({UNKNOWN: [replycode("500 5.5.1 Not here either")]})
    s = smtpd_with(instance, m, milter_unknown_command_macros="j")
    c = s.raw()
    assert c.cmd("FROBNICATE now") == (500, "5.5.1 Not here either")
    assert m.seen(UNKNOWN) == [b"FROBNICATE now\0"]


def test_no_reply_and_skip_flags_are_honoured(instance, milters):
    from milter_peer import NO_REPLY_BITS, SKIP, packet
    # No replies for headers; SMFIR_SKIP after the first body chunk.
    m = milters({BODY: [packet("s")]}, protocol=NO_REPLY_BITS[HEADER] | SKIP)
    s = smtpd_with(instance, m)
    big = MSG + "x" * 70000 + "\r\n" + "y" * 70000 + "\r\n"
    assert send(s, msg=big)[0] == 250
    assert len(m.seen(BODY)) == 1  # the rest was skipped
    assert len(m.seen(HEADER)) == 4


def test_many_headers_to_a_milter_that_does_not_answer_them(instance, milters):
    from milter_peer import NO_REPLY_BITS
    m = milters({EOB: [add_header("X-Counted", "yes"), CONTINUE]}, protocol=NO_REPLY_BITS[HEADER])
    s = smtpd_with(instance, m)
    many = "".join(f"X-H{i}: v\r\n" for i in range(60000))  # each answered at once, none by the milter
    assert send(s, msg=many + MSG)[0] == 250
    assert len(m.seen(HEADER)) == 60000 + 4
    [q] = s.queue()
    assert b"X-Counted: yes\r\n\r\nhello milter" in q["body"]


# --- milters that misbehave ---------------------------------------------------

def test_a_hanging_milter_times_out_into_the_default_action(instance, milters):
    m = milters({CONNECT: "hang"})
    s = smtpd_with(instance, m, milter_command_timeout="2s")
    c = s.raw()  # the greeting comes once the milter timed out
    assert c.greeting[0] == 220
    instance.wait_log(rf"warning: milter {m.name}: can't read SMFIC_CONNECT reply packet header: "
                      r"Connection timed out")
    assert c.cmd("EHLO client.test")[0] == 451  # milter_default_action = tempfail
    assert c.cmd("MAIL FROM:<a@example.org>") == (451, "4.7.1 Service unavailable - try again later")


def test_a_slow_milter_does_not_stall_other_sessions(instance, milters):
    release = threading.Event()

    def eoh(_):
        slow = any(b"slow" in h for h in m.seen(HEADER)[-4:])
        if slow:
            release.wait(60)
        return [CONTINUE]
    m = milters({EOH: eoh})
    s = smtpd_with(instance, m)
    results = {}
    t = threading.Thread(target=lambda: results.update(slow=send(s, msg=MSG.replace("milter test", "slow"))))
    t.start()
    wait_for(lambda: any(b"slow" in h for h in m.seen(HEADER)), timeout=20, what="the slow message at the milter")
    assert send(s)[0] == 250  # the same smtpd process answers meanwhile
    assert t.is_alive()
    release.set()
    t.join(30)
    assert results["slow"][0] == 250
    assert len(s.queue()) == 2


@pytest.mark.parametrize("action,reply", [("tempfail", (451, "4.7.1 Service unavailable - try again later")),
                                          ("reject", (550, "5.5.0 Service unavailable"))])
def test_garbage_from_a_milter_is_its_default_action(instance, milters, action, reply):
    m = milters({RCPT: "garbage"})
    s = smtpd_with(instance, m, milter_default_action=action)
    assert send(s) == reply
    instance.wait_log(rf"warning: milter {m.name}: unreasonable packet length")
    assert s.queue() == []


def test_a_milter_that_closes_mid_message_under_accept_loses_nothing(instance, milters):
    m = milters({EOB: "close"})
    s = smtpd_with(instance, m, milter_default_action="accept")
    code, text = send(s)
    assert code == 250, text
    instance.wait_log(rf"warning: milter {m.name}: can't read SMFIC_BODYEOB reply packet header: end of file")
    [q] = s.queue()
    assert b"hello milter" in q["body"]
    assert send(s)[0] == 250  # the next message: the milter is reconnected with the next session


def test_unreachable_milter_with_per_milter_quarantine(instance, milters):
    dead = milters()
    dead.stop()  # nothing listens there any more
    s = start_smtpd(instance, smtpd_milters=f"{{ {dead.name}, default_action=quarantine, connect_timeout=5s }}")
    code, text = send(s)
    assert code == 250
    instance.wait_log(rf"warning: connect to Milter service {dead.name}: Connection refused")
    instance.wait_log(r"milter-hold: MAIL from .*: milter triggers HOLD action;")
    assert [e["state"] for e in envelopes(instance)] == ["hold"]


# --- non_smtpd_milters: local submission --------------------------------------

def test_sendmail_submissions_go_to_non_smtpd_milters(instance, milters):
    local = milters({EOB: [add_header("X-Local-Milter", "yes"), CONTINUE]})
    remote = milters({CONNECT: [REJECT]})
    for k, v in {"mydestination": "localhost", "alias_maps": "", "local_recipient_maps": "",
                 "smtpd_milters": remote.name, "non_smtpd_milters": local.name}.items():
        instance.set(**{k: v})
    with_submit(instance)
    r = sendmail(instance, "alice@localhost", data=b"Subject: local\n\nhi\n")
    assert r.returncode == 0, r.stderr
    msgs = wait_for(lambda: instance.queue_messages(), timeout=10, what="the queued message")
    assert b"X-Local-Milter: yes" in msgs[0]["body"]
    assert remote.connections == 0
    assert local.seen(CONNECT)[0].startswith(b"localhost\x004")


# --- OpenDKIM -------------------------------------------------------------------

@pytest.fixture
def dkim(instance):
    d = instance.root / "dkim"
    key, keys = signing_key(d, ["example.org"])
    signer = OpenDkim(d, "signer", Mode="s", Domain="example.org", Selector="sel", KeyFile=str(key))
    verifier = OpenDkim(d, "verifier", Mode="v", TestPublicKeys=str(keys), AuthservID="verifier.test")
    yield signer, verifier
    signer.stop()
    verifier.stop()


def test_opendkim_signs_and_a_verifying_opendkim_passes_the_signature(instance, dkim):
    from conftest import free_port
    signer, verifier = dkim
    inbound = free_port()
    instance.add_service(f"127.0.0.1:{inbound} inet n - n - - smtpd -o smtpd_milters={verifier.name}")
    s = start_smtpd(instance, smtpd_milters=signer.name)
    body = ("From: Alice <alice@example.org>\r\nTo: bob@localhost\r\nSubject: signed by opendkim\r\n"
            "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <dkim-test@example.org>\r\n\r\n"
            "A body that DKIM covers.\r\nSecond line.\r\n")
    code, text = send(s, rcpts=("bob@localhost",), msg=body, sender="alice@example.org")
    assert code == 250, text
    [signed] = s.queue()
    assert b"DKIM-Signature: v=1; a=rsa-sha256;" in signed["body"]
    assert b"d=example.org; s=sel" in signed["body"]
    outbound = signed["body"]  # as the next hop gets it, our Received: included
    for content in (outbound, outbound.replace(b"Second line.", b"Second lime.")):
        with smtplib.SMTP("127.0.0.1", inbound, local_hostname="mx.example.org", timeout=30) as c:
            c.sendmail("alice@example.org", ["bob@localhost"], content)
    verified = {b"Second lime." in m["body"]: m["body"] for m in s.queue() if m["id"] != signed["id"]}
    assert len(verified) == 2
    # smtpd folds no header itself: opendkim's Authentication-Results as it sent it, CRLF-folded.
    assert re.search(rb"(?:^|\r\n)Authentication-Results: verifier\.test;\r\n\tdkim=pass [^\r]*header\.d=example\.org",
                     verified[False]), verified[False][:800]
    assert re.search(rb"(?:^|\r\n)Authentication-Results: verifier\.test;\r\n\tdkim=fail", verified[True]), \
        verified[True][:800]


# --- rspamd ---------------------------------------------------------------------

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
RSPAMD_CONF = """.include "$CONFDIR/common.conf"
options {{
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    dns {{ nameserver = ["127.0.0.1:{dns}"]; timeout = 1s; retransmits = 1; }}
}}
logging {{ type = "file"; filename = "$LOGDIR/rspamd.log"; level = "notice"; }}
worker "rspamd_proxy" {{
    bind_socket = "127.0.0.1:{port}";
    milter = yes;
    timeout = 120s;
    upstream "local" {{ default = yes; self_scan = yes; }}
    count = 1;
    reject_message = "Spam message rejected";
}}
"""


@pytest.fixture(scope="module")
def rspamd(tmp_path_factory):
    """Debian's rspamd, its milter proxy worker scanning itself, private to this module."""
    import shutil
    import subprocess
    from conftest import free_port
    if not shutil.which("rspamd"):
        pytest.skip("rspamd is not installed (scripts/install-deps installs it)")
    d = tmp_path_factory.mktemp("rspamd")
    for sub in ("db", "run", "log", "local/local.d"):
        (d / sub).mkdir(parents=True)
    # Its headers for every client, loopback ones included.
    (d / "local/local.d/milter_headers.conf").write_text(
        'use = ["x-spamd-result", "x-rspamd-queue-id"];\nskip_local = false;\nskip_authenticated = false;\n')
    port = free_port()
    (d / "rspamd.conf").write_text(RSPAMD_CONF.format(port=port, dns=free_port()))
    user = [] if os.geteuid() != 0 else ["-i"]  # root: rspamd wants -i to keep its workers as root
    proc = subprocess.Popen(["rspamd", "-f", *user, "-c", str(d / "rspamd.conf"), f"--var=DBDIR={d}/db",
                             f"--var=RUNDIR={d}/run", f"--var=LOGDIR={d}/log", f"--var=LOCAL_CONFDIR={d}/local"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # Loading its rules takes rspamd tens of seconds on a busy machine.
        wait_port(port, proc, "rspamd's proxy worker", timeout=240)
    except AssertionError as e:
        proc.kill()
        pytest.skip(f"rspamd did not start within 240s here: {e}")
    yield f"inet:127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_rspamd_adds_its_headers_and_refuses_gtube(instance, rspamd):
    s = start_smtpd(instance, smtpd_milters=rspamd, milter_content_timeout="120s")
    code, text = send(s, msg="From: a@example.org\r\nTo: alice@localhost\r\nSubject: ham\r\n"
                             "Message-ID: <ham@example.org>\r\n\r\nJust a normal message.\r\n")
    assert code == 250, text
    [q] = s.queue()
    assert b"\r\nX-Spamd-Result: default: False [" in q["body"], q["body"][:800]
    assert f"\r\nX-Rspamd-Queue-Id: {queued_id(text)}\r\n".encode() in q["body"]
    code, text = send(s, msg=f"From: a@example.org\r\nTo: alice@localhost\r\nSubject: spam\r\n\r\n{GTUBE}\r\n")
    assert (code, text) == (554, "5.7.1 Gtube pattern")  # rspamd's own reply for its GTUBE rule
    instance.wait_log(r"[0-9a-f]{8}: milter-reject: END-OF-MESSAGE from .*: 554 5\.7\.1 Gtube pattern;")
    assert len(s.queue()) == 1


def test_pickup_runs_maildrop_mail_through_non_smtpd_milters(instance, milters):
    m = milters({RCPT: lambda d: [replycode("451 4.7.1 Not yet")] if b"later@" in d else [CONTINUE],
                 EOB: [add_header("X-Pickup-Milter", "yes"), add_rcpt("<copy@x.test>"), CONTINUE]})
    instance.set(mydestination="localhost", alias_maps="", non_smtpd_milters=m.name,
                 header_checks=table(instance, "hc", "/^Subject: dropped/ BCC audit@x.test\n"))
    with_submit(instance, start=False, pickup=True)
    assert sendmail(instance, "r@x.test", data=b"Subject: dropped\n\nx\n").returncode == 0
    assert sendmail(instance, "later@x.test", data=b"Subject: deferred\n\ny\n").returncode == 0
    instance.start()
    instance.wait_log(r"postern/pickup\[\d+\]: \w+: uid=\d+ from=<", timeout=20)
    instance.wait_log(r"pickup\[\d+\]: \w+: milter-reject: END-OF-MESSAGE from localhost\[127\.0\.0\.1\]: "
                      r"451 4\.7\.1 Not yet;", timeout=20)
    [q] = instance.queue_messages()
    assert sorted(q["rcpts"]) == ["audit@x.test", "copy@x.test", "r@x.test"]  # milter add, then checks' BCC
    assert b"\r\nX-Pickup-Milter: yes\r\n\r\nx\r\n" in q["body"]
    assert m.seen(CONNECT)[0] == b"localhost\x004\x00\x00127.0.0.1\0"
    assert len(list((instance.queue_dir / "maildrop").iterdir())) == 1  # the 4xx one waits for the next scan
