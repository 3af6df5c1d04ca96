# tests/system/test_pflogsumm.py — Debian's pflogsumm reads a maillog that a
# real instance wrote (received, delivered locally, relayed, deferred,
# bounced, rejected) and counts each as Postfix's own log would be counted;
# syslog_name = postfix gives the postfix/smtpd[pid]: tags such tools expect.
import os
import re
import shutil
import smtplib
import subprocess

import pytest

from conftest import free_port, wait_for
from test_local import Mda, chown_tree, one_maildir_message
from test_smtp_client import Scripted

PFLOGSUMM = shutil.which("pflogsumm") or "/usr/sbin/pflogsumm"
HAVE_PFLOGSUMM = os.access(PFLOGSUMM, os.X_OK)


def send(port, sender, rcpts, source="127.0.0.1"):
    """One SMTP transaction; returns the RCPT replies."""
    with smtplib.SMTP("127.0.0.1", port, timeout=15, source_address=(source, 0)) as c:
        c.ehlo("client.test")
        c.mail(sender)
        replies = [c.rcpt(r)[0] for r in rcpts]
        if 250 in replies:
            assert c.data(b"Subject: mixed\r\n\r\nbody\r\n")[0] == 250
        return replies


def mixed_log(instance, syslog_name="postern"):
    """An instance that receives five messages: one delivered to a local
    Maildir, one relayed to a sink, one deferred (nobody listens), one
    bounced (the sink says 550) and one rejected at RCPT."""
    mda = Mda(instance)
    box = mda.out / "box" / "Maildir"
    mda.write_aliases(f"box: {box}/\n")
    chown_tree(mda.out, mda.privs)
    sink = Scripted(host="127.0.0.2", rules={"nobody@bounce.test": "550 5.1.1 <nobody@bounce.test>: no such user"})
    dead = free_port("127.0.0.3")
    instance.set(syslog_name=syslog_name, mynetworks="127.0.0.1/32",
                 smtpd_relay_restrictions="permit_mynetworks, reject_unauth_destination",
                 transport_maps=f"inline:{{ relay.test=smtp:[127.0.0.2]:{sink.port}, "
                                f"bounce.test=smtp:[127.0.0.2]:{sink.port}, dead.test=smtp:[127.0.0.3]:{dead} }}")
    instance.add_service("smtp unix - - n - - smtp")
    instance.add_service("bounce unix - - n - 0 bounce")
    mda.start()
    assert send(mda.port, "alice@client.test", ["box@localhost"]) == [250]
    assert send(mda.port, "alice@client.test", ["far@relay.test"]) == [250]
    assert send(mda.port, "bob@client.test", ["later@dead.test"]) == [250]
    assert send(mda.port, "<>", ["nobody@bounce.test"]) == [250]  # a null sender: no notice comes back
    assert send(mda.port, "mallory@outside.test", ["x@other.test"], source="127.0.0.4") == [554]
    one_maildir_message(box)
    for status in ("sent", "deferred", "bounced"):
        instance.wait_log(rf"/smtp\[\d+\]: \w+: to=<\S+>, relay=.*status={status} ", timeout=60)
    wait_for(lambda: len(sink.bodies) == 1, timeout=30, what="the relayed message at the sink")
    sink.stop()
    return instance.log()


def pflogsumm(log, syslog_name):
    r = subprocess.run([PFLOGSUMM, f"--syslog-name={syslog_name}", "--problems-first"], input=log,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def count(report, label):
    m = re.search(rf"^\s*(\d+)\s+{label}\b", report, re.M)
    assert m, f"no '{label}' line in:\n{report}"
    return int(m.group(1))


def section(report, title):
    """The lines of one pflogsumm section, up to the next blank line."""
    m = re.search(rf"^{re.escape(title)}\n-+\n(.*?)(?:\n\n|\Z)", report, re.M | re.S)
    assert m, f"no section '{title}' in:\n{report}"
    return m.group(1)


@pytest.mark.skipif(not HAVE_PFLOGSUMM, reason="pflogsumm is missing (scripts/install-deps installs it)")
def test_pflogsumm_counts_a_mixed_maillog(instance):
    log = mixed_log(instance)
    report = pflogsumm(log, "postern")
    assert count(report, "received") == 4, report
    assert count(report, "delivered") == 2, report  # the Maildir and the sink
    assert count(report, "deferred") == 1, report
    assert count(report, "bounced") == 1, report
    assert count(report, "rejected") == 1, report
    senders = section(report, "Senders by message count")
    assert re.search(r"^\s*2\s+alice@client\.test$", senders, re.M), senders
    assert re.search(r"^\s*1\s+bob@client\.test$", senders, re.M), senders
    recipients = section(report, "Recipients by message count")
    for rcpt in ("box@localhost", "far@relay.test"):
        assert re.search(rf"^\s*1\s+{re.escape(rcpt)}$", recipients, re.M), recipients
    # Nothing is read as postfix's by mistake: the other name finds nothing.
    assert count(pflogsumm(log, "postfix"), "received") == 0


def test_syslog_name_postfix_tags_lines_for_tools_that_expect_postfix(instance):
    log = mixed_log(instance, syslog_name="postfix")
    for program in ("master", "smtpd", "qmgr", "local", "smtp"):
        assert re.search(rf"^\w{{3}} [ \d]\d \d\d:\d\d:\d\d \S+ postfix/{program}\[\d+\]: ", log, re.M), program
    assert "postern/" not in log
    if HAVE_PFLOGSUMM:
        assert count(pflogsumm(log, "postfix"), "delivered") == 2
