"""Postfix's command names over postern (postfix, postqueue, postsuper,
postcat, qshape): their options, output and exit statuses against a running
instance whose mail is deferred by a qsink transport that says 451 until a
test opens it, and held mail; the queue changes go through qmgr while the
system runs and into the queue file while it is down."""
import json
import os
import re
import subprocess
import time

import pytest

from conftest import BIN, wait_for
from qmgr_helpers import QTOOL, Sink, configure, envelopes, inject

pytestmark = pytest.mark.skipif(not QTOOL.exists(), reason="test helpers not built")

DEFER = "* defer 451 4.3.0 try again later\n"


def run(instance, program, *args, stdin=None):
    return subprocess.run([str(BIN / program), "-c", str(instance.config_dir), *args], capture_output=True,
                          text=True, timeout=60, input=stdin)


@pytest.fixture
def mta(instance):
    """qmgr and a `test` qsink transport that defers everything; retries an
    hour away, so deferred mail stays deferred until a command moves it."""
    configure(instance, minimal_backoff_time="3600s", maximal_backoff_time="3600s")
    instance.sink = Sink(instance)
    instance.sink.rules(DEFER)
    instance.start()
    return instance


def states(instance):
    """{msgid: sorted envelope states}."""
    out = {}
    for e in envelopes(instance):
        out.setdefault(e["id"][:8], []).append(e["state"])
    return {k: sorted(v) for k, v in out.items()}


def deferred(instance, *rcpts, count=1):
    """Messages injected and deferred by the sink; their ids."""
    ids = inject(instance, *rcpts, count=count)
    wait_for(lambda: all(states(instance).get(i) == ["deferred"] * len(rcpts) for i in ids), 15,
             what=f"{ids} deferred")
    return ids


def sent(instance):
    return {m for m, _ in instance.sink.sent()}


# --- postfix -----------------------------------------------------------------
def test_postfix_status_start_reload_stop_in_postfix_words(instance):
    configure(instance)
    r = run(instance, "postfix", "status")
    assert r.returncode == 1
    assert r.stderr == "postfix/postfix-script: the Postfix mail system is not running\n"
    r = run(instance, "postfix", "start")
    assert r.returncode == 0, r.stderr
    assert "postfix/postfix-script: starting the Postfix mail system\n" in r.stderr
    r = run(instance, "postfix", "status")
    assert (r.returncode, r.stderr) == (0, f"postfix/postfix-script: the Postfix mail system is running: "
                                           f"PID: {instance.master_pid()}\n")
    r = run(instance, "postfix", "start")
    assert (r.returncode, r.stderr) == (1, "postfix/postfix-script: fatal: the Postfix mail system is already running\n")
    mark = instance.log_mark()
    r = run(instance, "postfix", "reload")
    assert (r.returncode, r.stderr) == (0, "postfix/postfix-script: refreshing the Postfix mail system\n")
    instance.wait_log(r"reload -- version", since=mark)
    r = run(instance, "postfix", "stop")
    assert (r.returncode, r.stderr) == (0, "postfix/postfix-script: stopping the Postfix mail system\n")
    assert not instance.processes("master")
    r = run(instance, "postfix", "stop")
    assert (r.returncode, r.stderr) == (1, "postfix/postfix-script: fatal: the Postfix mail system is not running\n")


def test_postfix_refuses_an_unknown_command_and_warns_of_minus_d(instance):
    r = run(instance, "postfix", "frobnicate")
    assert r.returncode == 1
    assert r.stderr.startswith("postfix/postfix-script: fatal: unknown command: 'frobnicate'. Usage: postfix start")
    r = run(instance, "postfix", "-D", "status")
    assert r.returncode == 1
    assert "postfix: warning: -D: postern has no debugger_command" in r.stderr
    assert run(instance, "postfix").returncode == 1


# --- postqueue ---------------------------------------------------------------
def test_postqueue_p_prints_what_mailq_prints(mta):
    ids = deferred(mta, "a@x.test", "b@y.test", count=2)
    assert run(mta, "postsuper", "-h", ids[1]).returncode == 0
    r = run(mta, "postqueue", "-p")
    m = subprocess.run([str(BIN / "mailq"), "-C", str(mta.config_dir)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and m.returncode == 0
    assert r.stdout == m.stdout
    assert f"\n{ids[1]}!" in r.stdout and "try again later" in r.stdout
    assert r.stdout.endswith(" in 2 Requests.\n")


def test_postqueue_j_prints_one_json_object_per_message(mta):
    ids = deferred(mta, "a@x.test", "b@y.test")
    held = deferred(mta, "c@z.test")[0]
    run(mta, "postsuper", "-h", held)
    r = run(mta, "postqueue", "-j")
    assert r.returncode == 0, r.stderr
    objs = {o["queue_id"]: o for o in map(json.loads, r.stdout.splitlines())}
    assert set(objs) == {ids[0], held}
    o = objs[ids[0]]
    assert o["queue_name"] == "deferred" and o["sender"] == "sender@example.org" and o["forced_expire"] is False
    assert isinstance(o["arrival_time"], int) and o["message_size"] > 0
    assert sorted(r["address"] for r in o["recipients"]) == ["a@x.test", "b@y.test"]
    assert all("451 4.3.0 try again later" in r["delay_reason"] for r in o["recipients"])
    assert objs[held]["queue_name"] == "hold"


def test_postqueue_f_delivers_deferred_mail_once_the_sink_is_up(mta):
    ids = deferred(mta, "a@x.test", count=2)
    mta.sink.rules("")
    r = run(mta, "postqueue", "-f")
    assert (r.returncode, r.stderr) == (0, "")
    wait_for(lambda: set(ids) <= sent(mta), 15, what="flushed mail delivered")


def test_postqueue_i_schedules_only_the_named_messages(mta):
    first, second, third = deferred(mta, "a@x.test", count=3)
    mta.sink.rules("")
    assert run(mta, "postqueue", "-i", first, "-i", third).returncode == 0
    wait_for(lambda: {first, third} <= sent(mta), 15, what="the named messages delivered")
    assert states(mta)[second] == ["deferred"]
    r = run(mta, "postqueue", "-i", "not-an-id")
    assert (r.returncode, r.stderr) == (64, 'postqueue: fatal: Invalid request: "not-an-id"\n')


def test_postqueue_s_flushes_one_destination(mta):
    [to_a] = deferred(mta, "u@a.test")
    [to_b] = deferred(mta, "u@b.test")
    mta.sink.rules("")
    assert run(mta, "postqueue", "-s", "a.test").returncode == 0
    wait_for(lambda: to_a in sent(mta), 15, what="mail for a.test delivered")
    assert states(mta)[to_b] == ["deferred"]
    r = run(mta, "postqueue", "-s", "bad;site")
    assert r.returncode == 64
    assert 'Cannot flush mail queue - invalid destination: "bad;site"' in r.stderr


def test_postqueue_flush_and_usage_when_the_system_is_down(instance):
    configure(instance)
    r = run(instance, "postqueue", "-f")
    assert (r.returncode, r.stderr) == (69, "postqueue: fatal: Cannot flush mail queue - mail system is down\n")
    r = run(instance, "postqueue", "-p", "-f")
    assert r.returncode == 64 and "usage: postqueue -f | postqueue -i queueid" in r.stderr
    r = run(instance, "postqueue", "-p")
    assert (r.returncode, r.stdout) == (0, "Mail queue is empty\n")


# --- postsuper ---------------------------------------------------------------
def test_postsuper_d_deletes_one_message_through_qmgr(mta):
    gone, kept = deferred(mta, "a@x.test", count=2)
    r = run(mta, "postsuper", "-d", gone)
    assert (r.returncode, r.stderr) == (0, f"postsuper: {gone}: removed\npostsuper: Deleted: 1 message\n")
    assert set(states(mta)) == {kept}
    mta.wait_log(rf"{gone}: to=<a@x\.test>, status=removed \(removed by administrator\)")


def test_postsuper_d_all_deferred_leaves_held_mail(mta):
    ids = deferred(mta, "a@x.test", count=3)
    held = deferred(mta, "b@y.test")[0]
    assert run(mta, "postsuper", "-h", held).stderr == f"postsuper: {held}: placed on hold\n" \
                                                      f"postsuper: Placed on hold: 1 message\n"
    r = run(mta, "postsuper", "-d", "ALL", "deferred")
    assert (r.returncode, r.stderr) == (0, "postsuper: Deleted: 3 messages\n")
    assert states(mta) == {held: ["hold"]}
    assert not set(ids) & set(states(mta))


def test_postsuper_all_over_every_queue_counts_messages_not_envelopes(mta):
    ids = deferred(mta, "a@x.test", "b@x.test", count=3)
    held = deferred(mta, "c@y.test")[0]
    run(mta, "postsuper", "-h", held)
    # The whole queue: qmgr's paged bulk commands, reported per message.
    assert run(mta, "postsuper", "-h", "ALL").stderr == "postsuper: Placed on hold: 3 messages\n"
    assert states(mta) == {i: ["hold"] * 2 for i in ids} | {held: ["hold"]}
    assert run(mta, "postsuper", "-H", "ALL").stderr == "postsuper: Released from hold: 4 messages\n"
    wait_for(lambda: set(map(tuple, states(mta).values())) == {("deferred", "deferred"), ("deferred",)}, 15,
             what="released mail deferred again")
    assert run(mta, "postsuper", "-d", "ALL").stderr == "postsuper: Deleted: 4 messages\n"
    assert states(mta) == {}


def test_postsuper_h_holds_and_H_releases_to_delivery(mta):
    [msg] = deferred(mta, "a@x.test")
    run(mta, "postsuper", "-h", msg)
    assert states(mta)[msg] == ["hold"]
    assert f"{msg}!" in run(mta, "postqueue", "-p").stdout
    mta.sink.rules("")
    r = run(mta, "postsuper", "-H", msg)
    assert r.stderr == f"postsuper: {msg}: released from hold\npostsuper: Released from hold: 1 message\n"
    wait_for(lambda: msg in sent(mta), 15, what="released mail delivered")


def test_postsuper_r_requeues_for_delivery_now(mta):
    [msg] = deferred(mta, "a@x.test")
    mta.sink.rules("")
    r = run(mta, "postsuper", "-r", msg)
    assert r.stderr == f"postsuper: {msg}: requeued\npostsuper: Requeued: 1 message\n"
    wait_for(lambda: msg in sent(mta), 15, what="requeued mail delivered")


def test_postsuper_reads_queue_ids_from_stdin(mta):
    a, b, c = deferred(mta, "a@x.test", count=3)
    r = run(mta, "postsuper", "-d", "-", stdin=f"{a}\n {b} \n\n")
    assert r.stderr.endswith("postsuper: Deleted: 2 messages\n")
    assert set(states(mta)) == {c}


def test_postsuper_warns_of_a_bad_id_and_refuses_a_bad_queue_name(mta):
    r = run(mta, "postsuper", "-d", "nonsense")
    assert (r.returncode, r.stderr) == (0, "postsuper: warning: invalid mail queue id: nonsense\n")
    r = run(mta, "postsuper", "-d", "ALL", "bounce")
    assert (r.returncode, r.stderr) == (1, "postsuper: fatal: invalid directory name: bounce\n")
    # A well-formed id of no queued message: nothing to report, as Postfix.
    assert run(mta, "postsuper", "-d", "0badc0de").stderr == ""
    # -H looks only in hold: a deferred message is not "released".
    [msg] = deferred(mta, "a@x.test")
    assert run(mta, "postsuper", "-H", msg).stderr == ""


def test_postsuper_changes_the_queue_file_while_the_system_is_down(mta):
    a, b = deferred(mta, "a@x.test", count=2)
    mta.stop()
    assert run(mta, "postsuper", "-h", "ALL").stderr == "postsuper: Placed on hold: 2 messages\n"
    assert run(mta, "postsuper", "-d", a).stderr == f"postsuper: {a}: removed\npostsuper: Deleted: 1 message\n"
    assert states(mta) == {b: ["hold"]}
    r = run(mta, "postsuper", "-s")
    assert r.returncode == 0 and "fatal" not in r.stderr


def test_postsuper_never_goes_around_a_running_system(instance):
    # master runs without a queue manager: postsuper says so, it does not
    # change the queue file behind master's back.
    instance.add_testd()
    instance.start()
    [msg] = inject(instance, "a@x.test", trigger=False)
    r = run(instance, "postsuper", "-d", msg)
    assert r.returncode == 1
    assert r.stderr.startswith("postsuper: fatal: the queue manager is not running")
    assert msg in states(instance)


# --- postcat -----------------------------------------------------------------
def test_postcat_q_prints_envelope_and_content_in_postfix_shape(mta):
    [msg] = deferred(mta, "a@x.test")
    r = run(mta, "postcat", "-q", msg)
    assert r.returncode == 0, r.stderr
    where = f"deferred/{msg}"
    out = r.stdout
    assert out.startswith(f"*** ENVELOPE RECORDS {where} ***\nmessage_size: ")
    assert "\nsender: sender@example.org\n" in out and "\nrecipient: a@x.test\n" in out
    assert re.search(r"\nmessage_arrival_time: \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n", out)
    assert f"\n*** MESSAGE CONTENTS {where} ***\nSubject: test 0\nX-Qtool-Id: {msg}\n\nmessage 0\n" in out
    assert out.endswith(f"*** HEADER EXTRACTED {where} ***\n*** MESSAGE FILE END {where} ***\n")
    assert "\r" not in out

    env = run(mta, "postcat", "-e", "-q", msg).stdout
    assert "recipient: a@x.test" in env and "Subject:" not in env and "MESSAGE FILE END" in env
    assert run(mta, "postcat", "-hq", msg).stdout == f"Subject: test 0\nX-Qtool-Id: {msg}\n"
    assert run(mta, "postcat", "-bq", msg).stdout == "\nmessage 0\n"
    r = run(mta, "postcat", "-q", "0badc0de")
    assert (r.returncode, r.stderr) == (1, "postcat: fatal: open queue file 0badc0de: No such file or directory\n")


# --- qshape ------------------------------------------------------------------
def qshape_rows(out):
    """{domain: [T, bucket counts...]} of qshape's table."""
    rows = {}
    for line in out.splitlines()[1:]:
        f = line.split()
        rows[f[0]] = [int(x) for x in f[1:]]
    return rows


def test_qshape_counts_domains_by_age(instance):
    configure(instance)  # not started: what is injected stays incoming
    inject(instance, "u@a.test", "v@a.test", trigger=False)               # 0 minutes
    inject(instance, "u@b.test", age=7 * 60, trigger=False)               # bucket 10
    inject(instance, "u@a.test", age=3 * 3600, sender="x@old.test", trigger=False)  # bucket 320
    r = run(instance, "qshape")
    assert r.returncode == 0, r.stderr
    head = r.stdout.splitlines()[0].split()
    assert head == ["T", "5", "10", "20", "40", "80", "160", "320", "640", "1280", "1280+"]
    assert all(len(l) == 80 for l in r.stdout.splitlines())
    rows = qshape_rows(r.stdout)
    assert rows["TOTAL"] == [4, 2, 1, 0, 0, 0, 0, 1, 0, 0, 0]
    assert rows["a.test"] == [3, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    assert rows["b.test"] == [1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    senders = qshape_rows(run(instance, "qshape", "-s").stdout)
    assert senders["example.org"][0] == 2 and senders["old.test"] == [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    linear = qshape_rows(run(instance, "qshape", "-l", "-t", "60", "-b", "4").stdout)
    assert linear["TOTAL"] == [4, 3, 0, 0, 1]
    assert qshape_rows(run(instance, "qshape", "deferred").stdout) == {"TOTAL": [0] * 11}


# --- the maildrop ----------------------------------------------------------------
def test_maildrop_mail_is_shaped_deleted_and_purged_while_the_system_is_down(instance):
    configure(instance)
    env = dict(os.environ, POSTERN_CONFIG_DIR=str(instance.config_dir))
    r = subprocess.run([str(BIN / "sendmail"), "-f", "me@here.test", "u@there.test", "v@there.test"],
                       input=b"Subject: later\n\nwaits\n", capture_output=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    maildrop = instance.queue_dir / "maildrop"
    assert len(list(maildrop.iterdir())) == 1
    rows = qshape_rows(run(instance, "qshape", "maildrop").stdout)
    assert rows["there.test"][:2] == [2, 2]
    assert qshape_rows(run(instance, "qshape", "-s", "maildrop").stdout)["here.test"][0] == 1
    # -p: half-written files of a crashed sendmail go after a day, fresh ones stay.
    old, fresh = maildrop / "tmp.crashed", maildrop / "tmp.writing"
    old.write_text("x")
    fresh.write_text("x")
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    assert run(instance, "postsuper", "-p").returncode == 0
    assert not old.exists() and fresh.exists()
    r = run(instance, "postsuper", "-d", "ALL", "maildrop")
    assert (r.returncode, r.stderr) == (0, "postsuper: Deleted: 1 message\n")
    assert [p.name for p in maildrop.iterdir()] == ["tmp.writing"]
