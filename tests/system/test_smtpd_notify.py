"""Postmaster notices from smtpd (issue 19, notify_classes): a session with
errors of a class in notify_classes ends with a transcript of the session
mailed to error_notice_recipient from the double-bounce sender, as Postfix's
smtpd_chat_notify writes it; classes left out of notify_classes send nothing.
The postmaster's mail is delivered by local to a Maildir."""
import os
import re
import smtplib
import subprocess

import pytest

from conftest import BIN, wait_for
from test_local import HOST, Mda, chown_tree, maildir_files
from test_queue_full_disk import small_fs, write_until_full  # noqa: F401 (a fixture)

ALL = "protocol, policy, resource, software"


@pytest.fixture
def postmaster(instance):
    """The instance with smtpd, qmgr and local; postmaster's mail in a Maildir."""
    mda = Mda(instance)
    mda.box = mda.out / "postmaster" / "Maildir"
    mda.aliases.write_text(f"postmaster: {mda.box}/\n")
    r = subprocess.run([str(BIN / "postalias"), "-c", str(instance.config_dir), f"lmdb:{mda.aliases}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    chown_tree(mda.out, mda.privs)
    instance.set(mynetworks="192.0.2.0/24")  # 127.0.0.1 may not relay: a policy reject
    return mda


def notices(mda):
    return [p.read_text(errors="replace") for p in maildir_files(mda.box)]


def one_notice(mda, instance):
    instance.wait_log(r"[0-9a-f]{8}: postmaster notice to <postmaster@" + re.escape(HOST) + r"> about errors from "
                      r"\S+\[127\.0\.0\.1\]", timeout=15)
    got = wait_for(lambda: notices(mda), timeout=15, what="a notice in postmaster's Maildir")
    assert len(got) == 1, got
    return got[0]


def check_shape(text):
    assert "Return-Path: <double-bounce@" + HOST + ">" in text
    assert f"From: MAILER-DAEMON@{HOST} (Mail Delivery System)" in text
    assert f"To: postmaster@{HOST} (Postmaster)" in text
    assert re.search(r"Subject: postern SMTP server: errors from \S+\[127\.0\.0\.1\]", text)
    assert "\nTranscript of session follows.\n\n Out: 220 " in text
    assert text.rstrip().endswith("For other details, see the local mail logfile")


def test_rejected_recipient_sends_a_policy_transcript(instance, postmaster):
    instance.set(notify_classes=ALL)
    postmaster.start()
    with smtplib.SMTP("127.0.0.1", postmaster.port, timeout=10) as c:
        c.ehlo("policy.test")
        c.mail("a@client.test")
        code, text = c.rcpt("b@elsewhere.test")
        assert (code, text) == (454, b"4.7.1 <b@elsewhere.test>: Relay access denied")
    text = one_notice(postmaster, instance)
    check_shape(text)
    assert " In:  ehlo policy.test\n Out: 250-" + HOST + "\n" in text
    assert " In:  rcpt TO:<b@elsewhere.test>\n Out: 454 4.7.1 <b@elsewhere.test>: Relay access denied\n" in text
    assert " In:  QUIT\n Out: 221 2.0.0 Bye\n" in text
    assert "Session aborted" not in text


def test_unknown_command_sends_a_protocol_transcript_with_the_reason(instance, postmaster):
    instance.set(notify_classes=ALL)
    postmaster.start()
    c = smtplib.SMTP("127.0.0.1", postmaster.port, timeout=10)
    c.ehlo("protocol.test")
    assert c.docmd("FROBNICATE now") == (502, b"5.5.2 Error: command not recognized")
    c.close()  # no QUIT: the transcript says why it ended
    text = one_notice(postmaster, instance)
    check_shape(text)
    assert " In:  FROBNICATE now\n Out: 502 5.5.2 Error: command not recognized\n" in text
    assert "\nSession aborted, reason: lost connection\n" in text


def test_queue_out_of_space_at_mail_sends_a_resource_transcript(instance, postmaster):
    # Free space below 1.5 x message_size_limit: 452 4.3.1 at MAIL (smtpd_check_queue).
    instance.set(notify_classes=ALL, message_size_limit=str(1 << 50))
    postmaster.start()
    with smtplib.SMTP("127.0.0.1", postmaster.port, timeout=10) as c:
        c.ehlo("resource.test")
        assert c.mail("a@client.test") == (452, b"4.3.1 Insufficient system storage")
    text = one_notice(postmaster, instance)
    assert " In:  mail FROM:<a@client.test>\n Out: 452 4.3.1 Insufficient system storage\n" in text


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_full_disk_at_end_of_data_sends_a_resource_transcript(instance, postmaster, small_fs):
    # No size limit, so smtpd takes the message and only the body write
    # fails; no space reserve that qmgr would take back as space comes free.
    instance.set(notify_classes=ALL, message_size_limit="0", queue_reserve_size="0")
    postmaster.start()
    filler = small_fs / "filler"
    write_until_full(filler, b"\0" * 65536)
    write_until_full(small_fs / "filler2", b"\0" * 512)
    os.truncate(filler, os.path.getsize(filler) - (1 << 20))  # 1 MiB left: MAIL passes, a 4 MiB body does not fit
    c = smtplib.SMTP("127.0.0.1", postmaster.port, timeout=30)
    c.ehlo("full.test")
    assert c.mail("a@client.test")[0] == 250
    assert c.rcpt(f"someone@{HOST}")[0] == 250
    assert c.data(b"Subject: big\r\n\r\n" + (b"x" * 76 + b"\r\n") * 55000) == (452, b"4.3.1 Insufficient system storage")
    # The notice goes at the end of the session, once there is room again.
    os.unlink(filler)
    c.quit()
    text = one_notice(postmaster, instance)
    assert " In:  data\n Out: 354 End data with <CR><LF>.<CR><LF>\n Out: 452 4.3.1 Insufficient system storage\n" in text


def test_default_classes_send_nothing_for_policy_and_protocol_errors(instance, postmaster):
    # notify_classes as by default (resource, software); a restriction with
    # a table type postern lacks answers 451 4.3.5, a software error.
    instance.set(smtpd_recipient_restrictions=f"check_recipient_access mysql:{postmaster.out}/access")
    postmaster.start()
    with smtplib.SMTP("127.0.0.1", postmaster.port, timeout=10) as c:
        c.ehlo("quiet.test")
        assert c.docmd("FROBNICATE")[0] == 502
        c.mail("a@client.test")
        assert c.rcpt("b@elsewhere.test")[0] == 454  # relay control comes first
    # A later session with a software error does send one; the first one's
    # notice, had there been one, would have been queued before it.
    with smtplib.SMTP("127.0.0.1", postmaster.port, timeout=10) as c:
        c.ehlo("software.test")
        c.mail("a@client.test")
        assert c.rcpt(f"someone@{HOST}") == (451, b"4.3.5 Server configuration error")
    text = one_notice(postmaster, instance)
    assert "software.test" in text and "quiet.test" not in text
    assert len(re.findall(r"postmaster notice to", instance.log())) == 1


def test_notices_are_rate_limited_per_process(instance, postmaster):
    instance.set(notify_classes=ALL)
    postmaster.start()
    for i in range(12):
        with smtplib.SMTP("127.0.0.1", postmaster.port, timeout=10) as c:
            c.ehlo(f"flood{i}.test")
            c.docmd("FROBNICATE")
    instance.wait_log(r"warning: postmaster notify: 10 notices in 60s already; none about errors from")
    wait_for(lambda: len(maildir_files(postmaster.box)) == 10, timeout=20, what="ten notices delivered")
    assert len(re.findall(r"postmaster notice to", instance.log())) == 10


def test_credentials_stay_out_of_the_transcript(instance, postmaster):
    from test_auth import b64, plain, write_passwords
    instance.set(notify_classes=ALL, smtpd_sasl_auth_enable="yes", smtpd_tls_auth_only="no",
                 smtpd_sasl_failure_delay="0s", smtpd_sasl_password_maps=write_passwords(instance))
    postmaster.start()
    with smtplib.SMTP("127.0.0.1", postmaster.port, timeout=10) as c:
        c.ehlo("auth.test")
        assert c.docmd("AUTH", "PLAIN " + plain("alice", "guess one"))[0] == 535
        assert c.docmd("AUTH", "LOGIN")[0] == 334
        assert c.docmd(b64("alice"))[0] == 334
        assert c.docmd(b64("guess two"))[0] == 535
    text = one_notice(postmaster, instance)
    assert " In:  AUTH PLAIN (initial response)\n Out: 535 5.7.8 Error: authentication failed" in text
    assert " In:  AUTH LOGIN\n Out: 334 VXNlcm5hbWU6\n In:  (SASL response)\n Out: 334 UGFzc3dvcmQ6\n" \
           " In:  (SASL response)\n Out: 535 " in text
    for secret in (plain("alice", "guess one"), b64("alice"), b64("guess two")):
        assert secret not in text
