"""qmgr with real processes (issue 6): master runs qmgr and a test delivery
agent (qsink) answering from a rules file; qtool enqueues straight into the
queue and pokes qmgr as smtpd does, and lists what the queue holds."""
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import wait_for
from qmgr_helpers import QTOOL, Sink, configure, envelopes, inject, scan_settled, trigger, wait_empty

pytestmark = pytest.mark.skipif(not QTOOL.exists(), reason="qtool not built")


def test_due_mail_is_delivered_at_once_after_the_trigger(instance):
    # No periodic scan due: only the trigger can make the delivery.
    configure(instance, queue_run_delay="300s")
    sink = Sink(instance)
    instance.start()
    (msgid,) = inject(instance, "u@example.test")
    wait_for(lambda: sink.sent(), timeout=30, what="delivery")
    assert sink.sent() == [(msgid, "u@example.test")]
    instance.wait_log(rf"qmgr\[\d+\]: {msgid}: from=<sender@example.org>, size=\d+, nrcpt=1 \(queue active\)")
    instance.wait_log(rf"qmgr\[\d+\]: {msgid}: removed")
    req = sink.requests()[0]
    assert (req["transport"], req["nexthop"]) == ("test", "example.test")
    wait_empty(instance)


def test_a_silent_trigger_connection_does_not_hold_up_the_next_wakeup(instance):
    # qmgr reads wakeups on its loop, several at once: a client that connects
    # and says nothing (for up to ipc_timeout) must not delay smtpd's wakeup.
    configure(instance, queue_run_delay="300s")
    sink = Sink(instance)
    instance.start()
    (first,) = inject(instance, "u@example.test")
    wait_for(lambda: sink.sent(), timeout=30, what="the first delivery")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.connect(str(instance.queue_dir / "public" / "qmgr"))
        (second,) = inject(instance, "v@example.test")
        wait_for(lambda: (second, "v@example.test") in sink.sent(), timeout=30, what="the second delivery")


def test_deferred_recipient_waits_with_its_reason_and_is_retried_after_backoff(instance):
    configure(instance, minimal_backoff_time="2s", maximal_backoff_time="8s", queue_run_delay="1s")
    sink = Sink(instance)
    sink.rules("* defer 451 4.3.0 try again later\n")
    instance.start()
    (msgid,) = inject(instance, "u@example.test")
    wait_for(lambda: sink.requests(), what="first attempt")
    env = wait_for(lambda: [e for e in envelopes(instance) if e["state"] == "deferred"], what="deferred envelope")[0]
    assert env["attempts"] == 1
    assert env["error"] == "451 4.3.0 try again later"
    first = sink.requests()[0]["start"]
    sink.rules("")
    # The next attempt (it succeeds) comes soon after minimal_backoff_time, not before.
    wait_for(lambda: sink.sent(), timeout=10, what="delivery after the backoff")
    assert len(sink.requests()) == 2
    retry = sink.requests()[-1]["start"]
    assert retry - first >= 1900
    assert sink.sent() == [(msgid, "u@example.test")]
    wait_empty(instance)


def test_backoff_doubles_between_attempts(instance):
    configure(instance, minimal_backoff_time="1s", maximal_backoff_time="2s")
    sink = Sink(instance)
    sink.rules("* defer 451 busy\n")
    instance.start()
    inject(instance, "u@example.test")
    wait_for(lambda: len(sink.requests()) >= 4, timeout=12, what="four attempts")
    starts = [r["start"] for r in sink.requests()[:4]]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    # Times are whole seconds, rounded up: an attempt waits [backoff, backoff + 1 s).
    assert 950 <= gaps[0] < 2500, gaps   # 1 s
    assert gaps[1] >= 1950, gaps         # 2 s: doubled
    assert 1950 <= gaps[2] < 3500, gaps  # still 2 s: the maximum
    # The sink sees the fourth attempt before qmgr has recorded its result.
    wait_for(lambda: envelopes(instance)[0]["attempts"] >= 4, timeout=10, what="four attempts recorded")


def test_bounced_recipient_is_removed_and_logged(instance):
    configure(instance)
    sink = Sink(instance)
    sink.rules("bad@* bounce 550 5.1.1 no such user\n")
    instance.start()
    (msgid,) = inject(instance, "good@example.test", "bad@example.test")
    instance.wait_log(rf"{msgid}: removed")
    assert [s for s in sink.sent() if s[0] == msgid] == [(msgid, "good@example.test")]
    # The notice to the sender is new mail, delivered by the same sink.
    notice = instance.wait_log(rf"bounce\[\d+\]: {msgid}: sender non-delivery notification: (\w{{8}})").group(1)
    wait_for(lambda: (notice, "sender@example.org") in sink.sent(), what="the notice delivered")
    wait_empty(instance)


def test_recipients_of_one_message_share_a_request_up_to_the_recipient_limit(instance):
    configure(instance, test_destination_recipient_limit="2")
    sink = Sink(instance)
    instance.start()
    inject(instance, "a@example.test", "b@example.test", "c@example.test", "d@other.test")
    wait_for(lambda: len(sink.sent()) == 4, what="four deliveries")
    by_nexthop = sorted((r["nexthop"], r["nrcpt"]) for r in sink.requests())
    assert by_nexthop == [("example.test", 1), ("example.test", 2), ("other.test", 1)]


def test_concurrency_never_exceeds_the_destination_limit(instance):
    configure(instance, test_destination_concurrency_limit="3", initial_destination_concurrency="5")
    sink = Sink(instance)
    sink.rules("sleep 300\n")
    instance.start()
    ids = inject(instance, "u@example.test", count=15)
    wait_for(lambda: len(sink.sent()) == 15, timeout=20, what="15 deliveries")
    assert sorted(m for m, _ in sink.sent()) == sorted(ids)
    assert sink.max_parallel() == 3


def test_slow_start_grows_the_window_from_the_initial_concurrency(instance):
    configure(instance, test_destination_concurrency_limit="4", initial_destination_concurrency="1")
    sink = Sink(instance)
    sink.rules("sleep 250\n")
    instance.start()
    inject(instance, "u@example.test", count=16)
    wait_for(lambda: len(sink.sent()) == 16, timeout=20, what="16 deliveries")
    reqs = sorted(sink.requests(), key=lambda r: r["start"])
    # The first delivery runs alone; later ones use the whole window of 4.
    assert reqs[1]["start"] >= reqs[0]["end"]
    assert sink.max_parallel() == 4


def test_a_destination_is_dead_after_a_failed_cohort_and_retried_after_backoff(instance):
    configure(instance, initial_destination_concurrency="2", test_destination_concurrency_limit="2",
          minimal_backoff_time="2s")
    sink = Sink(instance)
    sink.rules("sleep 100\n* sitefail connect to sink[127.0.0.1]:25: Connection refused\n")
    instance.start()
    ids = inject(instance, "u@example.test", count=8)
    instance.wait_log(r"qmgr\[\d+\]: test:example.test: destination dead after a failed cohort")
    # Two failures (a whole window of 2) killed it: the rest were not tried.
    assert len(sink.requests()) == 2
    instance.wait_log(r"status=deferred \(delivery temporarily suspended: connect to sink", count=6)
    states = {e["state"] for e in envelopes(instance)}
    assert states == {"deferred"}
    sink.rules("")
    wait_for(lambda: len(sink.sent()) == 8, timeout=15, what="delivery once the destination is back")
    assert sorted(m for m, _ in sink.sent()) == sorted(ids)
    wait_empty(instance)


def test_messages_past_their_lifetime_expire(instance):
    configure(instance, maximal_queue_lifetime="2s", minimal_backoff_time="1s")
    sink = Sink(instance)
    sink.rules("* defer 451 4.3.0 still busy\n")
    instance.start()
    (msgid,) = inject(instance, "u@example.test", "v@example.test")
    instance.wait_log(rf"qmgr\[\d+\]: {msgid}: from=<sender@example.org>, status=expired, returned to sender",
                      timeout=10)
    instance.wait_log(rf"qmgr\[\d+\]: {msgid}: removed")
    assert len(sink.requests()) >= 2  # tried, deferred, tried again once due
    instance.wait_log(rf"bounce\[\d+\]: {msgid}: sender non-delivery notification: \w{{8}}")
    # Only the notice is left (its delivery is deferred by the same rule).
    assert [e for e in envelopes(instance) if e["id"].startswith(msgid)] == []
    assert sink.sent() == []


def test_bounces_with_the_null_sender_expire_after_bounce_queue_lifetime(instance):
    configure(instance, maximal_queue_lifetime="1h", bounce_queue_lifetime="0s")
    sink = Sink(instance)
    sink.rules("* defer 451 4.3.0 still busy\n")
    instance.start()
    (bounce,) = inject(instance, "u@example.test", sender="<>")
    (normal,) = inject(instance, "u@example.test")
    # One attempt only for the null sender (lifetime 0), as in Postfix.
    instance.wait_log(rf"qmgr\[\d+\]: {bounce}: from=<>, status=expired, returned to sender")
    instance.wait_log(rf"qmgr\[\d+\]: {bounce}: removed")
    env = wait_for(lambda: [e for e in envelopes(instance) if e["state"] == "deferred"], what="deferred")
    assert [e["id"][:8] for e in env] == [normal]


def test_held_mail_is_never_scheduled(instance):
    # No periodic scan may catch the message between its injection and its
    # hold, and qmgr's start-up scan is over once the first message is sent.
    configure(instance, queue_run_delay="300s")
    sink = Sink(instance)
    instance.start()
    (free,) = inject(instance, "free@example.test")
    wait_for(lambda: sink.sent(), what="the free message")
    (held,) = inject(instance, "held@example.test", trigger=False)
    instance.qtool("hold", held)
    assert instance.postern("trace", "scheduler").returncode == 0
    mark = instance.log_mark()
    after = scan_settled(instance, mark, request=b"A")  # even "everything now" leaves held mail alone
    assert "dispatch to" not in after
    assert sink.sent() == [(free, "free@example.test")]
    assert [(e["state"], e["rcpt"]) for e in envelopes(instance)] == [("hold", "held@example.test")]


def test_a_transport_that_crashes_mid_request_loses_nothing(instance):
    configure(instance)
    sink = Sink(instance)
    sink.rules("crash@* crash\n")
    instance.start()
    (msgid,) = inject(instance, "a@example.test", "crash@example.test", "z@example.test")
    instance.wait_log(r"qmgr\[\d+\]: .*transport test failed on a delivery request")
    instance.wait_log(r"transport test unavailable, throttled")
    env = wait_for(lambda: [e for e in envelopes(instance) if e["state"] == "deferred"], what="deferred")
    # The agent answered the recipients before crash@ (in request order) and
    # died: those are sent, the rest wait with the crash as their reason.
    deferred = {e["rcpt"] for e in env}
    sent = {r for _, r in sink.sent()}
    assert "crash@example.test" in deferred
    assert deferred | sent == {"a@example.test", "crash@example.test", "z@example.test"}
    assert not deferred & sent
    assert all(e["error"] == "unknown mail transport error" for e in env)
    sink.rules("")
    wait_for(lambda: len(sink.sent()) == 3, timeout=15, what="the rest after the transport's rest")
    wait_empty(instance)
    instance.wait_log(rf"{msgid}: removed")


def test_an_unreachable_transport_defers_its_recipients(instance):
    configure(instance, transport_maps="inline:{ nowhere.test=nosuch: }")
    sink = Sink(instance)
    instance.start()
    inject(instance, "u@nowhere.test")
    instance.wait_log(r"transport nosuch unavailable, throttled for 1s")
    env = wait_for(lambda: [e for e in envelopes(instance) if e["state"] == "deferred"], what="deferred")
    assert env[0]["error"] == "mail transport unavailable"
    assert sink.requests() == []


def test_qmgr_killed_mid_delivery_restarts_and_delivers_everything(instance):
    configure(instance, test_destination_concurrency_limit="4")
    sink = Sink(instance)
    sink.rules("sleep 400\n")
    instance.start()
    ids = inject(instance, "u@example.test", count=30)
    wait_for(lambda: len(sink.requests()) >= 4, what="deliveries in flight")
    (qmgr_pid,) = instance.workers("qmgr")
    os.kill(qmgr_pid, signal.SIGKILL)
    wait_for(lambda: not instance.workers("qmgr"), what="qmgr gone")
    assert any(e["state"] == "active" for e in envelopes(instance))
    trigger(instance)  # as smtpd's next message would; master starts a new qmgr
    wait_for(lambda: instance.workers("qmgr"), what="a new qmgr")
    wait_empty(instance, timeout=30)
    delivered = {m for m, _ in sink.sent()}
    assert delivered == set(ids)  # at least once each, nothing lost


def test_routing_by_transport_maps_and_relayhost(instance):
    configure(instance, relayhost="[gw.test]:2525",
          transport_maps="inline:{ special.test=second:[10.0.0.7]:24, user@mixed.test=second:, .sub.test=test: }")
    first = Sink(instance, "test")
    second = Sink(instance, "second")
    instance.start()
    inject(instance, "a@plain.test", "b@special.test", "user@mixed.test", "other@mixed.test", "c@x.sub.test")
    wait_for(lambda: len(first.sent()) + len(second.sent()) == 5, what="five deliveries")
    routes = sorted((r["transport"], r["nexthop"], r["nrcpt"]) for s in (first, second) for r in s.requests())
    # One message: recipients with the same route share one request.
    assert routes == [("second", "[10.0.0.7]:24", 1), ("second", "mixed.test", 1),
                      ("test", "[gw.test]:2525", 2), ("test", "x.sub.test", 1)]


def test_postern_flush_retries_deferred_mail_now(instance):
    configure(instance, minimal_backoff_time="300s", maximal_backoff_time="300s", queue_run_delay="300s")
    sink = Sink(instance)
    sink.rules("* defer 451 later\n")
    instance.start()
    (msgid,) = inject(instance, "u@example.test")
    wait_for(lambda: [e for e in envelopes(instance) if e["state"] == "deferred"], what="deferred")
    sink.rules("")
    r = instance.postern("flush")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: sink.sent(), timeout=3, what="delivery after flush")
    wait_empty(instance)


def test_postern_flush_without_a_running_instance_says_so(instance):
    r = instance.postern("flush")
    assert r.returncode == 1
    assert "is postern running" in r.stderr


def test_the_active_set_is_bounded_by_qmgr_message_active_limit(instance):
    configure(instance, qmgr_message_active_limit="3", test_destination_concurrency_limit="20")
    sink = Sink(instance)
    sink.rules("sleep 200\n")
    instance.start()
    ids = inject(instance, "u@example.test", count=12)
    peak = 0
    end = time.monotonic() + 20
    while len(sink.sent()) < 12 and time.monotonic() < end:
        peak = max(peak, sum(e["state"] == "active" for e in envelopes(instance)))
        time.sleep(0.05)
    assert sorted(m for m, _ in sink.sent()) == sorted(ids)
    assert 1 <= peak <= 3
    assert sink.max_parallel() <= 3


def test_the_active_set_is_bounded_by_qmgr_message_recipient_limit(instance):
    configure(instance, qmgr_message_recipient_limit="2", test_destination_recipient_limit="1")
    sink = Sink(instance)
    sink.rules("sleep 150\n")
    instance.start()
    rcpts = [f"r{i}@example.test" for i in range(8)]
    (msgid,) = inject(instance, *rcpts)
    peak = 0
    end = time.monotonic() + 20
    while len(sink.sent()) < 8 and time.monotonic() < end:
        peak = max(peak, sum(e["state"] == "active" for e in envelopes(instance)))
        time.sleep(0.03)
    assert sorted(r for _, r in sink.sent()) == sorted(rcpts)
    assert 1 <= peak <= 2
    assert sink.max_parallel() <= 2
    instance.wait_log(rf"{msgid}: removed")


def test_a_reload_hands_waiting_and_in_flight_mail_to_the_next_qmgr(instance):
    configure(instance, test_destination_concurrency_limit="1")
    sink = Sink(instance)
    sink.rules("sleep 300\n")
    instance.start()
    ids = inject(instance, "u@example.test", count=6)
    wait_for(lambda: sink.requests(), what="the first delivery")
    (old,) = instance.workers("qmgr")
    instance.reload()
    wait_for(lambda: old not in instance.workers("qmgr"), what="the old qmgr to leave")
    instance.wait_log(rf"qmgr\[{old}\]: stopping: sent=\d+")
    trigger(instance)  # the next message or master's wakeup starts the new one
    wait_empty(instance, timeout=20)
    assert {m for m, _ in sink.sent()} == set(ids)
