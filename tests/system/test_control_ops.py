"""The operator's controls that reach every worker, against running
instances with real mail: trace lines of each subsystem (on, then off
again), update table in qmgr, the bounce and removal counters of show stats
and monitor, the time limit on requests master relays, `all` commands paged
through thousands of envelopes while other requests are answered, and
`set option` adopted by a running qmgr and a running local."""
import os
import re
import signal
import socket
import struct
import subprocess
import time

import pytest

from conftest import wait_for
from qmgr_helpers import QTOOL, Sink, configure, envelopes, inject
from test_control_stats import Live
from test_local import Mda, chown_tree


@pytest.fixture
def live(instance):
    if not QTOOL.exists():
        pytest.skip("qtool not built")
    return Live(instance)


def ok(instance, *args, timeout=60):
    r = instance.postern(*args, timeout=timeout)
    assert r.returncode == 0, f"postern {' '.join(args)}: {r.stderr}"
    return r.stdout


def request_frame(*words, req_id=7):
    """A control request as ctl sends it (ipc/control.h): 'R', id, words."""
    p = b"R" + struct.pack(">II", req_id, len(words))
    for w in words:
        p += struct.pack(">I", len(w)) + w.encode()
    return struct.pack(">I", len(p)) + p


# --- trace SUBSYSTEM ------------------------------------------------------

def test_trace_scheduler_logs_scan_route_dispatch_and_result_until_untraced(live):
    assert live.ctl("trace", "scheduler").stdout.strip() == "tracing: scheduler"
    mark = live.instance.log_mark()
    live.send()
    w = live.instance.wait_log
    w(r"qmgr\[\d+\]: trace: scheduler: scan: \d+ due envelope\(s\) read, \d+ taken", since=mark, timeout=20)
    w(r"qmgr\[\d+\]: trace: scheduler: [0-9a-f]{8}: envelope [0-9a-f]{16} to <u@example\.test> routed to test:",
      since=mark, timeout=20)
    w(r"qmgr\[\d+\]: trace: scheduler: [0-9a-f]{8}: dispatch to test:\S+ 1 recipient\(s\)", since=mark, timeout=20)
    w(r"qmgr\[\d+\]: trace: scheduler: [0-9a-f]{8}: result for <u@example\.test> from test:\S+ sent \S+",
      since=mark, timeout=20)
    assert live.ctl("untrace", "scheduler").stdout.strip() == "tracing: none"
    mark = live.instance.log_mark()
    live.send("v@example.test")
    wait_for(lambda: len(live.sink.sent()) == 2, 20, what="the second delivery")
    w(r"qmgr\[\d+\]: [0-9a-f]{8}: removed", since=mark, timeout=20)
    assert "trace: scheduler" not in live.instance.log()[mark:]


def test_trace_lookup_logs_every_table_lookup_with_its_result(instance):
    table = instance.root / "transport"
    table.write_text("example.test test:\n")
    live = Live(instance, transport_maps=f"texthash:{table}")
    live.ctl("trace", "lookup")
    mark = instance.log_mark()
    live.send()
    instance.wait_log(rf"qmgr\[\d+\]: trace: lookup: texthash:{re.escape(str(table))}: example\.test: found: test:",
                      since=mark, timeout=20)
    wait_for(live.sink.sent, 20, what="delivery")
    live.ctl("untrace", "lookup")
    mark = instance.log_mark()
    live.send()
    wait_for(lambda: len(live.sink.sent()) == 2, 20, what="the second delivery")
    instance.wait_log(r"qmgr\[\d+\]: [0-9a-f]{8}: removed", since=mark, timeout=20)
    assert "trace: lookup" not in instance.log()[mark:]


def test_trace_lookup_never_logs_a_password_table_value(instance):
    import base64
    from test_auth import crypt_hash
    hashed = crypt_hash("s3cret pass")
    table = instance.root / "sasl_passwd"
    table.write_text(f"alice {hashed}\n")
    live = Live(instance, smtpd_sasl_auth_enable="yes", smtpd_tls_auth_only="no",
                smtpd_sasl_password_maps=f"texthash:{table}", smtpd_sasl_failure_delay="0s")
    live.ctl("trace", "lookup")
    mark = instance.log_mark()
    with live.client() as c:
        code, _ = c.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0alice\0s3cret pass").decode())
        assert code == 235
    instance.wait_log(rf"smtpd\[\d+\]: trace: lookup: texthash:{re.escape(str(table))}: alice: found \(value not shown\)",
                      since=mark, timeout=20)
    log = instance.log()[mark:]
    assert hashed not in log and hashed.split("$")[-1] not in log and "s3cret" not in log


def test_trace_bounce_follows_a_notice_and_show_stats_counts_it(live):
    before = live.stats()
    assert before["bounce.message"] == "0" and before["bounce.envelope"] == "0"
    live.sink.rules("u@* bounce 550 5.1.1 no such user\n")
    live.ctl("trace", "bounce")
    mark = live.instance.log_mark()
    live.send()
    w = live.instance.wait_log
    w(r"qmgr\[\d+\]: trace: bounce: [0-9a-f]{8}: asking the bounce service for a non-delivery notice about 1 "
      r"recipient", since=mark, timeout=20)
    w(r"bounce\[\d+\]: trace: bounce: [0-9a-f]{8}: request from qmgr about 1 recipient\(s\) \(<u@example\.test> "
      r"failed\) of a message from <a@example\.org>: 1 notice\(s\) planned", since=mark, timeout=20)
    notice = w(r"bounce\[\d+\]: trace: bounce: [0-9a-f]{8}: .* to <a@example\.org> queued as ([0-9a-f]{8})",
               since=mark, timeout=20).group(1)
    w(rf"qmgr\[\d+\]: trace: bounce: [0-9a-f]{{8}}: bounce service answered for the non-delivery notice: ok, "
      rf"queued as {notice}", since=mark, timeout=20)
    s = wait_for(lambda: (lambda s: s if s["bounce.message"] == "1" else None)(live.stats()), 10,
                 what="bounce.message in show stats")
    assert s["bounce.envelope"] == "1"
    # The notice itself goes to the sink: delivered, no second notice.
    wait_for(lambda: any(r == "a@example.org" for _, r in live.sink.sent()), 20, what="the notice delivered")
    live.ctl("untrace", "bounce")
    mark = live.instance.log_mark()
    live.send()
    w(r"qmgr\[\d+\]: [0-9a-f]{8}: removed", since=mark, timeout=10, count=2)  # the message and its notice
    assert "trace: bounce" not in live.instance.log()[mark:]


def test_trace_ipc_logs_frames_and_trace_all_turns_everything_on(live):
    live.ctl("trace", "ipc")
    mark = live.instance.log_mark()
    live.send()
    live.instance.wait_log(r"qmgr\[\d+\]: trace: ipc: sent frame type Q, \d+ bytes", since=mark, timeout=20)
    live.instance.wait_log(r"qmgr\[\d+\]: trace: ipc: received frame type R, \d+ bytes", since=mark, timeout=20)
    assert live.ctl("untrace", "ipc").stdout.strip() == "tracing: none"
    assert live.ctl("trace", "all").stdout.strip() == "tracing: all"
    mark = live.instance.log_mark()
    live.send()
    for sub in ("scheduler", "ipc", "io"):
        live.instance.wait_log(rf"trace: {sub}: ", since=mark, timeout=20)
    live.ctl("untrace", "all")
    mark = live.instance.log_mark()
    live.send()
    wait_for(lambda: len(live.sink.sent()) == 3, 20, what="the third delivery")
    live.instance.wait_log(r"qmgr\[\d+\]: [0-9a-f]{8}: removed", since=mark, timeout=20)
    assert "trace: " not in live.instance.log()[mark:]


def test_trace_expand_logs_alias_expansion_in_local(instance):
    mda = Mda(instance)
    a, b = mda.out / "a", mda.out / "b"
    mda.write_aliases(f"team: {a}/, {b}/\n")
    chown_tree(mda.out, mda.privs)
    mda.start()
    ok(instance, "trace", "expand")
    mark = instance.log_mark()
    msgid = mda.send(["team@localhost"], b"Subject: t\r\n\r\nbody\r\n")
    instance.wait_log(rf"local\[\d+\]: trace: expand: {msgid}: alias expansion of <team@localhost>: 2 "
                      rf"destination\(s\): {re.escape(str(a))}/, {re.escape(str(b))}/", since=mark, timeout=20)
    mda.wait(msgid, "team@localhost")
    ok(instance, "untrace", "expand")
    mark = instance.log_mark()
    msgid = mda.send(["team@localhost"], b"Subject: t2\r\n\r\nbody\r\n")
    mda.wait(msgid, "team@localhost")
    assert "trace: expand" not in instance.log()[mark:]


# --- update table NAME ----------------------------------------------------

@pytest.fixture
def routed(instance):
    """qmgr routing example.test through transport_maps to one of two sinks."""
    if not QTOOL.exists():
        pytest.skip("qtool not built")
    table = instance.root / "transport"
    table.write_text("example.test alt1:\n")
    configure(instance, transport_maps=f"texthash:{table}", alias_maps=f"texthash:{instance.root / 'aliases'}")
    (instance.root / "aliases").write_text("postmaster: root\n")
    sinks = Sink(instance, "alt1"), Sink(instance, "alt2")
    instance.start()
    wait_for(lambda: instance.processes("qmgr"), 5, what="qmgr")
    return instance, table, sinks


def test_update_table_makes_qmgr_reread_transport_maps_without_reload(routed):
    instance, table, (alt1, alt2) = routed
    (m1,) = inject(instance, "u@example.test")
    wait_for(lambda: alt1.sent() == [(m1, "u@example.test")], 20, what="delivery through alt1")
    st = table.stat()
    # Same size, same mtime: the table's own change check sees nothing.
    with open(table, "r+") as f:
        f.write("example.test alt2:\n")
    os.utime(table, ns=(st.st_atime_ns, st.st_mtime_ns))
    time.sleep(1.2)  # past the table's recheck interval
    (m2,) = inject(instance, "u@example.test")
    wait_for(lambda: (m2, "u@example.test") in alt1.sent(), 20, what="still alt1 before update table")
    mark = instance.log_mark()
    assert ok(instance, "update", "table", f"texthash:{table}") == ""
    instance.wait_log(rf"qmgr\[\d+\]: table texthash:{re.escape(str(table))} reloaded by administrator", since=mark, timeout=20)
    (m3,) = inject(instance, "u@example.test")
    wait_for(lambda: alt2.sent() == [(m3, "u@example.test")], 20, what="delivery through alt2 after update table")


def test_update_table_of_a_table_no_running_worker_holds(routed):
    instance, table, sinks = routed
    # alias_maps is local's; no local runs here: main.cf naming it is enough.
    mark = instance.log_mark()
    ok(instance, "update", "table", f"texthash:{instance.root / 'aliases'}")
    instance.wait_log(r"reloaded by administrator \(no running process holds it\)", since=mark, timeout=20)
    r = instance.postern("update", "table", "texthash:/no/such/table")
    assert r.returncode == 1 and "not open" in r.stderr


# --- counters: removals and bounces --------------------------------------

def test_show_stats_and_monitor_count_administrator_removals(live):
    before = live.stats()
    assert before["scheduler.envelope.removed"] == "0"
    live.ctl("pause", "mta")
    (msgid,) = inject(live.instance, "r1@example.net", "r2@example.net")
    wait_for(lambda: len(envelopes(live.instance)) == 2, 20, what="the envelopes")
    assert live.ctl("remove", msgid).stdout == "2 envelopes removed\n"
    wait_for(lambda: live.stats()["scheduler.envelope.removed"] == "2", 20, what="the removals in show stats")
    out = live.ctl("monitor", "1", "1").stdout.splitlines()
    assert out[1].split() == ["curr", "conn", "disc", "curr", "enq", "deq", "ok", "tmpfail", "prmfail", "loop",
                              "expire", "remove", "bounce", "drop", "early", "limit", "rcpt"]
    row = out[2].split()
    assert len(row) == 17 and row[11] == "2" and row[12] == "0"  # first row: absolute


# --- a worker that does not answer ---------------------------------------

def test_a_stopped_qmgr_gives_an_error_instead_of_a_hang(instance):
    if not QTOOL.exists():
        pytest.skip("qtool not built")
    configure(instance, control_timeout="2s")
    Sink(instance)
    instance.start()
    qmgr = wait_for(lambda: instance.processes("qmgr"), 5, what="qmgr")
    pid = next(iter(qmgr))
    os.kill(pid, signal.SIGSTOP)
    try:
        r = instance.postern("show", "queue", timeout=60)
        assert r.returncode == 1
        assert re.fullmatch(rf"postern: qmgr \(pid {pid}, service qmgr/unix\) did not answer within 2s "
                            r"\(control_timeout\); it may be stopped or overloaded, try again later\n", r.stderr), \
            r.stderr
        # master itself still answers.
        assert ok(instance, "show", "status").startswith("MDA running\nMTA running\nSMTP running\nQUEUE file ")
    finally:
        os.kill(pid, signal.SIGCONT)
    # The late answer is dropped; the next request is answered.
    assert instance.postern("show", "queue").returncode == 0


# --- all: paged, exact, and not in the way of other requests -----------

def test_bulk_commands_page_through_thousands_exactly_while_qmgr_answers_others(instance):
    if not QTOOL.exists():
        pytest.skip("qtool not built")
    configure(instance)
    Sink(instance)
    instance.start()
    wait_for(lambda: (instance.queue_dir / "public" / "control").exists(), 5, what="the control socket")
    n = 2000
    ok(instance, "pause", "mta")
    inject(instance, "bulk@example.net", count=n)
    (big,) = inject(instance, "big@example.net", size=4_000_000)
    wait_for(lambda: len(envelopes(instance)) == n + 1, 30, what="the envelopes")
    ok(instance, "trace", "scheduler")
    assert ok(instance, "pause", "envelope", "all") == f"{n + 1} envelopes paused\n"
    assert {e["state"] for e in envelopes(instance)} == {"hold"}
    assert ok(instance, "resume", "envelope", "all") == f"{n + 1} envelopes resumed\n"
    assert ok(instance, "schedule", "all") == f"{n + 1} envelopes scheduled\n"
    # A client that asks for the big message and does not read holds a
    # streaming answer of qmgr open; remove all must not wait behind it.
    stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stalled.connect(str(instance.queue_dir / "public" / "control"))
    stalled.sendall(request_frame("show", "message", big))
    try:
        mark = instance.log_mark()
        assert ok(instance, "remove", "all", timeout=120) == f"{n + 1} envelopes removed\n"
        batches = re.findall(r"trace: scheduler: remove all: batch (\d+): (\d+) of", instance.log()[mark:])
        assert len(batches) >= 4 and all(int(k) <= 600 for _, k in batches), batches
        assert sum(int(k) for _, k in batches) == n + 1
    finally:
        stalled.close()
    assert envelopes(instance) == []
    assert len(re.findall(r"status=removed \(removed by administrator\)", instance.log()[mark:])) == n + 1


# --- set option in qmgr and local -----------------------------------------

def test_set_option_backoff_is_adopted_by_the_running_qmgr(instance):
    if not QTOOL.exists():
        pytest.skip("qtool not built")
    configure(instance)
    sink = Sink(instance)
    instance.start()
    qmgr = next(iter(wait_for(lambda: instance.processes("qmgr"), 5, what="qmgr")))
    sink.rules("* defer 451 4.3.0 try later\n")
    mark = instance.log_mark()
    assert ok(instance, "set", "option", "minimal_backoff_time=300s") == "minimal_backoff_time = 300s\n"
    ok(instance, "set", "option", "maximal_backoff_time=600s")
    instance.wait_log(rf"qmgr\[{qmgr}\]: runtime option maximal_backoff_time = 600s adopted", since=mark, timeout=20)
    assert ok(instance, "show", "options") == "maximal_backoff_time = 600s\nminimal_backoff_time = 300s\n"
    inject(instance, "slow@example.net")
    wait_for(lambda: [e["attempts"] for e in envelopes(instance)] == [1], 20, what="one deferred attempt")
    f = [l for l in ok(instance, "show", "queue").splitlines() if l][0].split("|")
    assert f[11] == "pending" and int(f[12]) > 200, f  # main.cf says 1s
    assert instance.processes("qmgr") == {qmgr: instance.processes("qmgr")[qmgr]}  # the same qmgr
    r = instance.postern("set", "option", "queue_directory=/tmp/elsewhere")
    assert r.returncode == 1 and "cannot change while postern runs" in r.stderr


def test_set_option_is_adopted_by_a_running_local(instance):
    mda = Mda(instance)
    mbox = mda.out / "file.mbox"
    mda.write_aliases(f"filed: {mbox}\n")
    chown_tree(mda.out, mda.privs)
    mda.start()
    msgid = mda.send(["filed@localhost"], b"Subject: one\r\n\r\nbody\r\n")
    line = mda.wait(msgid, "filed@localhost")
    pid = re.search(r"local\[(\d+)\]", line.string).group(1)
    mark = instance.log_mark()
    ok(instance, "set", "option", "allow_mail_to_files=forward")
    instance.wait_log(rf"local\[{pid}\]: runtime option allow_mail_to_files = forward adopted", since=mark, timeout=20)
    msgid = mda.send(["filed@localhost"], b"Subject: two\r\n\r\nbody\r\n")
    line = mda.wait(msgid, "filed@localhost", status="bounced")
    assert line.group(1) == "mail to file is restricted"
    assert re.search(rf"local\[{pid}\]", line.string)  # the worker that was running
