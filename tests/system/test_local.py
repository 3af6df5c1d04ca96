"""The local delivery agent end to end (issue 7, "local"): mail submitted to
smtpd on a loopback port, routed by qmgr to local, delivered through
alias_maps (built by postalias), .forward files, Maildir and mbox files and
commands. Tests that deliver as the instance user run as root and as an
ordinary user; tests that need distinct system users create them (root only)
with homes in the test's directory and remove them afterwards."""
import os
import pwd
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import BIN, free_port, submit, wait_for

ROOT = os.geteuid() == 0
HOST = "mx.postern.test"


def chown_tree(path, user):
    """Under root, hands `path` to `user` (default_privs): alias deliveries
    to files run with that user's rights."""
    if not ROOT:
        return
    pw = pwd.getpwnam(user)
    for p in [path, *Path(path).rglob("*")]:
        os.chown(p, pw.pw_uid, pw.pw_gid)


class Mda:
    def __init__(self, instance):
        self.i = instance
        self.root = instance.root
        self.aliases = self.root / "aliases"
        self.spool = self.root / "spool"
        self.spool.mkdir()
        self.spool.chmod(0o1777)
        self.out = self.root / "out"
        self.out.mkdir()
        self.out.chmod(0o777)
        self.privs = instance.params.get("mail_owner", "postern") if ROOT else pwd.getpwuid(os.geteuid()).pw_name
        self.port = free_port()
        instance.set(minimal_backoff_time="1s", maximal_backoff_time="2s", queue_run_delay="1s",
                     transport_retry_time="1s", service_throttle_time="1s",
                     mydestination=f"localhost, {HOST}", myorigin=HOST, local_transport="local",
                     alias_maps=f"lmdb:{self.aliases}", alias_database=f"lmdb:{self.aliases}",
                     local_recipient_maps="", recipient_delimiter="+", mail_spool_directory=str(self.spool),
                     default_privs=self.privs, command_time_limit="10s")
        instance.add_service("qmgr unix n - n 300 1 qmgr")
        instance.add_service(f"127.0.0.1:{self.port} inet n - n - - smtpd")
        instance.add_service("local unix - n n - - local")
        self.write_aliases("")

    def write_aliases(self, text):
        self.aliases.write_text("postmaster: root\n" + text)
        r = subprocess.run([str(BIN / "postalias"), "-c", str(self.i.config_dir), f"lmdb:{self.aliases}"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr

    def start(self):
        self.i.start()

    def send(self, rcpts, body, sender="sender@client.test"):
        """Submits by SMTP; returns the queue id smtpd logged."""
        return submit(self.i, self.port, rcpts, body, sender)

    def wait(self, msgid, to, status="sent", extra=""):
        return self.i.wait_log(rf"postern/local\[\d+\]: {msgid}: to=<{re.escape(to)}>{extra}, relay=local, "
                               rf"delay=[\d.]+, delays=[\d.]+/0/0/[\d.]+, dsn=\S+, status={status} \((.*)\)$",
                               timeout=15)


def maildir_files(path):
    new = Path(path) / "new"
    return sorted(new.iterdir()) if new.exists() else []


def one_maildir_message(path):
    files = wait_for(lambda: maildir_files(path), 10, what=f"a message in {path}/new")
    assert len(files) == 1, files
    assert not list((Path(path) / "tmp").iterdir())
    return files[0].read_bytes()


def strip_received(data):
    """The message after local's headers and smtpd's Received: header."""
    lines = data.split(b"\n")
    i = 0
    while not lines[i].startswith(b"Received: "):
        i += 1
    head, i = lines[:i], i + 1
    while lines[i].startswith(b"\t"):
        i += 1
    return head, b"\n".join(lines[i:])


BODY = (b"From: sender@client.test\r\nTo: box@localhost\r\nSubject: local test\r\n\r\n"
        b"line one\r\nFrom the start of a line\r\n>From already quoted\r\n From with a blank\r\n"
        b"..leading dot\r\nlast line\r\n")
BODY_LF = BODY.replace(b"\r\n", b"\n")


@pytest.fixture
def mda(instance):
    return Mda(instance)


# --- deliveries as the instance user (root or not) --------------------------

def test_alias_to_a_maildir_path_is_byte_exact(mda):
    box = mda.out / "box" / "Maildir"
    mda.write_aliases(f"box: {box}/\n")
    chown_tree(mda.out, mda.privs)
    mda.start()
    msgid = mda.send(["box@localhost"], BODY)
    assert mda.wait(msgid, "box@localhost").group(1) == "delivered to maildir"
    head, rest = strip_received(one_maildir_message(box))
    assert head == [b"Return-Path: <sender@client.test>", b"Delivered-To: box@localhost"]
    assert rest == BODY_LF
    if ROOT:
        assert os.stat(maildir_files(box)[0]).st_uid == pwd.getpwnam(mda.privs).pw_uid


def test_alias_to_an_mbox_file_quotes_from_lines(mda):
    mbox = mda.out / "file.mbox"
    mda.write_aliases(f"filed: {mbox}\n")
    mda.start()
    msgid = mda.send(["filed@localhost"], BODY)
    assert mda.wait(msgid, "filed@localhost").group(1) == f"delivered to file: {mbox}"
    data = mbox.read_bytes()
    first, _, data = data.partition(b"\n")
    assert re.fullmatch(rb"From sender@client\.test  \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}", first), first
    head, rest = strip_received(data)
    assert head == [b"Return-Path: <sender@client.test>", b"Delivered-To: filed@localhost"]
    assert rest == BODY_LF.replace(b"\nFrom the start", b"\n>From the start") + b"\n"
    msgid = mda.send(["filed@localhost"], b"Subject: two\r\n\r\nFrom me\r\n")
    mda.wait(msgid, "filed@localhost")
    entries = re.split(rb"\n\n(?=From sender@client\.test  )", mbox.read_bytes())
    assert len(entries) == 2 and entries[1].endswith(b"\n>From me\n\n")


def test_spool_mbox_of_the_instance_user(mda):
    if ROOT:
        pytest.skip("root's own mail goes to default_privs; test_users_* cover root")
    user = pwd.getpwuid(os.geteuid()).pw_name
    mda.start()
    msgid = mda.send([f"{user}@localhost"], BODY)
    assert mda.wait(msgid, f"{user}@localhost").group(1) == "delivered to mailbox"
    data = (mda.spool / user).read_bytes()
    assert data.startswith(b"From sender@client.test  ")
    assert b"\n>From the start of a line\n>From already quoted\n From with a blank\n" in data
    assert not (mda.spool / f"{user}.lock").exists()


def test_alias_fan_out_to_paths_and_a_command(mda):
    a, b, piped = mda.out / "a", mda.out / "b", mda.out / "piped"
    mda.write_aliases(f'team: {a}/, {b}/, "|cat > {piped}; echo $SENDER $RECIPIENT >> {piped}"\n')
    chown_tree(mda.out, mda.privs)
    mda.start()
    msgid = mda.send(["team@localhost"], BODY)
    mda.i.wait_log(rf"{msgid}: to=<team@localhost>.*status=sent", count=3, timeout=15)
    log = mda.i.log()
    assert log.count(f"{msgid}: to=<team@localhost>") == 3
    assert "(delivered to command: cat > " in log
    for d in (a, b):
        assert strip_received(one_maildir_message(d))[1] == BODY_LF
    out = wait_for(lambda: piped.exists() and piped.read_bytes(), what="command output")
    assert out.startswith(b"From sender@client.test  ")
    assert out.endswith(BODY_LF + b"sender@client.test team@localhost\n")


def test_user_plus_extension_matches_the_alias_of_user(mda):
    box = mda.out / "ext"
    mda.write_aliases(f"ext: {box}/\n")
    chown_tree(mda.out, mda.privs)
    mda.start()
    msgid = mda.send(["ext+tag@localhost"], BODY)
    assert mda.wait(msgid, "ext+tag@localhost").group(1) == "delivered to maildir"
    head, _ = strip_received(one_maildir_message(box))
    assert head[1] == b"Delivered-To: ext+tag@localhost"


def test_delivered_to_loop_bounces(mda):
    box = mda.out / "looped"
    mda.write_aliases(f"looped: {box}/\n")
    mda.start()
    msgid = mda.send(["looped@localhost"], b"Delivered-To: looped@localhost\r\nSubject: x\r\n\r\nbody\r\n")
    m = mda.wait(msgid, "looped@localhost", status="bounced")
    assert m.group(1) == "mail forwarding loop for looped@localhost"
    assert "dsn=5.4.6" in m.group(0)
    assert not maildir_files(box)


def test_alias_loop_bounces(mda):
    mda.write_aliases("ping: pong\npong: ping\n")
    mda.start()
    msgid = mda.send(["ping@localhost"], b"Subject: x\r\n\r\nbody\r\n")
    m = mda.wait(msgid, f"ping@{HOST}", status="bounced", extra=", orig_to=<ping@localhost>")
    assert m.group(1) == f"possible mail forwarding loop for ping@{HOST}"


def test_unknown_user_bounces(mda):
    mda.start()
    msgid = mda.send(["nosuchuser-xyz@localhost"], b"Subject: x\r\n\r\nbody\r\n")
    m = mda.wait(msgid, "nosuchuser-xyz@localhost", status="bounced")
    assert m.group(1) == 'unknown user: "nosuchuser-xyz"' and "dsn=5.1.1" in m.group(0)


def test_command_exit_status_decides(mda):
    mda.write_aliases('fail: "|echo no such mailbox; exit 67"\nlater: "|exit 75"\n')
    mda.start()
    msgid = mda.send(["fail@localhost"], b"Subject: x\r\n\r\nbody\r\n")
    m = mda.wait(msgid, "fail@localhost", status="bounced")
    assert "dsn=5.1.1" in m.group(0) and "no such mailbox" in m.group(1)
    msgid = mda.send(["later@localhost"], b"Subject: x\r\n\r\nbody\r\n")
    assert mda.wait(msgid, "later@localhost", status="deferred").group(1) == "temporary failure"


def test_alias_to_a_remote_address_is_forwarded_as_a_new_message(mda):
    from qmgr_helpers import Sink
    sink = Sink(mda.i)
    mda.i.set(default_transport="test")
    mda.write_aliases("fwd: someone@remote.test, fwdbox\nfwdbox: /dev/null\n")
    mda.start()
    msgid = mda.send(["fwd@localhost"], b"Subject: x\r\n\r\nbody\r\n")
    m = mda.wait(msgid, "someone@remote.test", extra=", orig_to=<fwd@localhost>")
    newid = re.fullmatch(r"forwarded as ([0-9a-f]{8})", m.group(1)).group(1)
    wait_for(lambda: (newid, "someone@remote.test") in sink.sent(), 15, what="the forwarded copy at the sink")
    mda.i.wait_log(rf"{newid}: from=<sender@client\.test>")


def test_forwarding_past_hopcount_limit_bounces_the_forwarding_recipient(mda):
    mda.i.set(default_transport="test", hopcount_limit=3)
    mda.write_aliases("fwd: someone@remote.test\n")
    mda.start()
    # smtpd's Received: makes 2 (accepted); the forwarded copy adds Delivered-To: 3.
    msgid = mda.send(["fwd@localhost"], b"Received: from elsewhere\r\nSubject: x\r\n\r\nbody\r\n")
    m = mda.wait(msgid, "someone@remote.test", status="bounced", extra=", orig_to=<fwd@localhost>")
    assert m.group(1) == "too many hops" and "dsn=5.4.0" in m.group(0)
    assert "forwarded as" not in mda.i.log()


def test_virtual_alias_fan_out_through_smtpd(mda):
    one, two = mda.out / "v1", mda.out / "v2"
    mda.write_aliases(f"v1: {one}/\nv2: {two}/\n")
    mda.i.set(virtual_alias_maps="inline:{ { team@virtual.test = v1@localhost, v2@localhost } }")
    chown_tree(mda.out, mda.privs)
    mda.start()
    msgid = mda.send(["team@virtual.test"], BODY)
    for user, d in (("v1", one), ("v2", two)):
        m = mda.wait(msgid, f"{user}@localhost", extra=", orig_to=<team@virtual.test>")
        assert m.group(1) == "delivered to maildir"
        head, rest = strip_received(one_maildir_message(d))
        assert head == [b"Return-Path: <sender@client.test>", f"Delivered-To: {user}@localhost".encode()]
        assert rest == BODY_LF


# --- deliveries as distinct users (root only) -------------------------------

@pytest.fixture
def users(mda):
    if not ROOT:
        pytest.skip("creating users needs root")
    if not shutil.which("useradd"):
        pytest.skip("no useradd")
    made = []
    homes = mda.root / "home"
    homes.mkdir()
    homes.chmod(0o755)

    def make():
        name = "pt" + uuid.uuid4().hex[:10]
        home = homes / name
        r = subprocess.run(["useradd", "-M", "-d", str(home), "-s", "/bin/sh", name], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        made.append(name)
        home.mkdir()
        pw = pwd.getpwnam(name)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        return pw

    try:
        yield make
    finally:
        for name in made:
            subprocess.run(["userdel", name], capture_output=True)


def test_users_fan_out_to_two_maildirs_and_a_command_as_each_user(mda, users):
    u1, u2 = users(), users()
    piped = mda.out / "piped"
    mda.i.set(home_mailbox="Maildir/")
    mda.write_aliases(f'team: {u1.pw_name}, {u2.pw_name}, "|id -un > {piped}"\n')
    mda.start()
    msgid = mda.send(["team@localhost"], BODY)
    for u in (u1, u2):
        m = mda.wait(msgid, f"{u.pw_name}@{HOST}", extra=", orig_to=<team@localhost>")
        assert m.group(1) == "delivered to maildir"
        path = Path(u.pw_dir) / "Maildir"
        head, rest = strip_received(one_maildir_message(path))
        assert head == [b"Return-Path: <sender@client.test>", b"Delivered-To: team@localhost"]
        assert rest == BODY_LF
        assert os.stat(maildir_files(path)[0]).st_uid == u.pw_uid
    out = wait_for(lambda: piped.exists() and piped.read_text(), what="command output")
    assert out.strip() == mda.privs  # an alias owned by root runs commands as default_privs


def test_user_extension_forward_file_and_spool_mbox(mda, users):
    u = users()
    copy = Path(u.pw_dir) / "copy"
    fwd = Path(u.pw_dir) / ".forward+list"
    fwd.write_text(f"\\{u.pw_name}, {copy}/\n")
    os.chown(fwd, u.pw_uid, u.pw_gid)
    mda.start()
    msgid = mda.send([f"{u.pw_name}+list@localhost"], BODY)
    mda.i.wait_log(rf"{msgid}: to=<{u.pw_name}\+list@localhost>.*status=sent \(delivered to maildir\)", timeout=15)
    mda.i.wait_log(rf"{msgid}: to=<{u.pw_name}@{HOST}>, orig_to=<{u.pw_name}\+list@localhost>.*"
                   rf"status=sent \(delivered to mailbox\)", timeout=15)
    spool = mda.spool / u.pw_name
    assert os.stat(spool).st_uid == u.pw_uid and os.stat(spool).st_mode & 0o777 == 0o600
    data = spool.read_bytes()
    assert data.startswith(b"From sender@client.test  ") and b"\n>From the start of a line\n" in data
    assert os.stat(maildir_files(copy)[0]).st_uid == u.pw_uid


@pytest.mark.parametrize("strict", ["yes", "no"])
def test_spool_mbox_owned_by_another_user_defers_unless_strict_mailbox_ownership_is_off(mda, users, strict):
    u, other = users(), users()
    spool = mda.spool / u.pw_name
    spool.write_bytes(b"")
    os.chown(spool, other.pw_uid, other.pw_gid)
    mda.i.set(strict_mailbox_ownership=strict)
    mda.start()
    msgid = mda.send([f"{u.pw_name}@localhost"], BODY)
    if strict == "yes":
        m = mda.wait(msgid, f"{u.pw_name}@localhost", status="deferred")
        assert m.group(1) == f"destination {spool} is not owned by recipient"
        mda.i.wait_log(r"warning: specify \"strict_mailbox_ownership = no\" to ignore mailbox ownership mismatch")
        assert spool.read_bytes() == b""
    else:
        assert mda.wait(msgid, f"{u.pw_name}@localhost").group(1) == "delivered to mailbox"
        assert spool.read_bytes().startswith(b"From sender@client.test  ")
        assert os.stat(spool).st_uid == other.pw_uid
