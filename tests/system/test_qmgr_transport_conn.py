"""qmgr keeps its connections to transport workers across delivery requests
(issue 18): the worker's end frame says whether it keeps the connection; each
request counts as one use for max_use; max_idle, a killed worker or one that
dies during a request cost no mail and never a second delivery."""
import os
import signal

import pytest

from conftest import wait_for
from qmgr_helpers import QTOOL, Sink, configure, envelopes, inject, wait_empty

pytestmark = pytest.mark.skipif(not QTOOL.exists(), reason="qtool not built")


def deliver_one(instance, sink, rcpt="u@example.test"):
    """Injects one message and waits until the sink has it; returns its request."""
    (msgid,) = inject(instance, rcpt)
    wait_for(lambda: (msgid, rcpt) in sink.sent(), timeout=15, what=f"delivery of {msgid}")
    return [r for r in sink.requests() if r["msgid"] == msgid][-1]


def gone(pid):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    return False


def test_requests_one_after_another_share_one_connection(instance):
    configure(instance)
    sink = Sink(instance)
    instance.start()
    reqs = [deliver_one(instance, sink) for _ in range(5)]
    assert len({r["conn"] for r in reqs}) == 1, reqs
    wait_empty(instance)


def test_max_use_counts_each_request_on_a_kept_connection(instance):
    configure(instance)
    sink = Sink(instance, opts="-o max_use=2")
    instance.start()
    reqs = [deliver_one(instance, sink) for _ in range(6)]
    per_pid = {}
    for r in reqs:
        per_pid.setdefault(r["pid"], []).append(r["conn"])
    # Two requests per worker, both on the one connection qmgr kept.
    assert sorted(len(c) for c in per_pid.values()) == [2, 2, 2], per_pid
    assert all(len(set(c)) == 1 for c in per_pid.values()), per_pid
    wait_for(lambda: all(gone(p) for p in per_pid), timeout=10, what="the used-up workers to exit")
    assert len(sink.sent()) == 6
    wait_empty(instance)


def test_a_kept_connection_closes_after_max_idle_and_the_next_request_finds_a_new_worker(instance):
    configure(instance)
    sink = Sink(instance, opts="-o max_idle=1")
    instance.start()
    first = deliver_one(instance, sink)
    wait_for(lambda: gone(first["pid"]), timeout=10, what="the idle worker to exit")
    second = deliver_one(instance, sink)
    assert second["pid"] != first["pid"]
    assert len(sink.requests()) == 2  # no failed attempt in between
    assert "status=deferred" not in instance.log()
    wait_empty(instance)


def test_a_worker_killed_between_requests_costs_no_mail(instance):
    # qmgr is stopped while its kept worker dies, so the next request may be
    # written to the dead connection before qmgr has seen it close: that
    # request was never read, and goes out again on a fresh connection.
    configure(instance)
    sink = Sink(instance)
    instance.start()
    first = deliver_one(instance, sink)
    (qmgr,) = instance.processes("qmgr")
    os.kill(qmgr, signal.SIGSTOP)
    try:
        (msgid,) = inject(instance, "v@example.test")
        os.kill(int(first["pid"]), signal.SIGKILL)
        wait_for(lambda: gone(first["pid"]), what="the worker to die")
    finally:
        os.kill(qmgr, signal.SIGCONT)
    wait_for(lambda: (msgid, "v@example.test") in sink.sent(), timeout=15, what="the second delivery")
    assert [r["msgid"] for r in sink.requests()].count(msgid) == 1
    assert "status=deferred" not in instance.log()
    wait_empty(instance)


def test_a_worker_dying_during_a_request_on_a_kept_connection_defers_it_once(instance):
    configure(instance, minimal_backoff_time="300s", maximal_backoff_time="600s")
    sink = Sink(instance)
    sink.rules("crash@example.test crash\n")
    instance.start()
    first = deliver_one(instance, sink)
    (msgid,) = inject(instance, "crash@example.test")
    env = wait_for(lambda: [e for e in envelopes(instance) if e["rcpt"] == "crash@example.test" and
                            e["state"] == "deferred"], timeout=15, what="the deferred envelope")[0]
    assert env["attempts"] == 1
    assert "transport" in env["error"], env
    reqs = [r for r in sink.requests() if r["msgid"] == msgid]
    assert len(reqs) == 1 and reqs[0]["conn"] == first["conn"], (reqs, first)
    instance.wait_log(rf"{msgid}: transport test failed on a delivery request")
