"""The pipe(8) delivery agent end to end (issue 19, "pipe(8) delivery"): mail
submitted with smtplib to smtpd on a loopback port, routed by transport_maps
to master.cf pipe services whose argv= is a small recorder script written in
the test's directory. The script records its argv, environment, ids, working
directory and standard input, and fails on demand (the recipient's local part
says how), so each test asserts what the command saw and what the queue,
the log and the sender's bounce notice say afterwards."""
import json
import os
import pwd
import re
import subprocess
import time

import pytest

from conftest import BIN, free_port, submit, wait_for
from qmgr_helpers import envelopes

ROOT = os.geteuid() == 0

SCRIPT = r'''#!/usr/bin/python3
import json, os, sys, time, uuid
data = sys.stdin.buffer.read()
out = {"argv": sys.argv, "env": dict(os.environ), "uid": os.getuid(), "euid": os.geteuid(),
       "gid": os.getgid(), "groups": sorted(os.getgroups()), "cwd": os.getcwd(), "pid": os.getpid(),
       "stdin": data.decode("latin-1")}
name = os.path.join(RECORDS, "%f-%s.json" % (time.time(), uuid.uuid4().hex))
with open(name + ".tmp", "w") as f:
    json.dump(out, f)
os.rename(name + ".tmp", name)
words = " ".join(sys.argv[1:])
if "tempfail" in words:
    print("mailbox is locked, try later")
    sys.exit(75)
if "nouser" in words:
    print("no such user here")
    sys.exit(67)
if "slow" in words:
    time.sleep(120)
'''

BODY = (b"From: sender@client.test\r\nSubject: pipe test\r\n\r\n"
        b"line one\r\nFrom the start of a line\r\n.leading dot\r\nlast line\r\n")


class Pipes:
    """An instance with qmgr, bounce, smtpd and pipe services."""

    def __init__(self, instance):
        self.i = instance
        self.records = instance.root / "records"
        self.records.mkdir()
        self.records.chmod(0o777)
        self.script = instance.root / "record.py"
        self.script.write_text(SCRIPT.replace("RECORDS", repr(str(self.records))))
        self.script.chmod(0o755)
        self.port = free_port()
        self.user = "nobody" if ROOT else pwd.getpwuid(os.geteuid()).pw_name
        instance.set(minimal_backoff_time="1s", maximal_backoff_time="2s", queue_run_delay="1s",
                     transport_retry_time="1s", service_throttle_time="1s", mydestination="localhost",
                     recipient_delimiter="+", default_transport="dovecot",
                     transport_maps="inline:{ one.test=single:, many.test=multi:, gw.test=dovecot:Gate.Example, "
                                    "small.test=small:, dm.test=dmulti: }",
                     single_destination_recipient_limit="1", dovecot_destination_recipient_limit="1",
                     dovecot_time_limit="3s")
        instance.add_service("qmgr unix n - n 300 1 qmgr")
        instance.add_service("bounce unix - - n - 0 bounce")
        instance.add_service(f"127.0.0.1:{self.port} inet n - n - - smtpd")
        macros = "${sender} ${recipient} ${nexthop} ${user} ${extension} ${size} ${original_recipient} ${mailbox}"
        self.add("dovecot", f"flags=DORFX.>B user={self.user} argv={self.script} {macros}")
        self.add("single", f"flags=R user={self.user} argv={self.script} ${{recipient}}")
        self.add("small", f"flags=D size=100 user={self.user} argv={self.script} ${{recipient}}")
        self.add("dmulti", f"flags=D user={self.user} argv={self.script} ${{recipient}}")
        self.add("multi", f"flags=R user={self.user} argv={self.script} -n -t -o x=y ${{recipient}} ${{user}}@$nexthop")

    def add(self, name, attrs):
        self.i.add_service(f"{name} unix - n n - - pipe {attrs}")

    def send(self, rcpts, sender="sender@client.test", body=BODY):
        """Submits by SMTP; returns the queue id smtpd logged."""
        return submit(self.i, self.port, rcpts, body, sender)

    def runs(self, count, timeout=20):
        """The first `count` command runs, oldest first."""
        def done():
            files = sorted(p for p in self.records.iterdir() if p.suffix == ".json")
            return files if len(files) >= count else None
        return [json.loads(p.read_text()) for p in wait_for(done, timeout, what=f"{count} command runs")]

    def wait(self, msgid, to, relay, status):
        return self.i.wait_log(rf"postern/pipe\[\d+\]: {msgid}: to=<{re.escape(to)}>, relay={relay}, "
                               rf"delay=[\d.]+, delays=[\d.]+/0/0/[\d.]+, dsn=(\S+), status={status} \((.*)\)$",
                               timeout=20)


@pytest.fixture
def pipes(instance):
    p = Pipes(instance)
    p.i.start()
    return p


def test_argv_macros_environment_user_and_flags_on_stdin(pipes):
    msgid = pipes.send(["Joe+Tag@gw.test"])
    m = pipes.wait(msgid, "Joe+Tag@gw.test", "dovecot", "sent")
    assert m.groups() == ("2.0.0", "delivered via dovecot service")
    size = pipes.i.wait_log(rf"{msgid}: from=<sender@client.test>, size=(\d+)").group(1)
    run, = pipes.runs(1)
    assert run["argv"][1:] == ["sender@client.test", "Joe+Tag@gw.test", "Gate.Example", "Joe", "Tag", size,
                               "Joe+Tag@gw.test", "Joe+Tag"]
    pw = pwd.getpwnam(pipes.user)
    assert (run["uid"], run["euid"], run["gid"]) == (pw.pw_uid, pw.pw_uid, pw.pw_gid)
    if ROOT:
        assert run["groups"] == [pw.pw_gid]  # user= alone: no supplementary groups of root's
    env = run["env"]
    assert env["PATH"] == "/usr/bin:/bin"
    assert (env["HOME"], env["LOGNAME"], env["USER"], env["SHELL"]) == (pw.pw_dir, pw.pw_name, pw.pw_name,
                                                                        pw.pw_shell)
    assert "POSTERN_CONFIG_DIR" not in env and "MAIL_CONFIG" not in env
    assert run["cwd"] == str(pipes.i.queue_dir)
    lines = run["stdin"].split("\n")
    assert re.fullmatch(r"From sender@client\.test  \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}", lines[0]), lines[0]
    assert lines[1:4] == ["Return-Path: <sender@client.test>", "X-Original-To: Joe+Tag@gw.test",
                          "Delivered-To: Joe+Tag@gw.test"]
    assert lines[4].startswith("Received: ")
    body = run["stdin"].split("\n\n", 1)[1]
    assert body == "line one\n>From the start of a line\n..leading dot\nlast line\n\n"  # flags > . B
    assert "\r" not in run["stdin"]  # eol=\n


def test_exit_75_defers_with_the_command_output_as_reason(pipes):
    msgid = pipes.send(["tempfail@gw.test"])
    m = pipes.wait(msgid, "tempfail@gw.test", "dovecot", "deferred")
    assert m.groups() == ("4.3.0", "temporary failure. Command output: mailbox is locked, try later")
    queued = wait_for(lambda: [e for e in envelopes(pipes.i) if e["state"] == "deferred"], 10,
                      what="the deferred envelope")
    assert queued[0]["rcpt"] == "tempfail@gw.test"
    assert "temporary failure. Command output: mailbox is locked, try later" in queued[0]["error"]


def test_exit_67_bounces_with_5_1_1_and_the_sender_gets_the_notice(pipes):
    msgid = pipes.send(["nouser@gw.test"], sender="owner@one.test")
    m = pipes.wait(msgid, "nouser@gw.test", "dovecot", "bounced")
    assert m.groups() == ("5.1.1", "user unknown. Command output: no such user here")
    # The notice comes back through the single service from the null sender.
    first, notice = pipes.runs(2)
    assert notice["argv"][1:] == ["owner@one.test"]
    assert notice["stdin"].startswith("Return-Path: <MAILER-DAEMON>\n")
    assert "Status: 5.1.1" in notice["stdin"] and "no such user here" in notice["stdin"]
    wait_for(lambda: not envelopes(pipes.i), 15, what="an empty queue")


def test_time_limit_kills_the_command_and_bounces_as_postfix_does(pipes):
    started = time.monotonic()
    msgid = pipes.send(["slow@gw.test"])
    m = pipes.wait(msgid, "slow@gw.test", "dovecot", "bounced")
    assert m.groups() == ("5.3.0", f'Command time limit exceeded: "{pipes.script}"')
    assert time.monotonic() - started < 60  # dovecot_time_limit = 3s, not the script's 120 s
    run, = pipes.runs(1)
    with pytest.raises(ProcessLookupError):
        os.kill(run["pid"], 0)


def test_recipient_limit_one_gives_one_run_per_recipient(pipes):
    msgid = pipes.send(["a@one.test", "b@one.test"])
    pipes.wait(msgid, "a@one.test", "single", "sent")
    pipes.wait(msgid, "b@one.test", "single", "sent")
    runs = pipes.runs(2)
    assert sorted(r["argv"][1:] for r in runs) == [["a@one.test"], ["b@one.test"]]


def test_several_recipients_share_one_run_and_expand_to_one_word_each(pipes):
    msgid = pipes.send(["a+x@many.test", "B@many.test"])
    pipes.wait(msgid, "a+x@many.test", "multi", "sent")
    pipes.wait(msgid, "B@many.test", "multi", "sent")
    run, = pipes.runs(1)
    # Option-like words after argv= are the command's, not the worker's (-n, -t, -o).
    assert run["argv"][1:5] == ["-n", "-t", "-o", "x=y"]
    # ${recipient} once per recipient, then ${user}@$nexthop in the same (request) order.
    rcpts, users = run["argv"][5:7], run["argv"][7:9]
    assert sorted(rcpts) == ["B@many.test", "a+x@many.test"]
    assert users == [r.replace("+x", "") for r in rcpts]
    assert run["stdin"].startswith("Return-Path: <sender@client.test>\n")


def test_delivered_to_loop_and_size_limit_bounce_without_running_the_command(pipes):
    looped = pipes.send(["joe@gw.test"], body=b"Delivered-To: JOE@gw.test\r\nSubject: loop\r\n\r\nx\r\n")
    m = pipes.wait(looped, "joe@gw.test", "dovecot", "bounced")
    assert m.groups() == ("5.4.6", "mail forwarding loop for joe@gw.test")
    big = pipes.send(["ann@small.test"])
    m = pipes.wait(big, "ann@small.test", "small", "bounced")
    assert m.groups() == ("5.2.3", "message too large")
    # The command never ran for either recipient (their bounce notices may
    # reach the recording default_transport: those are other deliveries).
    runs = [json.loads(p.read_text()) for p in pipes.records.iterdir() if p.suffix == ".json"]
    assert not [r for r in runs if {"joe@gw.test", "ann@small.test"} & set(r["argv"])]


def test_local_hands_mailbox_deliveries_to_mailbox_transport(instance):
    pipes = Pipes(instance)
    instance.set(mailbox_transport="dovecot", alias_maps="", local_recipient_maps="")
    instance.add_service("local unix - n n - - local")
    instance.start()
    msgid = pipes.send(["nobody@localhost"])
    m = pipes.wait(msgid, "nobody@localhost", "dovecot", "sent")
    assert m.groups() == ("2.0.0", "delivered via dovecot service")
    run, = pipes.runs(1)
    assert run["argv"][2:4] == ["nobody@localhost", "mx.postern.test"]  # local's nexthop
    assert "\nDelivered-To: nobody@localhost\n" in run["stdin"]
    instance.wait_log(rf"{msgid}: removed")
    assert not re.search(rf"postern/local\[\d+\]: {msgid}: to=", instance.log())  # pipe logged it


def test_flag_d_with_several_recipients_defers_as_a_configuration_error(pipes):
    msgid = pipes.send(["a@dm.test", "b@dm.test"])
    for rcpt in ("a@dm.test", "b@dm.test"):
        m = pipes.wait(msgid, rcpt, "dmulti", "deferred")
        assert m.groups() == ("4.3.5", "mail system configuration error")
    pipes.i.wait_log(r"warning: pipe flag `D' requires dmulti_destination_recipient_limit = 1")


@pytest.mark.skipif(not ROOT, reason="master drops unprivileged services to mail_owner only as root")
def test_a_pipe_service_dropped_to_mail_owner_refuses_to_run_commands(instance):
    pipes = Pipes(instance)
    line = f"owned unix - n n - - pipe user=nobody argv={pipes.script} ${{recipient}}"
    instance.add_service(line)
    instance.set(transport_maps="inline:{ owned.test=owned: }")
    instance.start()
    # postern start refuses this line (check); a reload of a changed master.cf does not ask.
    instance.services[instance.services.index(line)] = line.replace("unix - n n", "unix - - n")
    instance.write_config()
    instance.reload()
    msgid = pipes.send(["x@owned.test"])
    instance.wait_log(r"postern/pipe\[\d+\]: fatal: service owned: running as mail_owner \S+, commands cannot run "
                      r"as user=: set the unpriv column to n", timeout=20)
    assert not [p for p in pipes.records.iterdir() if p.suffix == ".json"]
    assert any(e["rcpt"] == "x@owned.test" for e in envelopes(instance)), msgid  # still queued


# --- postern check ---------------------------------------------------------------

def check(instance):
    r = subprocess.run([str(BIN / "postern"), "-c", str(instance.config_dir), "check"], capture_output=True,
                       text=True, timeout=30)
    return r.returncode, r.stderr.splitlines() + r.stdout.splitlines()


def test_check_reports_broken_pipe_lines(instance):
    instance.add_service("ok unix - n n - - pipe flags=R user=nobody argv=/bin/cat")
    instance.add_service("noargv unix - n n - - pipe flags=R user=nobody")
    instance.add_service("asroot unix - n n - - pipe user=root argv=/bin/cat")
    instance.add_service("gone unix - n n - - pipe user=no-such-user-here argv=/bin/cat")
    instance.add_service("unpriv unix - - n - - pipe user=nobody argv=/bin/cat")
    rc, lines = check(instance)
    assert rc != 0
    errors = [l for l in lines if "error: " in l]
    assert any("service noargv/unix: pipe: missing argv= command-line attribute" in l for l in errors), lines
    assert any("service asroot/unix: pipe: user= command-line attribute specifies root privileges" in l
               for l in errors), lines
    assert not any("service ok/unix" in l for l in lines), lines
    assert any("service unpriv/unix: pipe(8) runs commands as user=: set the unpriv column to n" in l
               for l in errors), lines
    assert any("warning: " in l and "service gone/unix: pipe: unknown username: no-such-user-here" in l
               for l in lines), lines
    assert not any("service gone/unix" in l for l in errors), lines


def test_check_knows_the_per_service_parameters_of_pipe_services(pipes):
    rc, lines = check(pipes.i)
    assert not any("error: " in l for l in lines), lines
    for name in ("dovecot_time_limit", "dovecot_destination_recipient_limit", "single_destination_recipient_limit"):
        assert not any(f"unused parameter: {name}" in l for l in lines), (name, lines)
