# bench/mta/scenarios.py — the five scenarios. Each takes an MTA factory
# (relay_port, **kw → a fresh, unstarted instance) and the sizes to use, runs
# once against a fresh instance and returns {figure: value}.
import subprocess
import tempfile
import time
from pathlib import Path

from . import tools
from .idle import IdleSessions
from .latency import LatencySink, percentile, send_sequential
from .procs import PeakMemory, memory_kb


def _cpu_delta(mta, before):
    now = mta.cpu.cpu_ms()
    return None if now is None or before is None else now - before


def relay(factory, sizes):
    """smtp-source -s 20 -d -l 4096 -m N → MTA → smtp-sink."""
    n = sizes["relay_messages"]
    sink = tools.SmtpSink()
    try:
        with factory(sink.port) as mta:
            mta.start()
            time.sleep(0.5)  # let start-up work (qmgr's first scan) finish
            cpu0 = mta.cpu.cpu_ms()
            with PeakMemory(mta.pids) as peak:
                t0 = time.monotonic()
                dt, _ = tools.smtp_source(mta.port, n, sessions=sizes["relay_sessions"])
                t_done = sink.wait_messages(n, timeout=sizes["timeout"])
                if t_done is None:
                    raise tools.ToolError(f"{mta.name}: only {sink.messages()}/{n} messages reached the sink\n"
                                          f"{mta.log_tail()}")
                time.sleep(0.3)  # the last removals after the last delivery
            cpu = _cpu_delta(mta, cpu0)
            return {
                "accepted_msgs_per_s": n / dt,
                "delivered_msgs_per_s": n / (t_done - t0),
                "cpu_ms_per_msg": None if cpu is None else cpu / n,
                "peak_rss_mb": peak.peak_rss / 1024.0,
                "peak_pss_mb": peak.peak_pss / 1024.0,
            }
    finally:
        sink.close()


WARM = 1_000_000


def _wait_arrivals(sink, done, timeout):
    deadline = time.monotonic() + timeout
    while True:
        arr = sink.arrivals()
        if done(arr) or time.monotonic() > deadline:
            return arr
        time.sleep(0.05)


def latency(factory, sizes):
    """One session, messages one after another: end-of-DATA → 250, and 250 →
    the sink has the message."""
    n = sizes["latency_messages"]
    with tempfile.TemporaryDirectory(prefix="bench-lat-") as d:
        port = tools.free_port()
        sink = LatencySink(port, Path(d) / "arrivals")
        try:
            with factory(port) as mta:
                mta.start()
                # Warm-up (seq from 10^6 on): workers started, connections cached.
                send_sequential(mta.port, 20, first_seq=WARM)
                _wait_arrivals(sink, lambda a: sum(1 for s in a if s >= WARM) >= 20, 30)
                times = send_sequential(mta.port, n)
                arr = _wait_arrivals(sink, lambda a: sum(1 for s in a if s < WARM) >= n, sizes["timeout"])
        finally:
            sink.close()
    ack = [(t250 - teod) * 1000 for teod, t250 in times.values()]
    relay_ms = [(arr[s] - times[s][1]) * 1000 for s in times if s in arr]
    return {
        "eod_to_250_p50_ms": percentile(ack, 50),
        "eod_to_250_p99_ms": percentile(ack, 99),
        "250_to_sink_p50_ms": percentile(relay_ms, 50),
        "250_to_sink_p99_ms": percentile(relay_ms, 99),
        "latency_delivered": len(relay_ms),
    }


def ceiling(sizes):
    """smtp-source → smtp-sink with no MTA between: the protocol's own limit."""
    n = sizes["relay_messages"]
    sink = tools.SmtpSink()
    try:
        t0 = time.monotonic()
        dt, _ = tools.smtp_source(sink.port, n, sessions=sizes["relay_sessions"])
        t_done = sink.wait_messages(n, timeout=sizes["timeout"]) or time.monotonic()
        return {"ceiling_msgs_per_s": n / max(dt, t_done - t0)}
    finally:
        sink.close()


def idle(factory, sizes, n):
    """N sessions idle after EHLO: total memory of all the MTA's processes."""
    sink_port = tools.free_port()  # nothing is delivered; any closed port will do
    with factory(sink_port) as mta:
        mta.start()
        time.sleep(0.5)
        base_rss, base_pss = memory_kb(mta.pids())
        with IdleSessions(mta.port, n, timeout=sizes["timeout"]) as sessions:
            ready = sessions.open()
            time.sleep(1.0)  # workers started late settle their heaps
            rss, pss = memory_kb(mta.pids())
            procs = len(mta.pids())
        return {
            f"idle{n}_sessions_open": ready,
            f"idle{n}_processes": procs,
            f"idle{n}_total_rss_mb": rss / 1024.0,
            f"idle{n}_total_pss_mb": pss / 1024.0,
            f"idle{n}_rss_kb_per_session": (rss - base_rss) / max(ready, 1),
            f"idle{n}_pss_kb_per_session": (pss - base_pss) / max(ready, 1),
        }


def _hwm_kb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _timed_listing(argv):
    """Runs `argv | wc -l`; returns (lines, seconds, peak RSS in KiB of the
    listing process — whether it streams or holds the queue in memory).
    The peak is VmHWM polled while it runs (wait4's ru_maxrss would count
    this Python process, which the child was forked from)."""
    t0 = time.monotonic()
    lister = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=tools.tool_env())
    wc = subprocess.Popen(["wc", "-l"], stdin=lister.stdout, stdout=subprocess.PIPE)
    lister.stdout.close()
    peak = 0
    while lister.poll() is None:
        peak = max(peak, _hwm_kb(lister.pid))
        time.sleep(0.005)
    out = wc.communicate()[0]
    return int(out.strip() or 0), time.monotonic() - t0, peak


def queue_scale(factory, sizes):
    """N messages enqueued with no qmgr running (delivery paused); then the
    queue listing, qmgr started by a reload until the first delivery, and the
    drain to the sink."""
    n = sizes["queue_messages"]
    sink = tools.SmtpSink()
    try:
        with factory(sink.port, qmgr=False) as mta:
            mta.start()
            argv, label = mta.queue_list_argv()  # probed while the queue is empty
            dt, _ = tools.smtp_source(mta.port, n, sessions=sizes["relay_sessions"])
            out = {"queue_enqueue_msgs_per_s": n / dt}
            if argv:
                lines, secs, maxrss = _timed_listing(argv)
                out.update(queue_list_s=secs, queue_list_lines=lines, queue_list_peak_rss_mb=maxrss / 1024.0,
                           queue_list_tool=label)
            if sink.messages():
                raise tools.ToolError(f"{mta.name}: delivered while paused")
            t_reload = mta.enable_qmgr()
            t_first = sink.wait_messages(1, timeout=sizes["timeout"])
            t_done = sink.wait_messages(n, timeout=sizes["timeout"])
            if t_first is None or t_done is None:
                raise tools.ToolError(f"{mta.name}: drained {sink.messages()}/{n}\n{mta.log_tail()}")
            out.update(qmgr_ready_s=t_first - t_reload, queue_drain_s=t_done - t_reload,
                       queue_drain_msgs_per_s=n / (t_done - t_first))
            return out
    finally:
        sink.close()
