# bench/mta/scenarios.py — the five scenarios. Each takes an MTA factory
# (relay_port, **kw → a fresh, unstarted instance) and the sizes to use, runs
# once against a fresh instance and returns {figure: value}.
import os
import subprocess
import tempfile
import time
from pathlib import Path

from . import tools
from .idle import IdleSessions
from .latency import LatencySink, percentile, send_sequential
from .procs import PeakMemory, memory_kb


def cpu_delta(mta, before):
    """CPU ms of the MTA's cgroup since `before` (None without CPU accounting)."""
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
                dt, _ = tools.smtp_source(mta.port, n, sessions=sizes["relay_sessions"], rcpt=mta.rcpt)
                t_done = sink.wait_messages(n, timeout=sizes["timeout"])
                if t_done is None:
                    raise tools.ToolError(f"{mta.name}: only {sink.messages()}/{n} messages reached the sink\n"
                                          f"{mta.log_tail()}")
                time.sleep(0.3)  # the last removals after the last delivery
            cpu = cpu_delta(mta, cpu0)
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
                send_sequential(mta.port, 20, first_seq=WARM, rcpt=mta.rcpt)
                _wait_arrivals(sink, lambda a: sum(1 for s in a if s >= WARM) >= 20, 30)
                times = send_sequential(mta.port, n, rcpt=mta.rcpt)
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
        with IdleSessions(mta.port, n, burst=mta.connect_burst, timeout=sizes["timeout"]) as sessions:
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


def _status_kb(pid, field):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _server_kb(mta, server, field):
    return max((_status_kb(p, field) for p in mta.pids_of(server)), default=0)


def _settle(mta, server, timeout=60.0):
    """Waits until the process serving the listing has stopped growing (its
    RssAnon steady for 2 s): right after the enqueue, qmgr is still filling
    its active set, whose heap would be counted as the listing's."""
    end, last, steady = time.monotonic() + timeout, -1, 0
    while time.monotonic() < end and steady < 4:
        now = _server_kb(mta, server, "RssAnon")
        steady = steady + 1 if abs(now - last) < 64 else 0
        last = now
        time.sleep(0.5)


def _timed_listing(argv, mta):
    """Runs `argv | wc -l`; returns a dict: lines, seconds, the listing
    command's peak RSS in KiB, the peak RSS of the MTA's process that serves
    the listing (qmgr, showq) and its RSS just before — also split into
    anonymous memory (RssAnon: heap, what the listing would pile up) and file
    pages (RssFile: the mapped queue, shared with the page cache) — and the
    peak of the sum over all the MTA's processes and that sum before.
    Streaming shows as small peaks that do not grow with the queue. The
    command's peak is its VmHWM (wait4's ru_maxrss would count this Python
    process, which it was forked from); the MTA's are sampled every few ms."""
    server = mta.queue_server()
    _settle(mta, server)
    fields = ("VmRSS", "RssAnon", "RssFile")
    before = {f: _server_kb(mta, server, f) for f in fields}
    peak_of = dict(before)
    total_before = memory_kb(mta.pids())[0]
    t0 = time.monotonic()
    lister = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=tools.tool_env())
    wc = subprocess.Popen(["wc", "-l"], stdin=lister.stdout, stdout=subprocess.PIPE)
    lister.stdout.close()
    peak = total_peak = 0
    i = 0
    while lister.poll() is None:
        peak = max(peak, _status_kb(lister.pid, "VmHWM"))
        for f in fields:
            peak_of[f] = max(peak_of[f], _server_kb(mta, server, f))
        if i % 10 == 0:
            total_peak = max(total_peak, memory_kb(mta.pids())[0])
        i += 1
        time.sleep(0.005)
    out = wc.communicate()[0]
    return {"lines": int(out.strip() or 0), "secs": time.monotonic() - t0, "peak": peak,
            "before": before, "server_peak": peak_of, "total_peak": total_peak, "total_before": total_before}


def queue_scale(factory, sizes):
    """N messages enqueued with remote delivery paused (postern: `postern
    pause mta`; Postfix: defer_transports); then the whole queue listed, qmgr
    restarted (reload) until ready, delivery resumed, and the drain to the
    sink timed."""
    n = sizes["queue_messages"]
    sink = tools.SmtpSink()
    try:
        with factory(sink.port, paused=True) as mta:
            mta.start()
            dt = tools.smtp_source_parallel(mta.port, n, processes=sizes["queue_sources"],
                                            sessions=sizes["queue_sessions"], timeout=sizes["timeout"])
            out = {"queue_enqueue_msgs_per_s": n / dt}
            argv, label = mta.queue_list_argv()
            load = os.getloadavg()[0]
            got = _timed_listing(argv, mta)
            lines, srv, srv0 = got["lines"], got["server_peak"], got["before"]
            out.update(queue_list_s=got["secs"], queue_list_lines=lines, queue_list_peak_rss_mb=got["peak"] / 1024.0,
                       queue_list_server_peak_rss_mb=srv["VmRSS"] / 1024.0,
                       queue_list_server_growth_mb=(srv["VmRSS"] - srv0["VmRSS"]) / 1024.0,
                       queue_list_server_anon_mb=srv0["RssAnon"] / 1024.0,
                       queue_list_server_anon_growth_mb=(srv["RssAnon"] - srv0["RssAnon"]) / 1024.0,
                       queue_list_server_file_mb=srv0["RssFile"] / 1024.0,
                       queue_list_server_file_growth_mb=(srv["RssFile"] - srv0["RssFile"]) / 1024.0,
                       queue_list_mta_growth_mb=max(0, got["total_peak"] - got["total_before"]) / 1024.0,
                       queue_list_load1=load, queue_list_tool=label)
            if lines < n:
                raise tools.ToolError(f"{mta.name}: the listing printed {lines} lines for {n} messages")
            if sink.messages():
                raise tools.ToolError(f"{mta.name}: delivered while paused")
            t_restart, answered = mta.restart_qmgr(timeout=sizes["timeout"])
            if answered is not None:
                out["qmgr_restart_s"] = answered
            mta.resume_delivery()
            t_first = sink.wait_messages(1, timeout=sizes["timeout"])
            t_done = sink.wait_messages(n, timeout=sizes["timeout"])
            if t_first is None or t_done is None:
                raise tools.ToolError(f"{mta.name}: drained {sink.messages()}/{n}\n{mta.log_tail()}")
            out.update(qmgr_ready_s=t_first - t_restart, queue_drain_s=t_done - t_restart,
                       queue_drain_msgs_per_s=n / (t_done - t_first), queue_drain_load1=os.getloadavg()[0])
            return out
    finally:
        sink.close()
