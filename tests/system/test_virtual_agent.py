"""The virtual(8) delivery agent end to end (issue 17): mail for
virtual_mailbox_domains, submitted with smtplib to smtpd on a loopback port,
is delivered by master.cf's Debian line `virtual unix - n n - - virtual`
into Maildirs (map entries ending in /) and mbox files under
virtual_mailbox_base. Run as root, the files belong to the ids of
virtual_uid_maps / virtual_gid_maps (5000/5001, accounts that do not exist);
run as anyone else, to that user. Unknown users, full mailboxes and bad ids
end as Postfix's virtual(8) ends them; `postern check` names what is missing."""
import os
import re

import pytest

from conftest import free_port, submit, wait_for

ROOT = os.geteuid() == 0
UID = 5000 if ROOT else os.geteuid()
GID = 5001 if ROOT else os.getegid()
DEBIAN_LINE = "virtual   unix  -       n       n       -       -       virtual"


def body(subject, size=0):
    return (f"From: sender@client.test\r\nSubject: {subject}\r\n\r\nFrom the start of a line\r\n" +
            "x" * size + "\r\n").encode()


class Virtual:
    """An instance with qmgr, bounce, smtpd and virtual; smtpd takes unknown
    users too (-o virtual_mailbox_maps=), so that virtual(8) judges them."""

    def __init__(self, instance, **params):
        self.i = instance
        self.base = instance.root / "vmail"
        (self.base / "v.test").mkdir(parents=True)
        for d in (self.base, self.base / "v.test"):
            os.chown(d, UID, GID)
        self.port = free_port()
        instance.set(minimal_backoff_time="1s", maximal_backoff_time="2s", queue_run_delay="1s",
                     transport_retry_time="1s", service_throttle_time="1s", mydestination="localhost",
                     recipient_delimiter="+", virtual_mailbox_domains="v.test, w.test",
                     virtual_mailbox_base=str(self.base),
                     virtual_mailbox_maps="inline:{ bob@v.test=v.test/bob/, carol@v.test=v.test/carol, "
                                          "owner@v.test=v.test/owner/, @w.test=w.test/all/ }",
                     virtual_uid_maps=f"static:{UID}",
                     virtual_gid_maps=f"inline:{{ @v.test={GID}, @w.test={GID} }}", **params)
        instance.add_service("qmgr unix n - n 300 1 qmgr")
        instance.add_service("bounce unix - - n - 0 bounce")
        instance.add_service(f"127.0.0.1:{self.port} inet n - n - - smtpd -o virtual_mailbox_maps=")
        instance.add_service(DEBIAN_LINE)

    def send(self, rcpts, data, sender="sender@client.test"):
        return submit(self.i, self.port, rcpts, data, sender)

    def wait(self, msgid, to, status, timeout=30):
        """The virtual(8) line of one recipient: (dsn, reason)."""
        m = self.i.wait_log(rf"postern/virtual\[\d+\]: {msgid}: to=<{re.escape(to)}>, relay=virtual, "
                            rf"delay=[\d.]+, delays=[\d./]+, dsn=(\S+), status={status} \((.*)\)$", timeout=timeout)
        return m.groups()

    def maildir(self, path, count=1):
        new = self.base / path / "new"
        return wait_for(lambda: new.is_dir() and len(list(new.iterdir())) >= count and sorted(new.iterdir()),
                        20, what=f"{count} message(s) in {new}")


@pytest.fixture
def virtual(instance):
    v = Virtual(instance)
    instance.start()
    return v


def owned(path):
    st = os.stat(path)
    return (st.st_uid, st.st_gid)


def test_maildir_and_mbox_under_the_base_owned_by_the_mapped_ids(virtual):
    msgid = virtual.send(["Bob+news@v.test", "carol@v.test", "anyone@w.test"], body("hello"))
    assert virtual.wait(msgid, "Bob+news@v.test", "sent") == ("2.0.0", "delivered to maildir")
    assert virtual.wait(msgid, "carol@v.test", "sent") == ("2.0.0", "delivered to mailbox")
    assert virtual.wait(msgid, "anyone@w.test", "sent") == ("2.0.0", "delivered to maildir")  # @domain entry
    [mail] = virtual.maildir("v.test/bob")
    lines = mail.read_text().split("\n")
    assert lines[:3] == ["Return-Path: <sender@client.test>", "X-Original-To: Bob+news@v.test",
                         "Delivered-To: bob+news@v.test"]
    assert mail.read_text().endswith("\n\nFrom the start of a line\n\n")  # Maildir: no >From quoting
    mbox = (virtual.base / "v.test" / "carol").read_text()
    assert re.match(r"From sender@client\.test  \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n", mbox), mbox
    assert "\n\n>From the start of a line\n" in mbox and mbox.endswith("\n\n")
    [other] = virtual.maildir("w.test/all")
    # Written with virtual_uid_maps' and virtual_gid_maps' ids, never root's.
    for p in (mail, mail.parent.parent, virtual.base / "v.test" / "carol", other, virtual.base / "w.test"):
        assert owned(p) == (UID, GID), p
    assert oct(os.stat(virtual.base / "v.test" / "carol").st_mode & 0o777) == "0o600"


def test_unknown_user_bounces_with_postfix_reason(virtual):
    msgid = virtual.send(["nobody@v.test"], body("lost"), sender="owner@v.test")
    assert virtual.wait(msgid, "nobody@v.test", "bounced") == ("5.1.1", 'unknown user: "nobody@v.test"')
    # The notice comes back to the sender, a virtual mailbox too.
    [notice] = virtual.maildir("v.test/owner")
    text = notice.read_text()
    assert "From: MAILER-DAEMON" in text and 'unknown user: "nobody@v.test"' in text, text
    assert "Status: 5.1.1" in text


def test_full_mbox_bounces_and_stays_as_it_was(instance):
    v = Virtual(instance, message_size_limit="2000", virtual_mailbox_limit="3000")
    instance.start()
    first = v.send(["carol@v.test"], body("one", 1500))
    v.wait(first, "carol@v.test", "sent")
    size = os.path.getsize(v.base / "v.test" / "carol")
    second = v.send(["carol@v.test"], body("two", 1500))
    dsn, reason = v.wait(second, "carol@v.test", "bounced")
    box = v.base / "v.test" / "carol"
    assert (dsn, reason) == ("5.2.2", f"delivery failed to mailbox {box}: cannot update mailbox {box}: "
                                      "mailbox full (virtual_mailbox_limit)")
    assert os.path.getsize(box) == size


def test_uid_below_virtual_minimum_uid_defers(instance):
    v = Virtual(instance, virtual_minimum_uid=str(UID + 1))
    instance.start()
    msgid = v.send(["bob@v.test"], body("held"))
    assert v.wait(msgid, "bob@v.test", "deferred") == ("4.3.5", "mail system configuration error")
    instance.wait_log(rf"warning: recipient bob@v\.test: bad uid {UID} in virtual_uid_maps")
    assert not (v.base / "v.test" / "bob").exists()


def test_check_names_a_missing_base_and_a_missing_service(instance):
    v = Virtual(instance)
    assert instance.postern("check").returncode == 0, instance.postern("check").stderr
    instance.set(virtual_mailbox_base=str(v.base / "nowhere"))
    r = instance.postern("check")
    assert r.returncode == 1
    assert re.search(r"error: .*service virtual/unix: virtual_mailbox_base .*/nowhere: No such file or directory",
                     r.stderr), r.stderr
    instance.services.remove(DEBIAN_LINE)
    instance.write_config()
    r = instance.postern("check")
    assert r.returncode == 1
    assert "error: virtual_transport = virtual: " in r.stderr and "has no virtual unix service" in r.stderr, r.stderr
    assert instance.postern("start").returncode == 1
