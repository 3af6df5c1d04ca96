# bench/mta/heavy.py — the scenarios of performance round 2: fan-out (many
# recipients across domains found by MX, per-destination concurrency
# limits in force), TLS relay (STARTTLS on both sides) and large messages.
# Each takes an MTA factory and the sizes, runs once on a fresh instance and
# returns {figure: value}.
import tempfile
import time
from pathlib import Path

from . import load, tools
from .dns import PrivateDns
from .latency import LatencySink
from .procs import PeakMemory
from .scenarios import cpu_delta

FANOUT_DOMAINS = 20
FANOUT_RCPTS = 50


def _sink_hosts(n):
    """The fan-out's mail exchangers: 127.0.0.11 … 127.0.0.(10+n)."""
    return [f"127.0.0.{11 + i}" for i in range(n)]


def fanout(factory, sizes):
    """N messages × 50 recipients across 20 domains d0…d19.example whose MX
    records (private dnsmasq) point at 20 sinks on 127.0.0.11…30, all on one
    port; the MTA routes by MX. Done when every recipient reached a sink."""
    n, hosts = sizes["fanout_messages"], _sink_hosts(FANOUT_DOMAINS)
    records = []
    for i, h in enumerate(hosts):
        records += [f"--mx-host=d{i}.example,mx.d{i}.example,10", f"--host-record=mx.d{i}.example,{h}"]
    want = n * FANOUT_RCPTS
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as d, PrivateDns(records) as dns:
        port = tools.free_port()
        sink = LatencySink(port, Path(d) / "arrivals", hosts=hosts)
        try:
            with factory(port, dns=dns) as mta:
                mta.start()
                time.sleep(0.5)
                cpu0 = mta.cpu.cpu_ms()
                with PeakMemory(mta.pids) as peak:
                    t0 = time.monotonic()
                    st = load.run(mta.port, n, sessions=sizes["fanout_sessions"], domains=FANOUT_DOMAINS,
                                  rcpts=FANOUT_RCPTS, timeout=sizes["timeout"])
                    t_done = sink.wait_recipients(want, sizes["timeout"])
                    if t_done is None:
                        raise tools.ToolError(f"{mta.name}: {sink.recipients()}/{want} recipients reached the "
                                              f"sinks\n{mta.log_tail()}")
                cpu = cpu_delta(mta, cpu0)
                deliveries = sink.deliveries()
        finally:
            sink.close()
    return {
        "fanout_accepted_msgs_per_s": n / st["seconds"],
        "fanout_rcpts_per_s": want / (t_done - t0),
        "fanout_deliveries": deliveries,
        "fanout_cpu_ms_per_rcpt": None if cpu is None else cpu / want,
        "fanout_peak_rss_mb": peak.peak_rss / 1024.0,
    }


def tls_relay(factory, sizes):
    """STARTTLS on both sides: N messages, each in a session of its own (a
    full handshake per message, no session resumption by the generator),
    `tls_sessions` at once, into the MTA, which must relay over STARTTLS to a
    sink that offers it."""
    n = sizes["tls_messages"]
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as d:
        Path(d).chmod(0o755)
        cert, key = tools.self_signed(d, "bench.example")
        port = tools.free_port()
        sink = LatencySink(port, Path(d) / "arrivals", tls=(cert, key))
        try:
            with factory(port, tls=(cert, key)) as mta:
                mta.start()
                time.sleep(0.5)
                cpu0 = mta.cpu.cpu_ms()
                with PeakMemory(mta.pids) as peak:
                    t0 = time.monotonic()
                    st = load.run(mta.port, n, sessions=sizes["tls_sessions"], rcpt=mta.rcpt, tls=True,
                                  per_session=1, timeout=sizes["timeout"])
                    t_done = sink.wait_recipients(n, sizes["timeout"])
                    if t_done is None:
                        raise tools.ToolError(f"{mta.name}: {sink.recipients()}/{n} messages reached the TLS "
                                              f"sink\n{mta.log_tail()}")
                cpu = cpu_delta(mta, cpu0)
                if not sink.all_tls():
                    raise tools.ToolError(f"{mta.name}: relayed to the sink without STARTTLS")
        finally:
            sink.close()
    return {
        "tls_handshakes_per_s": st["handshakes"] / st["seconds"],
        "tls_delivered_msgs_per_s": n / (t_done - t0),
        "tls_cpu_ms_per_msg": None if cpu is None else cpu / n,
        "tls_peak_rss_mb": peak.peak_rss / 1024.0,
    }


def large(factory, sizes):
    """N messages of 10 MB (smtp-source -l) relayed to smtp-sink: MB/s, and
    the peak RSS of the MTA and of its largest process (a body held whole
    would show as ≥ 10 MB in one process)."""
    n, size = sizes["large_messages"], sizes["large_size"]
    limit = {"message_size_limit": str(5 * size)}
    sink = tools.SmtpSink()
    try:
        with factory(sink.port, extra=limit) as mta:
            mta.start()
            time.sleep(0.5)
            cpu0 = mta.cpu.cpu_ms()
            with PeakMemory(mta.pids, interval=0.1) as peak:
                t0 = time.monotonic()
                dt, _ = tools.smtp_source(mta.port, n, sessions=sizes["large_sessions"], size=size, rcpt=mta.rcpt,
                                          timeout=sizes["timeout"])
                t_done = sink.wait_messages(n, timeout=sizes["timeout"])
                if t_done is None:
                    raise tools.ToolError(f"{mta.name}: only {sink.messages()}/{n} large messages reached the "
                                          f"sink\n{mta.log_tail()}")
            cpu = cpu_delta(mta, cpu0)
    finally:
        sink.close()
    mb = n * size / 1e6
    return {
        "large_accepted_mb_per_s": mb / dt,
        "large_delivered_mb_per_s": mb / (t_done - t0),
        "large_cpu_ms_per_mb": None if cpu is None else cpu / mb,
        "large_peak_rss_mb": peak.peak_rss / 1024.0,
        "large_peak_process_rss_mb": peak.peak_proc_rss / 1024.0,
    }
