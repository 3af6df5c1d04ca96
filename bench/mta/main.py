# bench/mta/main.py — `bench/run`'s side-by-side part: runs each scenario for
# postern and its peers (Postfix, Exim, OpenSMTPD, chasquid) in alternation
# (A B C … A B C …), prints one table of medians, min–max and postern/peer
# ratios, and writes it as JSON.
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

from . import peers, tools
from .plan import ALL, DEFAULT_SUPPORT, SCENARIOS, SUPPORTS, factories
from .instances import Postern
from .procs import CpuGroup
from .report import LABELS, behind, summarize, table, check_targets, merge_figure

MODES = {
    "full": dict(pairs=3, relay_messages=10000, relay_sessions=20, latency_messages=1000,
                 idle_postern=[100, 1000, 10000], idle_postfix=[100, 1000], queue_messages=100000,
                 queue_sources=2, queue_sessions=50, timeout=1800, fanout_messages=1000, fanout_sessions=10,
                 tls_messages=2000, tls_sessions=20, large_messages=200, large_size=10 << 20, large_sessions=4),
    "quick": dict(pairs=3, relay_messages=2000, relay_sessions=20, latency_messages=200,
                  idle_postern=[100, 1000], idle_postfix=[100], queue_messages=2000,
                  queue_sources=2, queue_sessions=50, timeout=600, fanout_messages=200, fanout_sessions=10,
                  tls_messages=500, tls_sessions=20, large_messages=40, large_size=10 << 20, large_sessions=4),
    "smoke": dict(pairs=1, relay_messages=100, relay_sessions=5, latency_messages=20,
                  idle_postern=[20], idle_postfix=[20], queue_messages=100,
                  queue_sources=1, queue_sessions=5, timeout=60, fanout_messages=4, fanout_sessions=2,
                  tls_messages=10, tls_sessions=2, large_messages=2, large_size=1 << 20, large_sessions=2),
}


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
    # --versus: the second column is postern too (another build, or this one
    # without --abuse), in the place of Postfix; the peers are left out.
    mtas = args.mtas.split(",") if args.mtas else ["postern", "postfix"] if versus else list(LABELS)
    unknown = [m for m in mtas if m not in LABELS]
    if unknown:
        sys.exit(f"bench: unknown MTA {', '.join(unknown)} (known: {', '.join(LABELS)})")
    for m in mtas:
        peers.fetch(m, log=lambda msg: print(msg, flush=True))
    runs = {}  # figure -> {mta: [value per run]}
    errors = []
    started = time.time()
    load_before = os.getloadavg()

    def record(who, figures):
        for k, v in figures.items():
            runs.setdefault(k, {}).setdefault(who, []).append(v)

    def attempt(label, who, fn):
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

    make = factories(bin_dir, args.abuse)
    if versus:
        make["postfix"] = lambda port, **kw: Postern(versus, port, abuse=args.abuse_versus, **kw)
    pairs = sizes["pairs"]
    order = [m for m in LABELS if m in mtas]
    for scen in wanted:
        if scen not in SCENARIOS:
            sys.exit(f"bench: unknown scenario {scen!r} (known: {', '.join(ALL)})")
        for i in range(sizes.get(f"{scen}_pairs", pairs)):
            # One round: postern, then each peer, each on a fresh instance.
            for who in order:
                if who in SUPPORTS.get(scen, DEFAULT_SUPPORT):
                    SCENARIOS[scen](attempt, who, make[who], make, sizes)

    summary = summarize(runs)
    result = {
        "run": {
            "mode": args.mode, "pairs": pairs, "sizes": sizes, "started": time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), "seconds": round(time.time() - started, 1),
            "git": git_rev(), "postfix": tools.postfix_version(), "peers": peers.versions(mtas),
            "mtas": mtas, "nofile": nofile,
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
    print(table(summary, {"postfix": "versus"} if versus else None))
    print()
    for t in result["targets"]:
        print(f"target {t['target']}: {t['verdict']} ({t['detail']})")
    lag = behind(summary)
    for name, peer, r in lag:
        who = "versus" if versus and peer == "postfix" else LABELS[peer]
        print(f"behind: {name}: postern/{who} {r:.2f}× ({summary[name]['better']} is better)")
    result["behind"] = [{"figure": n, "peer": p, "ratio": r} for n, p, r in lag]
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
        old.update(figures=figures, figure_runs=runs_by_figure, targets=check_targets(figures),
                   behind=[{"figure": n, "peer": p, "ratio": r} for n, p, r in behind(figures)])
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
    p.add_argument("--pairs", type=int, help="rounds per scenario (each MTA once a round)")
    p.add_argument("--idle", help="idle session counts for postern, e.g. 100,1000,10000")
    p.add_argument("--idle-pairs", type=int, help="pairs for the idle scenario (it is slow at 10,000)")
    p.add_argument("--queue", type=int, help="messages of the queue scenario (full: 100,000)")
    p.add_argument("--queue-pairs", type=int, help="pairs for the queue scenario (~30 min a pair at 100,000)")
    p.add_argument("--mtas", help="comma list of the MTAs to run: " + ",".join(LABELS) + " (default all, or "
                                  "postern,postfix with --versus; postern alone gives no ratios)")
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
