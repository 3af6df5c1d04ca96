"""Load at the edges of master's life (issue 20): mail relayed while
`postern reload` runs every 2 s is delivered once, not by both the old and
the new qmgr; a burst of 1,000 connects to a fresh instance is greeted."""
import re
import resource
import selectors
import smtplib
import socket
import threading
import time
from collections import Counter

import pytest
from aiosmtpd.controller import Controller

from conftest import BIN, free_port, wait_for
from qmgr_helpers import QTOOL, envelopes

pytestmark = pytest.mark.skipif(not (BIN / "smtp").exists() or not QTOOL.exists(),
                                reason="smtp transport or qtool not built")

MESSAGE_ID = re.compile(rb"^Message-ID: <([^>]+)>", re.M | re.I)


class CountingHandler:
    """Counts the Message-IDs that reach the sink."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = Counter()

    async def handle_DATA(self, server, session, envelope):
        m = MESSAGE_ID.search(envelope.content)
        with self.lock:
            self.seen[m.group(1).decode() if m else "?"] += 1
        return "250 2.0.0 Ok: queued"

    def snapshot(self):
        with self.lock:
            return Counter(self.seen)


def relay_instance(instance, sink_port):
    port = free_port()
    instance.set(relayhost=f"[127.0.0.1]:{sink_port}", mynetworks="127.0.0.0/8", mydestination="",
                 minimal_backoff_time="1s", maximal_backoff_time="2s", queue_run_delay="1s",
                 transport_retry_time="1s", service_throttle_time="1s", smtpd_client_connection_count_limit="0")
    instance.add_service("qmgr unix n - n 300 1 qmgr")
    instance.add_service("bounce unix - - n - 0 bounce")
    instance.add_service("smtp unix - - n - - smtp")
    instance.add_service(f"127.0.0.1:{port} inet n - n - - smtpd")
    return port


def send_many(port, ids, acked, failed):
    """Sends one message per id, a new connection every 50; records what got 250."""
    c = None
    for n, mid in enumerate(ids):
        try:
            if c is None or n % 50 == 0:
                if c is not None:
                    c.quit()
                c = smtplib.SMTP("127.0.0.1", port, timeout=60)
            msg = f"Message-ID: <{mid}>\r\nSubject: load {n}\r\n\r\nbody of {mid}\r\n".encode()
            c.sendmail("load@example.org", ["sink@example.net"], msg)
            acked.append(mid)
        except (smtplib.SMTPException, OSError) as e:
            failed.append((mid, repr(e)))
            c = None
    if c is not None:
        c.quit()


def test_reload_every_2s_under_load_delivers_every_message_exactly_once(instance):
    handler = CountingHandler()
    sink = Controller(handler, hostname="127.0.0.1", port=free_port())
    sink.start()
    try:
        port = relay_instance(instance, sink.port)
        instance.start()
        wait_for(lambda: _greets(port), timeout=15, what="smtpd greeting")
        total, threads_n = 3000, 4
        acked, failed = [], []
        ids = [f"load-{i}@client.test" for i in range(total)]
        senders = [threading.Thread(target=send_many, args=(port, ids[k::threads_n], acked, failed))
                   for k in range(threads_n)]
        t0 = time.monotonic()
        for t in senders:
            t.start()
        reloads = 0
        while any(t.is_alive() for t in senders) or reloads < 3:
            time.sleep(2)
            assert instance.postern("reload").returncode == 0
            reloads += 1
        for t in senders:
            t.join()
        sent_s = time.monotonic() - t0
        assert not failed, failed[:5]
        wait_for(lambda: set(acked) <= set(handler.snapshot()), timeout=120, interval=0.5,
                 what="every acknowledged message at the sink")
        wait_for(lambda: not envelopes(instance), timeout=60, interval=0.5, what="an empty queue")
        seen = handler.snapshot()
        dupes = {k: v for k, v in seen.items() if v > 1}
        print(f"{total} messages in {sent_s:.1f}s with {reloads} reloads; "
              f"{len(dupes)} delivered twice; all delivered after {time.monotonic() - t0:.1f}s")
        assert not dupes, sorted(dupes.items())[:10]
        assert set(seen) == set(ids)
    finally:
        sink.stop()


def _greets(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            data = c.recv(512)
            c.sendall(b"QUIT\r\n")
            return data.startswith(b"220 ")
    except OSError:
        return False


def test_burst_of_1000_connects_to_a_fresh_instance_is_greeted_within_5s(instance):
    n = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    port = free_port()
    instance.set(smtpd_client_connection_count_limit="0")
    instance.add_service(f"127.0.0.1:{port} inet n - n - - smtpd")
    instance.start()
    instance.wait_log(r"daemon started", timeout=10)
    sel = selectors.DefaultSelector()
    socks = []
    try:
        t0 = time.monotonic()
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            socks.append(s)
            sel.register(s, selectors.EVENT_READ)
        greeted = 0
        deadline = t0 + 5.0
        while greeted < n and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
                try:
                    data = key.fileobj.recv(512)
                except OSError:
                    data = b""
                assert data.startswith(b"220 "), data
                greeted += 1
                sel.unregister(key.fileobj)
        elapsed = time.monotonic() - t0
        print(f"{greeted} of {n} connects greeted in {elapsed:.2f}s")
        assert greeted == n, f"{n - greeted} of {n} clients connected but never greeted within 5 s"
    finally:
        sel.close()
        for s in socks:
            s.close()
