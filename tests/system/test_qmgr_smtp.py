"""qmgr with the real smtp (and lmtp) transport (issue 6 acceptance): mail
goes smtpd or qtool → queue → qmgr → smtp → an aiosmtpd sink on 127.0.0.1
that counts its connections; routing by relayhost and transport_maps."""
import asyncio
import os
import random
import signal
import smtplib
import threading
import time

import pytest
from aiosmtpd.controller import Controller, UnixSocketController
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

from conftest import BIN, free_port, wait_for
from qmgr_helpers import QTOOL, envelopes, inject, trigger, wait_empty

pytestmark = pytest.mark.skipif(not (BIN / "smtp").exists() or not QTOOL.exists(),
                                reason="smtp transport or qtool not built")


class Handler:
    """Accepts mail, or answers RCPT with the reply set for that address."""

    def __init__(self):
        self.lock = threading.Lock()
        self.replies = {}  # rcpt -> "451 4.3.0 ..." / "550 5.1.1 ..."
        self.delivered = []  # (mail_from, rcpt, content)
        self.delay = 0.0
        self.in_data = self.peak_data = 0  # deliveries in progress at once

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.in_data += 1
            self.peak_data = max(self.peak_data, self.in_data)
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.in_data -= 1
        with self.lock:
            for r in envelope.rcpt_tos:
                self.delivered.append((envelope.mail_from, r, envelope.content))
        return "250 2.0.0 Ok: queued"

    def rcpts(self):
        with self.lock:
            return [r for _, r, _ in self.delivered]


class Sink(Controller):
    """aiosmtpd on 127.0.0.1 that counts connections (now, peak, total)."""

    def __init__(self, handler):
        self.port = free_port()
        super().__init__(handler, hostname="127.0.0.1", port=self.port)
        self.mu = threading.Lock()
        self.now = self.peak = self.total = 0

    def factory(self):
        sink = self

        class Counting(SMTP):
            def connection_made(self, transport):
                with sink.mu:
                    sink.now += 1
                    sink.total += 1
                    sink.peak = max(sink.peak, sink.now)
                super().connection_made(transport)

            def connection_lost(self, exc):
                with sink.mu:
                    sink.now -= 1
                super().connection_lost(exc)

        return Counting(self.handler, **self.SMTP_kwargs)

    def reset_counts(self):
        with self.mu:
            self.peak = self.now
            self.total = 0


@pytest.fixture
def sink():
    h = Handler()
    s = Sink(h)
    s.start()
    s.reset_counts()  # the controller's own readiness probe is not a client
    yield s
    s.stop()


def configure(instance, sink, **params):
    instance.set(**{"relayhost": f"[127.0.0.1]:{sink.port}", "minimal_backoff_time": "1s",
                    "maximal_backoff_time": "2s", "queue_run_delay": "1s", "transport_retry_time": "1s",
                    "service_throttle_time": "1s", "mynetworks": "127.0.0.0/8", **params})
    instance.add_service("qmgr unix n - n 300 1 qmgr")
    instance.add_service("bounce unix - - n - 0 bounce")
    instance.add_service("smtp unix - - n - - smtp")


def test_one_message_is_delivered_on_smtpd_trigger_not_by_the_next_queue_scan(instance, sink):
    # No periodic scan comes within the wait: only smtpd's wake-up of qmgr can
    # deliver it (speed itself is measured by make bench, not here).
    configure(instance, sink, queue_run_delay="1h")
    port = free_port()
    instance.add_service(f"127.0.0.1:{port} inet n - n - - smtpd")
    instance.start()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
        c.sendmail("a@example.org", ["b@example.net"], b"Subject: hi\r\n\r\nhello\r\n")
    wait_for(lambda: sink.handler.rcpts(), timeout=30, what="delivery")
    assert sink.handler.rcpts() == ["b@example.net"]
    m = instance.wait_log(r"qmgr\[\d+\]: (\w{8}): from=<a@example.org>, size=\d+, nrcpt=1 \(queue active\)")
    msgid = m.group(1)
    instance.wait_log(rf"smtp\[\d+\]: {msgid}: to=<b@example.net>, relay=127.0.0.1\[127.0.0.1\]:{sink.port}, "
                      r"delay=[\d.]+, delays=[\d./]+, dsn=2.0.0, status=sent")
    instance.wait_log(rf"qmgr\[\d+\]: {msgid}: removed")


def test_451_is_deferred_with_its_reason_and_delivered_once_accepted(instance, sink):
    configure(instance, sink)
    sink.handler.replies["u@example.net"] = "451 4.3.0 greylisted, try later"
    instance.start()
    (msgid,) = inject(instance, "u@example.net")
    env = wait_for(lambda: [e for e in envelopes(instance) if e["state"] == "deferred"], timeout=10,
                   what="deferred envelope")[0]
    assert "451 4.3.0 greylisted, try later" in env["error"]
    sink.handler.replies.clear()
    wait_for(lambda: sink.handler.rcpts() == ["u@example.net"], timeout=10, what="delivery after the retry")
    wait_empty(instance)
    instance.wait_log(rf"{msgid}: removed")


def test_550_bounces_the_recipient_and_removes_the_message(instance, sink):
    configure(instance, sink)
    sink.handler.replies["bad@example.net"] = "550 5.1.1 no such user"
    instance.start()
    (msgid,) = inject(instance, "bad@example.net", "good@example.net")
    instance.wait_log(rf"qmgr\[\d+\]: {msgid}: removed", timeout=10)
    instance.wait_log(rf"smtp\[\d+\]: {msgid}: to=<bad@example.net>, .*status=bounced")
    instance.wait_log(rf"bounce\[\d+\]: {msgid}: sender non-delivery notification: \w{{8}}")
    # The notice to the sender reaches the same sink.
    wait_for(lambda: "sender@example.org" in sink.handler.rcpts(), timeout=10, what="the notice")
    assert sorted(sink.handler.rcpts()) == ["good@example.net", "sender@example.org"]
    wait_empty(instance)


def test_concurrency_stays_within_the_limit_and_connections_are_reused(instance, sink):
    configure(instance, sink, smtp_destination_concurrency_limit="3")
    sink.handler.delay = 0.02
    instance.start()
    ids = inject(instance, "u@example.net", count=200, trigger=False)
    trigger(instance)
    wait_for(lambda: len(sink.handler.rcpts()) >= 200, timeout=60, interval=0.2, what="200 deliveries")
    wait_empty(instance)
    assert len(ids) == 200
    # The limit bounds deliveries in progress; a connection the client has
    # just closed may still be counted open by the loaded sink for a moment.
    assert 1 <= sink.handler.peak_data <= 3, sink.handler.peak_data
    assert sink.total < 50, f"{sink.total} connections for 200 messages"
    print(f"200 messages over {sink.total} connections, peak {sink.peak} at once")


def test_transport_maps_route_to_an_lmtp_unix_socket(instance, sink):
    handler = Handler()
    handler.replies["refused@lmtp.test"] = "550 5.1.1 unknown mailbox"
    path = instance.root / "lmtp.sock"

    class LmtpController(UnixSocketController):
        def factory(self):
            return LMTP(self.handler, **self.SMTP_kwargs)

    lmtp = LmtpController(handler, unix_socket=str(path))
    lmtp.start()
    os.chmod(path, 0o666)  # the lmtp worker runs as mail_owner under root
    try:
        configure(instance, sink, transport_maps=f"inline:{{ lmtp.test=lmtp:unix:{path} }}")
        instance.add_service("lmtp unix - - n - - lmtp")
        instance.start()
        (msgid,) = inject(instance, "ok@lmtp.test", "refused@lmtp.test", "remote@example.net")
        instance.wait_log(rf"qmgr\[\d+\]: {msgid}: removed", timeout=10)
        assert handler.rcpts() == ["ok@lmtp.test"]
        # (the notice about refused@ goes to the sender through the same sink)
        assert [r for r in sink.handler.rcpts() if r != "sender@example.org"] == ["remote@example.net"]
        instance.wait_log(rf"lmtp\[\d+\]: {msgid}: to=<ok@lmtp.test>, .*status=sent")
        instance.wait_log(rf"lmtp\[\d+\]: {msgid}: to=<refused@lmtp.test>, .*status=bounced")
    finally:
        lmtp.stop()


def test_kills_of_qmgr_and_smtp_during_a_2000_message_run_lose_nothing(instance, sink):
    configure(instance, sink, smtp_destination_concurrency_limit="10")
    instance.start()
    rng = random.Random(7)
    ids = []
    t0 = time.monotonic()
    for batch in range(10):
        ids += inject(instance, "u@example.net", count=200)
        time.sleep(rng.uniform(0.1, 0.4))
        for pid in instance.workers("qmgr" if batch % 2 == 0 else "smtp"):
            os.kill(pid, signal.SIGKILL)
        try:
            trigger(instance)
        except OSError:
            pass
    deadline = time.monotonic() + 300
    while envelopes(instance) and time.monotonic() < deadline:
        try:
            trigger(instance)  # master's wakeup would do this every 300 s
        except OSError:
            pass
        time.sleep(1)
    wait_empty(instance, timeout=5)
    elapsed = time.monotonic() - t0
    seen = {}
    for _, _, content in list(sink.handler.delivered):
        text = content.decode() if isinstance(content, bytes) else content
        qid = next(l.split(": ", 1)[1].strip() for l in text.splitlines() if l.startswith("X-Qtool-Id:"))
        seen[qid] = seen.get(qid, 0) + 1
    assert set(seen) == set(ids)  # every message at least once
    assert envelopes(instance) == []
    print(f"2000 messages via smtp in {elapsed:.1f}s with 10 kills; "
          f"{len(sink.handler.delivered) - 2000} duplicates, {sink.total} connections")
