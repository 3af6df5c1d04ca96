"""postern's control channel and queue commands (smtpctl's set): a running
instance with mail queued through qmgr to a qsink transport, driven by the
`postern` command over $queue_directory/public/control."""
import json
import os
import pwd
import re
import shutil
import subprocess

import pytest

from conftest import BIN, wait_for
from qmgr_helpers import Sink, configure, envelopes, inject, route_lines, scan_settled, wait_route


@pytest.fixture
def sys_(instance):
    """A started instance: qmgr, a qsink transport `test` for all mail."""
    configure(instance)
    sink = Sink(instance)
    instance.start()
    wait_for(lambda: instance.processes("qmgr"), 5, what="qmgr")
    wait_for(lambda: (instance.queue_dir / "public" / "control").exists(), 5, what="the control socket")
    instance.sink = sink
    return instance


def ok(instance, *args):
    r = instance.postern(*args)
    assert r.returncode == 0, f"postern {' '.join(args)}: {r.stderr}"
    return r.stdout


def queue_lines(instance, *extra):
    return [l for l in ok(instance, "show", "queue", *extra).splitlines() if l]


def test_control_socket_is_private(sys_):
    st = os.stat(sys_.queue_dir / "public" / "control")
    assert st.st_mode & 0o777 == 0o600
    owner = pwd.getpwnam(sys_.params.get("mail_owner", "postern")).pw_uid if os.geteuid() == 0 else os.geteuid()
    assert st.st_uid == owner


def test_show_status_and_pause_mta_keeps_mail_queued(sys_):
    assert ok(sys_, "show", "status").startswith("MDA running\nMTA running\nSMTP running\nQUEUE file ")
    assert ok(sys_, "pa", "mta") == "command succeeded\n"  # abbreviated
    assert "MTA paused" in ok(sys_, "sh", "statu")
    mark = sys_.log_mark()
    (msgid,) = inject(sys_, "rcpt@example.net")
    sys_.wait_log(rf"{msgid}: from=<sender@example.org>", since=mark)
    # qmgr took the envelope in and holds it at its destination: not dispatched.
    wait_route(sys_, r" test:example\.net paused window=\d+ busy=0 queued=1$")
    assert sys_.sink.sent() == []
    lines = queue_lines(sys_)
    assert len(lines) == 1 and lines[0].startswith(msgid)
    f = lines[0].split("|")
    assert f[1:3] == ["inet4", "mta"] or f[1:3] == ["local", "mta"]
    assert f[4:7] == ["sender@example.org", "rcpt@example.net", "rcpt@example.net"]
    assert f[11] == "pending"
    # Pausing twice fails as smtpctl's does.
    r = sys_.postern("pause", "mta")
    assert r.returncode == 1 and "already paused" in r.stderr
    assert ok(sys_, "resume", "mta") == "command succeeded\n"
    wait_for(lambda: sys_.sink.sent() == [(msgid, "rcpt@example.net")], 5, what="delivery after resume")
    assert "MTA running" in ok(sys_, "show", "status")


def test_pause_mta_survives_reload(sys_):
    ok(sys_, "pause", "mta")
    sys_.reload()
    assert "MTA paused" in ok(sys_, "show", "status")
    mark = sys_.log_mark()
    (msgid,) = inject(sys_, "after-reload@example.net")
    sys_.wait_log(rf"{msgid}: from=", since=mark, timeout=10)
    wait_route(sys_, r" test:example\.net paused window=\d+ busy=0 queued=1$")
    assert sys_.sink.sent() == []
    ok(sys_, "resume", "mta")
    wait_for(lambda: sys_.sink.sent(), 5, what="delivery after resume")


def test_remove_message_logs_and_sends_no_bounce(sys_):
    ok(sys_, "trace", "bounce")
    sys_.sink.rules("* defer 451 4.3.0 try later\n")
    (msgid,) = inject(sys_, "a@example.net", "b@example.net")
    wait_for(lambda: all(e["attempts"] >= 1 for e in envelopes(sys_)) and len(envelopes(sys_)) == 2, 10,
             what="a deferred attempt")
    mark = sys_.log_mark()
    assert ok(sys_, "remove", msgid) == "2 envelopes removed\n"
    assert envelopes(sys_) == []
    sys_.wait_log(rf"{msgid}: to=<a@example.net>, status=removed \(removed by administrator\)", since=mark)
    # qmgr asks bounce for a notice on its loop (traced as it asks); a control
    # request answered after the removal proves that moment has passed.
    route_lines(sys_)
    assert "bounce" not in sys_.log()[mark:]
    assert queue_lines(sys_) == []
    assert ok(sys_, "remove", msgid) == "0 envelope removed\n"


def test_schedule_all_retries_deferred_mail_at_once(sys_):
    sys_.set(minimal_backoff_time="300s", maximal_backoff_time="600s")
    sys_.reload()
    sys_.sink.rules("* defer 451 4.3.0 try later\n")
    (msgid,) = inject(sys_, "x@example.net")
    wait_for(lambda: [e["attempts"] for e in envelopes(sys_)] == [1], 10, what="one deferred attempt")
    line = queue_lines(sys_)[0].split("|")
    assert line[11] == "pending" and int(line[12]) > 200  # next try minutes away
    assert "try later" in line[13]
    sys_.sink.rules("")
    assert ok(sys_, "sch", "all") == "1 envelope scheduled\n"
    wait_for(lambda: sys_.sink.sent() == [(msgid, "x@example.net")], 5, what="the retry")


def test_pause_and_resume_envelope(sys_):
    ok(sys_, "trace", "scheduler")
    ok(sys_, "pause", "mta")
    (msgid,) = inject(sys_, "held@example.net")
    env = wait_for(lambda: queue_lines(sys_), 5, what="the envelope")[0].split("|")[0]
    assert ok(sys_, "pause", "envelope", env) == "1 envelope paused\n"
    assert [e["state"] for e in envelopes(sys_)] == ["hold"]
    mark = sys_.log_mark()
    ok(sys_, "resume", "mta")
    after = scan_settled(sys_, mark)
    assert "dispatch to" not in after and sys_.sink.sent() == []
    (line,) = queue_lines(sys_)
    assert line.startswith(env + "|") and line.split("|")[11] == "held"
    assert ok(sys_, "resume", "envelope", "all") == "1 envelope resumed\n"
    wait_for(lambda: sys_.sink.sent() == [(msgid, "held@example.net")], 5, what="delivery after resume")


def test_show_envelope_message_and_json(sys_):
    ok(sys_, "pause", "mta")
    (msgid,) = inject(sys_, "j@example.net", size=3000)
    wait_for(lambda: queue_lines(sys_), 5, what="the envelope")
    env = queue_lines(sys_)[0].split("|")[0]
    detail = ok(sys_, "show", "envelope", env)
    assert f"id: {env}\n" in detail and "dest: j@example.net\n" in detail
    raw = ok(sys_, "show", "message", msgid)
    assert f"X-Qtool-Id: {msgid}\n" in raw and raw.count("padding") > 300
    assert ok(sys_, "show", "message", env) == raw
    objs = [json.loads(l) for l in queue_lines(sys_, "--json")]
    assert objs[0]["id"] == env and objs[0]["dest"] == "j@example.net" and objs[0]["runstate"] == "pending"
    assert ok(sys_, "schedule", env) == "1 envelope scheduled\n"
    assert re.match(r"^[0-9a-f]{16}\. test:", ok(sys_, "show", "routes"))
    assert ok(sys_, "show", "hosts") == ""  # qsink reports no connections (test_show_views.py: smtp does)
    ok(sys_, "resume", "mta")
    wait_for(lambda: sys_.sink.sent(), 5, what="delivery")
    wait_for(lambda: ok(sys_, "show", "hoststats").startswith("example.net|"), 5, what="hoststats")


def test_show_queue_offline_when_stopped(sys_):
    sys_.sink.rules("* defer 451 4.3.0 try later\n")
    (msgid,) = inject(sys_, "off@example.net")
    wait_for(lambda: [e["attempts"] for e in envelopes(sys_)] == [1], 10, what="a deferred attempt")
    sys_.stop()
    wait_for(lambda: not sys_.processes(), 10, what="everything stopped")
    lines = queue_lines(sys_)
    assert len(lines) == 1
    f = lines[0].split("|")
    assert f[0].startswith(msgid) and f[11] == "offline"
    assert json.loads(queue_lines(sys_, "--json")[0])["runstate"] == "offline"
    r = sys_.postern("show", "status")
    assert r.returncode == 1 and "not running" in r.stderr


def test_abbreviations_ambiguity_and_usage(sys_):
    assert ok(sys_, "sh", "que") == ""
    r = sys_.postern("sh", "q")
    assert r.returncode == 1
    assert r.stderr == "postern: ambiguous command: sh q: show quarantine, show queue\n"
    r = sys_.postern("sh", "st")
    assert r.returncode == 1
    assert r.stderr == "postern: ambiguous command: sh st: show stats, show status\n"
    r = sys_.postern("bogus")
    assert r.returncode == 1 and "usage: postern" in r.stderr
    for bad in (["remove", "123"], ["remove", "zzzzzzzz"], ["show", "envelope", "0123abcd"],
                ["uncorrupt", "0123abcd00000001"], ["show", "status", "extra"]):
        r = sys_.postern(*bad)
        assert r.returncode == 1 and r.stderr.startswith("postern: "), (bad, r.stderr)
    r = sys_.postern("show", "envelope", "0123abcd00000001")
    assert r.returncode == 1 and "no such envelope" in r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the client as another user")
def test_permission_denied_for_another_user(sys_):
    runuser = shutil.which("setpriv")
    assert runuser
    r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                        str(BIN / "postern"), "-c", str(sys_.config_dir), "show", "status"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert r.stderr.strip() == "postern: permission denied"


def test_show_queue_prints_the_expiry_qmgr_decides(instance):
    # The sending program (qtool) reads main.cf's 1d; qmgr has its own 2h:
    # qmgr's lifetime decides when the envelope expires, and show queue says so.
    configure(instance, maximal_queue_lifetime="1d")
    instance.services = [s + " -o maximal_queue_lifetime=2h" if s.startswith("qmgr ") else s
                         for s in instance.services]
    instance.write_config()
    instance.sink = Sink(instance)
    instance.start()
    wait_for(lambda: (instance.queue_dir / "public" / "control").exists(), 5, what="the control socket")
    ok(instance, "pause", "mta")
    (msgid,) = inject(instance, "later@example.net")
    f = wait_for(lambda: queue_lines(instance), 5, what="the envelope")[0].split("|")
    created, expiry = int(f[7]), int(f[8])
    assert abs(expiry - created - 7200) <= 2, f
    detail = ok(instance, "show", "envelope", f[0])
    assert f"expire: {expiry}\n" in detail
