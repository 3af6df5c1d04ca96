# bench/mta/main.py — `bench/run`'s side-by-side part: runs each scenario for
# postern and Postfix in alternation (A B A B ...), prints one table of
# medians, min–max and postern/Postfix ratios, and writes it as JSON.
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

from . import scenarios, tools
from .instances import Postern, Postfix
from .procs import CpuGroup
from .report import FIGURES, TARGETS, summarize, table, check_targets, merge_figure

MODES = {
    "full": dict(pairs=3, relay_messages=10000, relay_sessions=20, latency_messages=1000,
                 idle_postern=[100, 1000, 10000], idle_postfix=[100, 1000], queue_messages=100000,
                 queue_sources=2, queue_sessions=50, timeout=1800),
    "quick": dict(pairs=3, relay_messages=2000, relay_sessions=20, latency_messages=200,
                  idle_postern=[100, 1000], idle_postfix=[100], queue_messages=2000,
                  queue_sources=2, queue_sessions=50, timeout=600),
    "smoke": dict(pairs=1, relay_messages=100, relay_sessions=5, latency_messages=20,
                  idle_postern=[20], idle_postfix=[20], queue_messages=100,
                  queue_sources=1, queue_sessions=5, timeout=60),
}
ALL = ["relay", "relay_milter", "latency", "ceiling", "idle", "queue"]


def machine():
    info = {"kernel": platform.release(), "cpus": os.cpu_count(), "python": platform.python_version()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()
        info["memory_gb"] = round(int(mem[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        info["disk"] = subprocess.run(["df", "-h", "--output=source,fstype", "/tmp"], capture_output=True,
                                      text=True).stdout.splitlines()[-1].split()
    except (OSError, IndexError):
        pass
    return info


def git_rev():
    r = subprocess.run(["git", "-C", str(tools.REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def cpu_accounting():
    g = CpuGroup("postern-bench-probe")
    how = "cgroup v2" if g.v2 else "cgroup v1 cpuacct" if g.path else "unavailable (not root?)"
    g.remove()
    return how


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def run(args):
    sizes = dict(MODES[args.mode])
    if args.pairs:
        sizes["pairs"] = args.pairs
    if args.idle:
        sizes["idle_postern"] = [int(n) for n in args.idle.split(",")]
        # Postfix runs one smtpd per session: beyond 1,000 it meets its process limit.
        sizes["idle_postfix"] = [n for n in sizes["idle_postern"] if n <= 1000]
    sizes["idle_pairs"] = args.idle_pairs or sizes["pairs"]
    if args.queue:
        sizes["queue_messages"] = args.queue
    sizes["queue_pairs"] = args.queue_pairs or sizes["pairs"]
    nofile = raise_nofile()
    tools.fetch_postfix(log=lambda m: print(m, flush=True))
    bin_dir = Path(args.bin).resolve()
    versus = Path(args.versus).resolve() if args.versus else None
    if versus:
        sizes["idle_postfix"] = list(sizes["idle_postern"])
    wanted = args.scenarios.split(",") if args.scenarios else ALL
    runs = {}  # figure -> {"postern": [..], "postfix": [..]}
    errors = []
    started = time.time()
    load_before = os.getloadavg()

    def record(who, figures):
        for k, v in figures.items():
            runs.setdefault(k, {"postern": [], "postfix": []})[who].append(v)

    def attempt(label, who, fn):
        if who not in args.mtas.split(","):
            return
        t0 = time.monotonic()
        try:
            figures = fn()
        except Exception as e:  # one failed run is reported, the rest still run
            errors.append(f"{label} {who}: {e}")
            print(f"  {label:8} {who:8} FAILED: {str(e).splitlines()[0]}", flush=True)
            return
        record(who, figures)
        brief = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
        print(f"  {label:8} {who:8} {time.monotonic() - t0:6.1f}s  {brief}", flush=True)

    postern = lambda port, **kw: Postern(bin_dir, port, abuse=args.abuse, **kw)
    postfix = lambda port, **kw: Postfix(port, **kw)
    if versus:  # the second column is postern too: another build, or this one without --abuse
        postfix = lambda port, **kw: Postern(versus, port, abuse=args.abuse_versus, **kw)
    pairs = sizes["pairs"]
    for scen in wanted:
        for i in range(sizes.get(f"{scen}_pairs", pairs)):
            if scen == "relay":
                attempt("relay", "postern", lambda: scenarios.relay(postern, sizes))
                attempt("relay", "postfix", lambda: scenarios.relay(postfix, sizes))
            elif scen == "relay_milter":
                # The relay run with one no-op milter in smtpd_milters (both MTAs, the same milter).
                with tools.NoopMilter() as m:
                    milt = {"smtpd_milters": m.name}
                    pm = lambda port, **kw: Postern(bin_dir, port, extra=milt, **kw)
                    fm = lambda port, **kw: Postfix(port, extra=milt, **kw)
                    named = lambda f: {f"milter_{k}": v for k, v in f.items()}
                    attempt("relay_milter", "postern", lambda: named(scenarios.relay(pm, sizes)))
                    attempt("relay_milter", "postfix", lambda: named(scenarios.relay(fm, sizes)))
            elif scen == "latency":
                attempt("latency", "postern", lambda: scenarios.latency(postern, sizes))
                attempt("latency", "postfix", lambda: scenarios.latency(postfix, sizes))
            elif scen == "ceiling":
                # No MTA: both columns hold the same kind of run, so ratio ~1.
                attempt("ceiling", "postern", lambda: scenarios.ceiling(sizes))
                attempt("ceiling", "postfix", lambda: scenarios.ceiling(sizes))
            elif scen == "idle":
                for n in sorted(set(sizes["idle_postern"]) | set(sizes["idle_postfix"])):
                    if n in sizes["idle_postern"]:
                        attempt(f"idle{n}", "postern", lambda: scenarios.idle(postern, sizes, n))
                    if n in sizes["idle_postfix"]:
                        # Postfix: one smtpd process per session, so its limit must cover n.
                        pf = lambda port, **kw: Postfix(port, process_limit=max(100, n + 10), **kw)
                        if versus:
                            pf = postfix
                        attempt(f"idle{n}", "postfix", lambda: scenarios.idle(pf, sizes, n))
            elif scen == "queue":
                attempt("queue", "postern", lambda: scenarios.queue_scale(postern, sizes))
                attempt("queue", "postfix", lambda: scenarios.queue_scale(postfix, sizes))
            else:
                sys.exit(f"bench: unknown scenario {scen!r} (known: {', '.join(ALL)})")

    summary = summarize(runs)
    result = {
        "run": {
            "mode": args.mode, "pairs": pairs, "sizes": sizes, "started": time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), "seconds": round(time.time() - started, 1),
            "git": git_rev(), "postfix": tools.postfix_version(), "nofile": nofile,
            "abuse": args.abuse, "versus": str(versus) if versus else None, "abuse_versus": args.abuse_versus,
            "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
            "cpu_accounting": cpu_accounting(),
        },
        "machine": machine(),
        "figures": summary,
        "targets": [] if versus else check_targets(summary),  # they are about Postfix
        "errors": errors,
    }
    print()
    print(table(summary, second="versus" if versus else "Postfix"))
    print()
    for t in result["targets"]:
        print(f"target {t['target']}: {t['verdict']} ({t['detail']})")
    for e in errors:
        print(f"error: {e}")
    out = Path(args.out) if args.out else None
    if out and args.merge and out.exists():
        # Only some scenarios re-run: their figures replace the file's, the
        # others stay, and each figure's run is named in "figure_runs".
        old = json.loads(out.read_text())
        label = f"{result['run']['started']} {result['run']['git']} {args.scenarios or 'all'} {args.mtas}"
        runs_by_figure = old.get("figure_runs") or {k: "run" for k in old.get("figures", {})}
        figures = dict(old.get("figures", {}))
        for k, v in summary.items():
            figures[k] = merge_figure(figures.get(k), v)
            runs_by_figure[k] = label
        old.setdefault("merged_runs", []).append(dict(result["run"], label=label, errors=errors))
        old.update(figures=figures, figure_runs=runs_by_figure, targets=check_targets(figures))
        result = old
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nbench: wrote {out}")
    return 1 if errors else 0


def main():
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    p.add_argument("bin", help="postern's bin directory (build/release/bin)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="mode", action="store_const", const="quick", help="smaller counts")
    g.add_argument("--smoke", dest="mode", action="store_const", const="smoke", help="a few seconds: the harness works")
    p.set_defaults(mode="full")
    p.add_argument("--scenarios", help="comma list of " + ",".join(ALL))
    p.add_argument("--pairs", type=int, help="postern/Postfix pairs per scenario")
    p.add_argument("--idle", help="idle session counts for postern, e.g. 100,1000,10000")
    p.add_argument("--idle-pairs", type=int, help="pairs for the idle scenario (it is slow at 10,000)")
    p.add_argument("--queue", type=int, help="messages of the queue scenario (full: 100,000)")
    p.add_argument("--queue-pairs", type=int, help="pairs for the queue scenario (~30 min a pair at 100,000)")
    p.add_argument("--mtas", default="postern,postfix",
                   help="which MTAs to run (default both; one alone gives no ratios)")
    p.add_argument("--abuse", action="store_true",
                   help="postern with its abuse controls on (greeting delay, anvil limits; the client past them "
                        "as after a first pass): compare with a run without")
    p.add_argument("--versus", metavar="BIN",
                   help="the second column is postern from BIN (without --abuse) instead of Postfix: another "
                        "build, or this one to weigh --abuse; the ratio is first/second")
    p.add_argument("--abuse-versus", action="store_true",
                   help="with --versus: the abuse controls on in the second column (swap the order of a --abuse run)")
    p.add_argument("--merge", action="store_true",
                   help="update the figures of the scenarios run in an existing --out file, keep the rest")
    p.add_argument("--out", help="JSON output (default bench/results/latest.json; none in --smoke)")
    args = p.parse_args()
    if args.out is None and args.mode != "smoke":
        args.out = str(tools.REPO / "bench" / "results" / "latest.json")
    try:
        sys.exit(run(args))
    except tools.ToolError as e:
        print(f"bench: {e}", file=sys.stderr)
        sys.exit(2 if "apt-get download" in str(e) else 1)


if __name__ == "__main__":
    main()
