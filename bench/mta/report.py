# bench/mta/report.py — turns the runs into medians, min–max and
# postern/peer ratios (Postfix, Exim, OpenSMTPD, chasquid), prints them as
# one table, and checks the targets against the postern medians.
import statistics

# figure -> (unit, better: "higher"/"lower"/None, one-line meaning)
FIGURES = {
    "accepted_msgs_per_s": ("msg/s", "higher", "relay: smtp-source's rate into the MTA (250 after fsync)"),
    "delivered_msgs_per_s": ("msg/s", "higher", "relay: messages at smtp-sink per second, first connect to last arrival"),
    "cpu_ms_per_msg": ("ms", "lower", "relay: CPU of all MTA processes (cgroup, exited ones too) per message"),
    "peak_rss_mb": ("MB", "lower", "relay: largest sum of RSS over the MTA's processes"),
    "peak_pss_mb": ("MB", "lower", "relay: PSS at that moment (shared pages split)"),
    "eod_to_250_p50_ms": ("ms", "lower", "latency: end of DATA to the 250 reply, median"),
    "eod_to_250_p99_ms": ("ms", "lower", "latency: end of DATA to the 250 reply, 99th percentile"),
    "250_to_sink_p50_ms": ("ms", "lower", "latency: 250 to the sink holding the message, median"),
    "250_to_sink_p99_ms": ("ms", "lower", "latency: 250 to the sink holding the message, 99th percentile"),
    "latency_delivered": ("msgs", None, "latency: messages the sink received"),
    "ceiling_msgs_per_s": ("msg/s", None, "ceiling: smtp-source to smtp-sink, no MTA (both columns alike)"),
    "queue_enqueue_msgs_per_s": ("msg/s", "higher", "queue: enqueue rate with delivery paused"),
    "queue_list_s": ("s", "lower", "queue: listing the whole queue | wc -l"),
    "queue_list_lines": ("lines", None, "queue: lines the listing printed"),
    "queue_list_peak_rss_mb": ("MB", "lower", "queue: peak RSS of the listing command (streams or not)"),
    "queue_list_server_peak_rss_mb": ("MB", "lower", "queue: peak RSS during the listing of the MTA process "
                                      "serving it (postern qmgr, Postfix showq)"),
    "queue_list_server_growth_mb": ("MB", "lower", "queue: that process's peak minus its RSS before the listing"),
    "queue_list_server_anon_mb": ("MB", "lower", "queue: that process's anonymous memory (RssAnon) before the listing"),
    "queue_list_server_anon_growth_mb": ("MB", "lower", "queue: its RssAnon peak during the listing minus before "
                                         "(heap the listing piles up)"),
    "queue_list_server_file_mb": ("MB", None, "queue: that process's file pages (RssFile: the mapped queue, "
                                  "page cache) before the listing"),
    "queue_list_server_file_growth_mb": ("MB", None, "queue: its RssFile peak during the listing minus before "
                                         "(queue pages read; reclaimable)"),
    "queue_list_mta_growth_mb": ("MB", "lower", "queue: growth of the sum of RSS of all MTA processes while listing"),
    "queue_list_load1": ("", None, "queue: 1-minute load average when the listing started (shared machine)"),
    "queue_list_tool": ("", None, "queue: the command that listed the queue"),
    "qmgr_restart_s": ("s", "lower", "queue: reload to the new qmgr answering a queue command (postern only)"),
    "qmgr_ready_s": ("s", "lower", "queue: qmgr restarted (reload) and delivery resumed, to the first delivery"),
    "queue_drain_s": ("s", "lower", "queue: qmgr restarted to the queue empty at the sink"),
    "queue_drain_msgs_per_s": ("msg/s", "higher", "queue: drain rate after the first delivery"),
    "queue_drain_load1": ("", None, "queue: 1-minute load average when the drain ended"),
    "fanout_accepted_msgs_per_s": ("msg/s", "higher", "fan-out: messages of 50 recipients (20 domains) accepted per second"),
    "fanout_rcpts_per_s": ("rcpt/s", "higher", "fan-out: recipients at the sinks per second, first connect to last"),
    "fanout_deliveries": ("", None, "fan-out: SMTP transactions the 20 sinks received"),
    "fanout_cpu_ms_per_rcpt": ("ms", "lower", "fan-out: CPU of all MTA processes per recipient"),
    "fanout_peak_rss_mb": ("MB", "lower", "fan-out: largest sum of RSS over the MTA's processes"),
    "tls_handshakes_per_s": ("hs/s", "higher", "TLS relay: inbound STARTTLS sessions (one message each) per second"),
    "tls_delivered_msgs_per_s": ("msg/s", "higher", "TLS relay: messages at the TLS sink per second"),
    "tls_cpu_ms_per_msg": ("ms", "lower", "TLS relay: CPU of all MTA processes per message (both handshakes)"),
    "tls_peak_rss_mb": ("MB", "lower", "TLS relay: largest sum of RSS over the MTA's processes"),
    "large_accepted_mb_per_s": ("MB/s", "higher", "large: 10 MB messages into the MTA, MB (10^6 B) per second"),
    "large_delivered_mb_per_s": ("MB/s", "higher", "large: MB per second at the sink, first connect to last"),
    "large_cpu_ms_per_mb": ("ms", "lower", "large: CPU of all MTA processes per MB relayed"),
    "large_peak_rss_mb": ("MB", "lower", "large: largest sum of RSS over the MTA's processes"),
    "large_peak_process_rss_mb": ("MB", "lower", "large: largest RSS of one MTA process (a body held whole shows)"),
}
_IDLE = {
    "sessions_open": ("", None, "idle: sessions that reached the EHLO reply"),
    "processes": ("", None, "idle: MTA processes holding them"),
    "total_rss_mb": ("MB", "lower", "idle: sum of RSS of all MTA processes"),
    "total_pss_mb": ("MB", "lower", "idle: sum of PSS of all MTA processes"),
    "rss_kb_per_session": ("KB", "lower", "idle: RSS growth per session over the idle MTA"),
    "pss_kb_per_session": ("KB", "lower", "idle: PSS growth per session over the idle MTA"),
}


def describe(name):
    if name in FIGURES:
        return FIGURES[name]
    if name.startswith("idle"):
        n, _, rest = name[4:].partition("_")
        unit, better, text = _IDLE.get(rest, ("", None, "idle"))
        return unit, better, text.replace("idle:", f"idle N={n}:")
    return "", None, ""


def _stats(values):
    nums = [v for v in values if isinstance(v, (int, float)) and v is not None]
    if not nums:
        return {"runs": values, "median": values[0] if values else None, "min": None, "max": None}
    return {"runs": nums, "median": statistics.median(nums), "min": min(nums), "max": max(nums)}


# Display names of the MTAs the harness knows, in the table's column order.
LABELS = {"postern": "postern", "postfix": "Postfix", "exim": "Exim", "opensmtpd": "OpenSMTPD",
          "chasquid": "chasquid"}


def _peers(entry):
    return [m for m in LABELS if m != "postern" and m in entry]


def _ratios(entry):
    """postern's median over each peer's: entry["ratios"][peer]; entry["ratio"]
    stays postern/Postfix (the targets and older readers use it)."""
    a = entry.get("postern", {}).get("median")
    entry["ratios"] = {}
    for peer in _peers(entry):
        b = entry[peer]["median"]
        ok = isinstance(a, (int, float)) and isinstance(b, (int, float)) and b
        entry["ratios"][peer] = a / b if ok else None
    entry["ratio"] = entry["ratios"].get("postfix")
    return entry


def summarize(runs):
    """runs: figure → {mta: [value per run]} → figure → unit, meaning, per MTA
    median/min/max, postern/peer ratios."""
    out = {}
    for name, by in runs.items():
        unit, better, text = describe(name)
        entry = {"unit": unit, "better": better, "meaning": text}
        for mta in LABELS:
            if mta in by:
                entry[mta] = _stats(by[mta])
        out[name] = _ratios(entry)
    return out


def merge_figure(old, new):
    """A re-run's figure over the file's: an MTA the re-run did not run
    (--mtas a subset) keeps its column, and the ratios are recomputed."""
    if not old:
        return new
    entry = dict(new)
    for mta in LABELS:
        if mta in old and not (mta in new and new[mta]["runs"]):
            entry[mta] = old[mta]
    return _ratios(entry)


def behind(summary):
    """(figure, peer, ratio) where postern's median is worse than the peer's."""
    out = []
    for name, e in summary.items():
        for peer, r in (e.get("ratios") or {}).items():
            if r is not None and ((e["better"] == "higher" and r < 1) or (e["better"] == "lower" and r > 1)):
                out.append((name, peer, r))
    return out


def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _cell(s):
    if not s or s["median"] is None:
        return "-"
    if s["min"] is None or s["min"] == s["max"]:
        return _fmt(s["median"])
    return f"{_fmt(s['median'])} ({_fmt(s['min'])}–{_fmt(s['max'])})"


def table(summary, names=None):
    """One row per figure: each MTA's median (min–max), then postern/X for
    every peer X that has the figure. `names` overrides a column's name
    (--versus: the "postfix" column holds another postern)."""
    label = dict(LABELS, **(names or {}))
    mtas = [m for m in LABELS if any(m in e for e in summary.values())]
    peers = [m for m in mtas if m != "postern"]
    head = ["figure", "unit"] + [f"{label[m]} median (min–max)" for m in mtas] + \
           [f"postern/{label[p]}" for p in peers]
    rows = [head]
    for name, e in summary.items():
        ratios = e.get("ratios") or {}
        rows.append([name, e["unit"]] + [_cell(e.get(m)) for m in mtas] +
                    ["-" if ratios.get(p) is None else f"{ratios[p]:.2f}×" for p in peers])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def _median(summary, name, who="postern"):
    e = summary.get(name)
    return None if e is None or who not in e else e[who]["median"]


# (label, figure, test on (postern median, ratio), what it asks)
TARGETS = [
    ("relay delivered ≥ 3× Postfix", "delivered_msgs_per_s", lambda v, r: r is not None and r >= 3.0, "ratio ≥ 3"),
    ("relay CPU ≤ 1.2 ms/msg", "cpu_ms_per_msg", lambda v, r: v is not None and v <= 1.2, "≤ 1.2 ms"),
    ("10,000 idle sessions ≤ 200 MB RSS", "idle10000_total_rss_mb", lambda v, r: v is not None and v <= 200, "≤ 200 MB"),
    ("p99 end-of-DATA→250 ≤ 10 ms", "eod_to_250_p99_ms", lambda v, r: v is not None and v <= 10, "≤ 10 ms"),
    ("qmgr restart ready ≤ 10 s", "qmgr_ready_s", lambda v, r: v is not None and v <= 10, "≤ 10 s"),
    # Streaming: the lister's peak RSS stays small however long the queue is
    # (100,000 envelopes held in memory would be tens of MB).
    ("queue listing streams (peak RSS ≤ 32 MB)", "queue_list_peak_rss_mb",
     lambda v, r: v is not None and v <= 32, "≤ 32 MB"),
    # Issue 18, at 1,000,000 queued (bench/run --queue 1000000).
    ("queue enqueue ≥ 10× Postfix", "queue_enqueue_msgs_per_s", lambda v, r: r is not None and r >= 10, "ratio ≥ 10"),
    ("queue listing ≤ 10 s", "queue_list_s", lambda v, r: v is not None and v <= 10, "≤ 10 s"),
    ("queue listing command ≤ 10 MB", "queue_list_peak_rss_mb", lambda v, r: v is not None and v <= 10, "≤ 10 MB"),
    ("qmgr anonymous growth while listing ≤ 10 MB", "queue_list_server_anon_growth_mb",
     lambda v, r: v is not None and v <= 10, "≤ 10 MB"),
    ("qmgr restart ≤ 2 s", "qmgr_restart_s", lambda v, r: v is not None and v <= 2, "≤ 2 s"),
    ("queue drain ≥ 3× Postfix", "queue_drain_msgs_per_s", lambda v, r: r is not None and r >= 3, "ratio ≥ 3"),
]


def check_targets(summary):
    out = []
    for label, name, ok, ask in TARGETS:
        if _median(summary, name) is None:
            out.append({"target": label, "figure": name, "verdict": "not measured",
                        "detail": "scenario not run for postern"})
            continue
        v, r = _median(summary, name), summary[name]["ratio"]
        detail = f"postern {_fmt(v)} {summary[name]['unit']}" + (f", ratio {r:.2f}×" if r else "")
        out.append({"target": label, "figure": name, "verdict": "met" if ok(v, r) else "MISSED",
                    "detail": f"{detail}; wants {ask}", "postern": v, "ratio": r})
    return out
