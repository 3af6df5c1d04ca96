"""qmgr under fire (issue 6 acceptance, with the test transport): a 2,000
message run while qmgr and the transport workers are SIGKILLed again and
again; every message reaches the sink at least once and the queue ends empty."""
import os
import random
import signal
import time

import pytest

from conftest import wait_for
from qmgr_helpers import QTOOL, Sink, configure, envelopes, inject, trigger, wait_empty

pytestmark = pytest.mark.skipif(not QTOOL.exists(), reason="qtool not built")


def test_kills_during_a_2000_message_run_lose_nothing(instance):
    configure(instance, test_destination_concurrency_limit="10", test_destination_recipient_limit="10")
    sink = Sink(instance)
    sink.rules("sleep 5\n")
    instance.start()
    ids = []
    rng = random.Random(6)
    t0 = time.monotonic()
    for batch in range(10):
        ids += inject(instance, "a@example.test", "b@other.test", count=200)
        time.sleep(rng.uniform(0.05, 0.3))
        victims = instance.workers("qmgr") if batch % 2 == 0 else instance.workers("qsink")
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        trigger_when_possible(instance)
    deadline = time.monotonic() + 240
    while envelopes(instance) and time.monotonic() < deadline:
        trigger_when_possible(instance)  # master's wakeup would do this every 300 s
        time.sleep(1)
    wait_empty(instance, timeout=5)
    elapsed = time.monotonic() - t0
    delivered = {}
    for msgid, rcpt in sink.sent():
        delivered.setdefault(msgid, set()).add(rcpt)
    assert set(delivered) == set(ids)
    assert all(r == {"a@example.test", "b@other.test"} for r in delivered.values())
    dupes = len(sink.sent()) - 2 * len(ids)
    print(f"2000 messages x 2 recipients in {elapsed:.1f}s with 10 kills; {dupes} duplicate deliveries")


def trigger_when_possible(instance):
    try:
        trigger(instance)
    except OSError:
        pass
