"""The smtp/lmtp delivery agent end to end behind qmgr (issue 6 acceptance):
mail put into the queue, qmgr poked as smtpd does, and the real smtp/lmtp
workers delivering to aiosmtpd or a scripted LMTP peer, with MX records
from dnsmasq."""
import time

import pytest

from conftest import qtool_command, wait_for
from qmgr_helpers import FAST, QTOOL, envelopes, trigger, wait_empty
from test_smtp_client import BODY, Message, Scripted, Sink, dns, port  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(not QTOOL.exists(), reason="test helpers not built")


@pytest.fixture
def mta(instance):
    """qmgr with test-sized timing, and the smtp, relay and lmtp transports
    of conf/master.cf; mail to any domain goes out by smtp."""
    instance.set(**{**FAST, "default_transport": "smtp", "relay_domains": "",
                    "smtp_connection_cache_time_limit": "5s"})
    instance.add_service("qmgr unix n - n 300 1 qmgr")
    instance.add_service("bounce unix - - n - 0 bounce")
    instance.add_service("smtp unix - - n - - smtp")
    instance.add_service("relay unix - - n - - smtp")
    instance.add_service("lmtp unix - - n - - lmtp")
    return instance


def send(instance, body, *rcpts):
    msg = Message(instance, body, list(rcpts))
    trigger(instance)
    return msg


def test_mail_to_an_mx_domain_arrives_byte_exact_at_the_second_mx(mta, dns, port):
    sink = Sink("127.0.0.3", port)
    try:
        mta.set(smtp_tcp_port=port)
        mta.start()
        msg = send(mta, BODY, "u@example.test")
        wait_for(lambda: sink.messages, 10, what="delivery to mx2")
        assert sink.messages[0]["content"] == BODY + b"\r\n"
        assert sink.messages[0]["rcpts"] == ["u@example.test"]
        mta.wait_log(rf"connect to mx1\.example\.test\[127\.0\.0\.2\]:{port}: Connection refused")
        mta.wait_log(rf"{msg.msgid_text}: to=<u@example\.test>, relay=mx2\.example\.test\[127\.0\.0\.3\]:{port}, "
                     r".*status=sent")
        mta.wait_log(rf"{msg.msgid_text}: removed")
        wait_empty(mta)
    finally:
        sink.stop()


def test_one_message_reaches_an_idle_system_without_waiting_for_a_queue_run(mta):
    sink = Sink("127.0.0.3")
    try:
        mta.set(relayhost=f"[127.0.0.3]:{sink.port}")
        mta.start()
        # Warm up nothing: master starts qmgr and smtp on demand. Without
        # smtpd's trigger the message would wait for qmgr's next wakeup
        # (300 s); the bound leaves room for a loaded 2-core machine (speed
        # itself is measured by bench/, not here).
        t0 = time.monotonic()
        send(mta, BODY, "u@x.test")
        wait_for(lambda: sink.messages, 10, interval=0.005, what="delivery")
        assert time.monotonic() - t0 < 4.0
    finally:
        sink.stop()


def test_451_defers_with_its_reason_then_delivers_on_retry(mta):
    sink = Sink("127.0.0.3", rules={"u@": "451 4.3.0 try again later"})
    try:
        mta.set(relayhost=f"[127.0.0.3]:{sink.port}")
        mta.start()
        msg = send(mta, BODY, "u@x.test")
        mta.wait_log(rf"{msg.msgid_text}: to=<u@x\.test>, .*dsn=4\.3\.0, status=deferred \(host 127\.0\.0\.3"
                     r"\[127\.0\.0\.3\] said: 451 4\.3\.0 try again later \(in reply to RCPT TO command\)\)")
        env = wait_for(lambda: [e for e in envelopes(mta) if e["state"] == "deferred"], what="deferred envelope")
        assert "451 4.3.0 try again later" in env[0]["error"]
        sink.rules.clear()
        wait_for(lambda: sink.messages, 15, what="delivery on retry")
        mta.wait_log(rf"{msg.msgid_text}: to=<u@x\.test>, .*status=sent")
        wait_empty(mta)
    finally:
        sink.stop()


def test_550_bounces_the_recipient_and_removes_the_message(mta):
    sink = Sink("127.0.0.3", rules={"bad@": "550 5.1.1 no such user"})
    try:
        mta.set(relayhost=f"[127.0.0.3]:{sink.port}")
        mta.start()
        # NOTIFY=NEVER: no notice to the sender, whose domain nothing here serves.
        msg = send(mta, BODY, "good@x.test", "bad@x.test;1")
        mta.wait_log(rf"{msg.msgid_text}: to=<bad@x\.test>, .*dsn=5\.1\.1, status=bounced")
        mta.wait_log(rf"{msg.msgid_text}: removed")
        assert [m["rcpts"] for m in sink.messages] == [["good@x.test"]]
        wait_empty(mta)
    finally:
        sink.stop()


def test_lmtp_over_a_unix_socket_by_transport_maps(mta):
    path = mta.root / "lmtp.sock"
    peer = Scripted(path=path, lmtp=True, rules={"bad": "550 5.1.1 <bad@box.test> mailbox unavailable"})
    try:
        mta.set(transport_maps=f"inline:{{ box.test=lmtp:unix:{path} }}")
        mta.start()
        msg = send(mta, BODY, "good@box.test", "bad@box.test;1")  # NOTIFY=NEVER: no notice
        mta.wait_log(rf"lmtp\[\d+\]: {msg.msgid_text}: to=<good@box\.test>, .*status=sent")
        mta.wait_log(rf"lmtp\[\d+\]: {msg.msgid_text}: to=<bad@box\.test>, .*dsn=5\.1\.1, status=bounced")
        mta.wait_log(rf"{msg.msgid_text}: removed")
        assert len(peer.bodies) == 1
        wait_empty(mta)
    finally:
        peer.stop()


def test_a_burst_to_one_destination_reuses_connections(mta):
    sink = Sink("127.0.0.3")
    try:
        mta.set(relayhost=f"[127.0.0.3]:{sink.port}")
        mta.start()
        n = 100
        for i in range(n):
            Message(mta, BODY, [f"u{i}@x.test"])
        trigger(mta)
        wait_for(lambda: len(sink.messages) == n, 60, interval=0.1, what=f"{n} deliveries")
        # Each smtp worker keeps its connection between requests.
        assert sink.ehlos < n / 4, sink.ehlos
        wait_empty(mta)
    finally:
        sink.stop()


def test_killing_qmgr_and_smtp_workers_during_a_run_loses_nothing(mta):
    import os
    import random
    import signal
    import subprocess
    sink = Sink("127.0.0.3")
    try:
        mta.set(relayhost=f"[127.0.0.3]:{sink.port}")
        mta.start()
        n = 2000
        # Kills start while mail is still being injected: delivery keeps pace
        # with injection, so waiting for it to finish would leave nothing to interrupt.
        inj = subprocess.Popen(qtool_command("-c", mta.config_dir, "inject", "-n", n, "u@x.test"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seen = lambda: {m["content"] for m in sink.messages}  # noqa: E731 (each body names its number)
        rng = random.Random(6)
        end = time.monotonic() + 120
        kills = 0
        while (len(seen()) < n or inj.poll() is None) and time.monotonic() < end:
            time.sleep(0.1)
            victims = mta.workers("smtp") + (mta.workers("qmgr") if kills % 5 == 4 else [])
            if victims and kills < 20:
                try:
                    os.kill(rng.choice(victims), signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    pass
                # master restarts qmgr when its socket is poked (as smtpd does for new mail).
                trigger(mta)
        assert inj.wait(timeout=120) == 0, inj.stderr.read()
        assert kills >= 5  # the run really was interrupted, repeatedly
        wait_for(lambda: len(seen()) == n, 120, interval=0.2,
                 what=f"{n} distinct messages at the sink (have {len(seen())})")
        wait_empty(mta, timeout=60)
    finally:
        sink.stop()
