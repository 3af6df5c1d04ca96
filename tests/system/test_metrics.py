"""metrics(8): the Prometheus page after known traffic (accepted, rejected,
delivered to a sink, deferred), checked value by value and by promtool, and
the HTTP responder's refusals: other paths, other methods, oversized heads,
a client that sends nothing."""
import re
import shutil
import smtplib
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import free_port, wait_for
from qmgr_helpers import QTOOL, Sink, configure
from test_smtp_client import agent  # noqa: F401 (fixture)


class Metrics:
    """An instance with smtpd, qmgr, a qsink transport and the metrics service."""

    def __init__(self, instance):
        self.instance = instance
        configure(instance, stats_flush_interval="1s", minimal_backoff_time="300s",
                  maximal_backoff_time="600s",
                  smtpd_recipient_restrictions="check_recipient_access inline:{ {blocked.test=REJECT} }")
        self.sink = Sink(instance)
        self.sink.rules("*@defer.test defer 451 4.3.0 try later\n")
        self.smtp_port = free_port()
        self.port = free_port()
        instance.add_service(f"127.0.0.1:{self.smtp_port} inet n - n - - smtpd")
        instance.add_service(f"127.0.0.1:{self.port} inet n - n - 1 metrics -o metrics_timeout=2s")
        instance.start()

    def url(self, path="/metrics"):
        return f"http://127.0.0.1:{self.port}{path}"

    def page(self):
        """A scrape with curl, as an operator would try it."""
        r = subprocess.run(["curl", "-sS", "--fail", "--max-time", "15", "-D", "-", self.url()],
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        head, _, body = r.stdout.decode().partition("\r\n\r\n")
        assert head.startswith("HTTP/1.1 200 OK\r\n"), head
        assert "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n" in head + "\r\n"
        return body

    def values(self):
        """{'name{labels}': value} of every sample."""
        out = {}
        for line in self.page().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    def raw(self, data, read_timeout=15):
        """Sends bytes, returns all the server answers before it closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=read_timeout) as c:
            if data:
                c.sendall(data)
            chunks = []
            while True:
                b = c.recv(65536)
                if not b:
                    return b"".join(chunks)
                chunks.append(b)

    def send(self, rcpts):
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=15) as c:
            c.ehlo("client.test")
            c.mail("a@example.org")
            accepted = [r for r in rcpts if c.rcpt(r)[0] == 250]
            if accepted:
                c.data(b"Subject: t\r\n\r\nhello\r\n")
            return accepted


@pytest.fixture
def metrics(instance):
    if not QTOOL.exists():
        pytest.skip("qtool not built")
    return Metrics(instance)


def test_scrape_after_known_traffic_has_the_exact_counts(metrics):
    # One session to see smtpd answer; the page then counts exactly it.
    with smtplib.SMTP("127.0.0.1", metrics.smtp_port, timeout=15) as c:
        c.noop()
    wait_for(lambda: metrics.values().get('postern_smtpd_sessions_total{family="inet4"}') == 1, timeout=20,
             what="the first session on the page")
    # 4 messages accepted (3 delivered, 1 deferred), 2 recipients rejected.
    assert metrics.send(["u1@example.test", "x1@blocked.test"]) == ["u1@example.test"]
    assert metrics.send(["u2@example.test"]) == ["u2@example.test"]
    assert metrics.send(["u3@example.test", "x2@blocked.test"]) == ["u3@example.test"]
    assert metrics.send(["d@defer.test"]) == ["d@defer.test"]
    wait_for(lambda: len(metrics.sink.sent()) == 3, timeout=30, what="three deliveries to the sink")

    def settled():
        v = metrics.values()
        return v if (v.get('postern_deliveries_total{transport="test",status="deferred"}') == 1 and
                     v.get('postern_deliveries_total{transport="test",status="sent"}') == 3 and
                     v.get('postern_smtpd_sessions_total{family="inet4"}') == 5) else None

    v = wait_for(settled, timeout=30, what="the deliveries and sessions on the page")
    assert v["postern_smtpd_messages_accepted_total"] == 4
    assert v["postern_smtpd_recipients_accepted_total"] == 4
    assert v['postern_smtpd_rejects_total{stage="rcpt",code="554",status="5.7.1"}'] == 2
    assert [k for k in v if k.startswith("postern_smtpd_rejects_total")] == [
        'postern_smtpd_rejects_total{stage="rcpt",code="554",status="5.7.1"}']
    assert v['postern_queue_envelopes{state="deferred"}'] == 1
    assert v['postern_queue_envelopes{state="active"}'] == 0
    assert v["postern_queue_messages"] == 1
    assert v["postern_queue_messages_enqueued_total"] == 4
    assert v["postern_queue_envelopes_removed_total"] == 3
    assert v["postern_smtpd_sessions_active"] == 0
    # The histogram: three successful deliveries, each well within an hour.
    assert v["postern_delivery_delay_seconds_count"] == 3
    assert v['postern_delivery_delay_seconds_bucket{le="+Inf"}'] == 3
    assert v['postern_delivery_delay_seconds_bucket{le="3600"}'] == 3
    assert 0 <= v["postern_delivery_delay_seconds_sum"] < 3 * 3600
    buckets = [(float(re.search(r'le="([^"]+)"', k).group(1)), n) for k, n in v.items()
               if k.startswith("postern_delivery_delay_seconds_bucket")]
    assert [n for _, n in sorted(buckets)] == sorted(n for _, n in buckets)  # cumulative
    # Master's processes: this metrics worker (serving us, still accepting) and qmgr.
    svc = f'service="127.0.0.1:{metrics.port}",type="inet",command="metrics"'
    assert v[f"postern_master_processes{{{svc},state=\"idle\"}}"] == 1
    assert v[f"postern_master_processes{{{svc},state=\"busy\"}}"] == 0
    assert v[f"postern_master_process_limit{{{svc}}}"] == 1
    q = 'service="qmgr",type="unix",command="qmgr"'
    assert v[f'postern_master_processes{{{q},state="idle"}}'] + v[f'postern_master_processes{{{q},state="busy"}}'] == 1
    assert v["postern_master_uptime_seconds"] >= 0


def test_promtool_accepts_the_page(metrics):
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.fail("promtool missing: scripts/install-deps installs Debian's prometheus package for it")
    assert metrics.send(["u1@example.test", "x@blocked.test"]) == ["u1@example.test"]
    wait_for(lambda: metrics.values().get('postern_smtpd_rejects_total{stage="rcpt",code="554",status="5.7.1"}'),
             timeout=20, what="a reject on the page")
    page = metrics.page()
    r = subprocess.run([promtool, "check", "metrics"], input=page, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout + r.stderr == ""  # not even a lint remark


def test_head_answers_like_get_without_a_body(metrics):
    answer = metrics.raw(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n").decode()
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200 OK\r\n")
    assert int(re.search(r"Content-Length: (\d+)", head).group(1)) > 1000
    assert body == ""


def test_other_paths_are_404_and_other_methods_405(metrics):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(metrics.url("/"), timeout=15)
    assert e.value.code == 404
    answer = metrics.raw(b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").decode()
    assert answer.startswith("HTTP/1.1 405 Method Not Allowed\r\n")
    assert "\r\nAllow: GET, HEAD\r\n" in answer
    assert metrics.raw(b"GET /metrics HTTP/9.9\r\n\r\n").startswith(b"HTTP/1.1 400 Bad Request\r\n")


def test_oversized_heads_are_refused_with_431(metrics):
    big = b"GET /metrics HTTP/1.1\r\nX-Filler: " + b"a" * 9000 + b"\r\n\r\n"
    assert metrics.raw(big).startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    many = b"GET /metrics HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(65)) + b"\r\n"
    assert metrics.raw(many).startswith(b"HTTP/1.1 431 ")
    # 64 headers are still fine.
    ok = b"GET /metrics HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(64)) + b"\r\n"
    assert metrics.raw(ok).startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_client_that_sends_nothing_is_closed_after_metrics_timeout(metrics):
    start = time.monotonic()
    assert metrics.raw(b"GET /metrics HTTP/1.1\r\n", read_timeout=20) == b""
    assert time.monotonic() - start >= 1.5  # metrics_timeout=2s
    metrics.instance.wait_log(r"postern/metrics\[\d+\]: timeout after 23 bytes of request from 127\.0\.0\.1:\d+")


def test_smtp_connection_cache_hits_and_misses_are_counted(agent):
    from test_smtp_client import BODY, Message, Sink as SmtpSink, deliver
    port = free_port()
    agent.add_service(f"127.0.0.1:{port} inet n - n - 1 metrics")
    agent.reload()
    sink = SmtpSink("127.0.0.3")
    try:
        for i in range(3):
            msg = Message(agent, BODY, [f"u{i}@x.test"])
            assert deliver(agent, msg, f"[127.0.0.3]:{sink.port}")[f"u{i}@x.test"]["status"] == "S"
        assert sink.ehlos == 1  # one connection, reused twice
    finally:
        sink.stop()

    def counted():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=15) as r:
                page = r.read().decode()
        except OSError:
            return None
        hits = re.search(r"^postern_smtp_connection_cache_hits_total (\d+)$", page, re.M)
        misses = re.search(r"^postern_smtp_connection_cache_misses_total (\d+)$", page, re.M)
        return (hits.group(1), misses.group(1)) if hits and misses and hits.group(1) == "2" else None

    assert wait_for(counted, timeout=20, what="the cache hits on the page") == ("2", "1")
