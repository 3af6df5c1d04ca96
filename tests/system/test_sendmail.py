"""sendmail, mailq and pickup against a real instance: local submission
through the shipped `submit` service of conf/master.cf (smtpd on
public/submit), the maildrop + pickup path while the system is down, and the
queue as they leave it (no qmgr runs, so messages stay where they were put)."""
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import BIN, wait_for

ROOT = Path(__file__).resolve().parents[2]
SENDMAIL = BIN / "sendmail"
MAILQ = BIN / "mailq"
USER = pwd.getpwuid(os.getuid()).pw_name


def shipped_service(name):
    """The lines of service `name` in conf/master.cf, as shipped."""
    lines, taking = [], False
    for line in (ROOT / "conf" / "master.cf").read_text().splitlines():
        if line.startswith(name + " "):
            taking = True
        elif taking and not line.startswith((" ", "\t")):
            break
        if taking:
            lines.append(line)
    assert lines, f"no {name} service in conf/master.cf"
    return "\n".join(lines)


def with_submit(instance, start=True, pickup=False):
    """The instance with the shipped submit (and optionally pickup) service."""
    instance.set(myorigin="origin.test", mydestination="localhost", alias_maps="")
    instance.add_service(shipped_service("submit"))
    if pickup:
        instance.add_service(shipped_service("pickup"))
    if start:
        instance.start()
        wait_for((instance.queue_dir / "public" / "submit").exists, timeout=10, what="public/submit")
    return instance


def sendmail(instance, *args, data=b"", prog=SENDMAIL, **kw):
    env = dict(os.environ, POSTERN_CONFIG_DIR=str(instance.config_dir), TZ="UTC")
    return subprocess.run([str(prog), *args], input=data, capture_output=True, env=env, timeout=30, **kw)


def queue(instance):
    return instance.queue_messages()


def headers(body):
    """(name, value) of every header field, folded lines joined."""
    head = body.split(b"\r\n\r\n", 1)[0].decode().replace("\r\n\t", " ").replace("\r\n ", "  ")
    return [tuple(l.split(": ", 1)) for l in head.split("\r\n")]


def test_t_sends_to_to_cc_and_bcc_and_drops_bcc(instance):
    with_submit(instance)
    msg = (b"To: Alice <alice@x.test>,\n  \"Doe, Bob\" <bob@x.test>\n"
           b"Cc: carol@y.test (Carol)\nBcc: dave@z.test, eve\nSubject: hi\n\nhello\n")
    r = sendmail(instance, "-t", data=msg)
    assert r.returncode == 0, r.stderr
    [m] = queue(instance)
    assert m["rcpts"] == ["alice@x.test", "bob@x.test", "carol@y.test", "dave@z.test", "eve@origin.test"]
    assert m["sender"] == f"{USER}@origin.test"
    names = [n for n, _ in headers(m["body"])]
    assert "Bcc" not in names and b"dave@z.test" not in m["body"]
    for added in ("From", "Date", "Message-Id"):  # From: sendmail's; Date:, Message-Id: cleanup's
        assert added in names, names
    assert m["body"].endswith(b"\r\n\r\nhello\r\n")
    instance.wait_log(rf"{m['id']}: uid={os.getuid()} from=<{USER}@origin\.test>")


def test_f_sets_sender_and_F_the_from_full_name(instance):
    with_submit(instance)
    r = sendmail(instance, "-f", "jane@example.org", "-FJane Q. Doe", "-oi", "-odi", "-oem", "rcpt@x.test",
                 data=b"Subject: s\n\nbody\n")
    assert r.returncode == 0, r.stderr
    [m] = queue(instance)
    assert m["sender"] == "jane@example.org" and m["rcpts"] == ["rcpt@x.test"]
    assert ("From", '"Jane Q. Doe" <jane@example.org>') in headers(m["body"])
    instance.wait_log(rf"{m['id']}: uid={os.getuid()} from=<jane@example\.org>")


def test_dsn_options_reach_the_queue(instance):
    with_submit(instance)
    r = sendmail(instance, "-N", "success,failure", "-R", "hdrs", "-V", "env 1", "-B", "8BITMIME", "r@x.test",
                 data=b"Subject: dsn\n\nx\n")
    assert r.returncode == 0, r.stderr
    [m] = queue(instance)
    assert (m["ret"], m["envid"], m["flags"] & 1) == (2, "env 1", 1)
    assert m["recipients"][0]["notify"] == 2 | 4


def test_lone_dot_ends_input_unless_i(instance):
    with_submit(instance)
    data = b"Subject: d\n\nline one\n.\nafter the dot\n"
    assert sendmail(instance, "a@x.test", data=data).returncode == 0
    assert sendmail(instance, "-i", "b@x.test", data=data).returncode == 0
    by_rcpt = {m["rcpts"][0]: m["body"] for m in queue(instance)}
    assert by_rcpt["a@x.test"].endswith(b"\r\n\r\nline one\r\n")
    assert by_rcpt["b@x.test"].endswith(b"\r\n\r\nline one\r\n.\r\nafter the dot\r\n")


def test_existing_headers_are_kept_and_dots_survive(instance):
    with_submit(instance)
    data = (b"From: me@x.test\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <1@x.test>\n\n"
            b"..two dots\n.leading\nno newline at the end")
    assert sendmail(instance, "-i", "r@x.test", data=data).returncode == 0
    [m] = queue(instance)
    assert m["body"].endswith(b"From: me@x.test\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                              b"Message-ID: <1@x.test>\r\n\r\n..two dots\r\n.leading\r\nno newline at the end\r\n")


def test_bs_speaks_smtp_on_stdin_and_stdout(instance):
    with_submit(instance)
    session = (b"EHLO me.test\r\nMAIL FROM:<s@x.test>\r\nRCPT TO:<r@y.test>\r\nDATA\r\n"
               b"Subject: bs\r\n\r\nvia -bs\r\n.\r\nQUIT\r\n")
    r = sendmail(instance, "-bs", data=session)
    assert r.returncode == 0, r.stderr
    codes = [l[:3] for l in r.stdout.decode().splitlines() if l[3:4] == " "]
    assert codes == ["220", "250", "250", "250", "354", "250", "221"], r.stdout
    [m] = queue(instance)
    assert m["sender"] == "s@x.test" and m["rcpts"] == ["r@y.test"]
    instance.wait_log(rf"{m['id']}: uid={os.getuid()} from=<s@x\.test>")


def test_bs_while_down_answers_421(instance):
    with_submit(instance, start=False)
    r = sendmail(instance, "-bs", data=b"EHLO me.test\r\n")
    assert r.returncode == 75
    assert r.stdout.startswith(b"421 4.3.0 ")


def test_mailq_lists_what_sendmail_queued(instance):
    with_submit(instance)
    assert sendmail(instance, "-bp").stdout == b"Mail queue is empty\n"
    assert sendmail(instance, "-f", "s@x.test", "r1@y.test", "r2@y.test", data=b"Subject: q\n\nx\n").returncode == 0
    [m] = queue(instance)
    out = sendmail(instance, prog=MAILQ).stdout.decode()
    lines = out.splitlines()
    assert lines[0] == "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------"
    assert re.fullmatch(rf"{m['id']}   +{m['size']} \w\w\w \w\w\w [ \d]\d \d\d:\d\d:\d\d  s@x\.test", lines[1]), lines[1]
    assert lines[2:] == [" " * 41 + "r1@y.test", " " * 41 + "r2@y.test", "", "-- 0 Kbytes in 1 Request."]
    assert sendmail(instance, "-bp").stdout.decode() == out


def test_missing_recipients_are_usage_errors(instance):
    with_submit(instance)
    r = sendmail(instance, "-t", data=b"Subject: nobody\n\nx\n")
    assert r.returncode == 64
    assert b"No recipient addresses found in message header" in r.stderr
    r = sendmail(instance, data=b"Subject: nobody\n\nx\n")
    assert r.returncode == 64 and b"Recipient addresses must be specified" in r.stderr
    assert queue(instance) == []


def test_bad_option_prints_usage(instance):
    with_submit(instance, start=False)
    r = sendmail(instance, "-Z", "r@x.test")
    assert r.returncode == 64
    assert b"invalid option -- 'Z'" in r.stderr and b"usage: sendmail" in r.stderr


def test_mail_sent_while_down_waits_in_maildrop_and_pickup_queues_it(instance):
    with_submit(instance, start=False, pickup=True)
    r = sendmail(instance, "-t", data=b"To: a@x.test\nBcc: b@x.test\nSubject: later\n\nwaited\n")
    assert r.returncode == 0, r.stderr
    maildrop = instance.queue_dir / "maildrop"
    [dropped] = list(maildrop.iterdir())
    assert not dropped.name.startswith("tmp.")
    assert (maildrop.stat().st_mode & 0o777) == 0o700
    instance.start()
    m = instance.wait_log(rf"postern/pickup\[\d+\]: (\w+): uid={os.getuid()} from=<{USER}@origin\.test>", timeout=10)
    wait_for(lambda: not dropped.exists(), timeout=5, what="pickup to remove the maildrop file")
    [q] = queue(instance)
    assert q["id"] == m.group(1) and q["rcpts"] == ["a@x.test", "b@x.test"]
    assert q["body"].startswith(b"Received: by mx.postern.test (postern, from userid %d)\r\n\tid %s; "
                                % (os.getuid(), q["id"].encode()))
    assert b"Bcc" not in q["body"] and q["body"].endswith(b"\r\n\r\nwaited\r\n")


def test_pickup_wakes_up_for_mail_dropped_while_running(instance):
    # Only submit's socket is missing: sendmail uses the maildrop and pokes pickup.
    instance.set(myorigin="origin.test", mydestination="localhost", alias_maps="")
    instance.add_service(shipped_service("pickup"))
    instance.start()
    wait_for((instance.queue_dir / "maildrop").exists, timeout=10, what="pickup to create the maildrop")
    assert sendmail(instance, "r@x.test", data=b"Subject: poke\n\nx\n").returncode == 0
    instance.wait_log(rf"pickup\[\d+\]: \w+: uid={os.getuid()} from=<{USER}@origin\.test>", timeout=5)
    wait_for(lambda: not list((instance.queue_dir / "maildrop").iterdir()), timeout=5, what="an empty maildrop")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_other_users_cannot_use_the_maildrop(instance):
    with_submit(instance)
    instance.stop()
    nobody = pwd.getpwnam("nobody")

    def become_nobody():
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)

    # nobody may not be able to reach the build tree (a checkout under /root or
    # in a 0700 directory): run a copy of sendmail from a directory anyone can search.
    with tempfile.TemporaryDirectory(prefix="postern-sendmail-") as d:
        Path(d).chmod(0o755)
        prog = Path(shutil.copy2(SENDMAIL, d))
        r = sendmail(instance, "r@x.test", data=b"Subject: x\n\nx\n", prog=prog, preexec_fn=become_nobody, cwd="/")
    assert r.returncode == 75
    assert b"only root and the mail system's owner may leave mail" in r.stderr
    assert not list((instance.queue_dir / "maildrop").glob("*"))


def test_make_run_configuration_works(tmp_path_factory):
    """scripts/run-instance's configuration step (what `make run` runs before
    start-fg), on free ports: the instance starts, accepts mail for
    demo@localhost on its SMTP port and from sendmail, and mailq sees it."""
    import smtplib
    from conftest import free_port

    run = Path(tempfile.mkdtemp(prefix="postern-run-"))
    run.chmod(0o755)  # workers run as mail_owner under root
    etc = run / "etc"
    smtp_port, submission_port = free_port(), free_port()
    env = dict(os.environ, SMTP_PORT=str(smtp_port), SUBMISSION_PORT=str(submission_port))
    try:
        r = subprocess.run([str(ROOT / "scripts" / "run-instance"), "--configure-only", str(BIN), str(run)],
                           capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        main_cf = (etc / "main.cf").read_text()
        for line in ("mydestination = localhost", "maillog_file = /dev/stdout", f"queue_directory = {run}/queue"):
            assert line in main_cf.splitlines()
        assert f"demo: {run}/mail/demo/" in (etc / "aliases").read_text()
        assert (etc / "aliases.lmdb").exists()
        # Started in the background here (start-fg would block the test).
        subprocess.run([str(BIN / "postconf"), "-c", str(etc), "-e", f"maillog_file={run}/maillog"], check=True)
        r = subprocess.run([str(BIN / "postern"), "-c", str(etc), "start"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        for port in (smtp_port, submission_port):
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
                c.sendmail("sender@example.org", ["demo@localhost"], b"Subject: make run\r\n\r\nhello demo\r\n")
        sm = subprocess.run([str(SENDMAIL), "-C", str(etc), "alice@localhost"], input=b"Subject: s\n\nx\n",
                            capture_output=True, timeout=30)
        assert sm.returncode == 0, sm.stderr
        log = run / "maillog"
        wait_for(lambda: len(re.findall(r"uid=\d+ from=<", log.read_text())) == 1, timeout=10, what="sendmail's message")
        # Until a local delivery agent runs in this instance the mail waits in the queue;
        # with one, it lands in the demo users' Maildirs.
        def delivered_or_listed():
            in_maildirs = list((run / "mail").glob("*/new/*"))
            q = subprocess.run([str(MAILQ), "-C", str(etc)], capture_output=True, text=True, timeout=30).stdout
            return len(in_maildirs) + q.count("@localhost") >= 3
        wait_for(delivered_or_listed, timeout=15, what="three messages queued or delivered")
    finally:
        subprocess.run([str(BIN / "postern"), "-c", str(etc), "stop"], capture_output=True, timeout=60)
        shutil.rmtree(run, ignore_errors=True)


def test_received_names_the_local_user_not_a_tcp_client(instance):
    # Postfix pickup's form: "by HOST (postern, from userid N)", no client, no protocol.
    with_submit(instance)
    r = sendmail(instance, "r@x.test", data=b"Subject: who\n\nme\n")
    assert r.returncode == 0, r.stderr
    [m] = queue(instance)
    lines = m["body"].split(b"\r\n")
    first = b"\r\n".join(lines[:2])
    assert not lines[2].startswith((b"\t", b" ")), lines[:3]
    assert re.fullmatch(rb"Received: by mx\.postern\.test \(postern, from userid %d\)\r\n"
                        rb"\tid %s; \w{3}, [ \d]\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4} \(\w+\)"
                        % (os.getuid(), m["id"].encode()), first), first
    instance.wait_log(rf"{m['id']}: uid={os.getuid()} from=<{USER}@origin\.test>")
