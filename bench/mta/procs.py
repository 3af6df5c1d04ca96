# bench/mta/procs.py — what an MTA instance costs: CPU time of all its
# processes (exited children included) through a cpuacct cgroup, and the
# memory (RSS, PSS) of the processes alive right now.
import os
import threading
import time
from pathlib import Path

_V1 = Path("/sys/fs/cgroup/cpuacct")
_V2 = Path("/sys/fs/cgroup")


class CpuGroup:
    """A cgroup that the MTA's launcher joins before exec, so that master and
    every worker it ever forks is counted, alive or exited. cpu_ms() is None
    when the machine gives us no cgroup (not root, or no cpuacct)."""

    def __init__(self, name):
        self.path = None
        self.v2 = False
        for base, v2 in ((_V1, False), (_V2, True)):
            probe = base / ("cpu.stat" if v2 else "cpuacct.usage")
            if not probe.exists() or not os.access(base, os.W_OK):
                continue
            p = base / f"{name}-{os.getpid()}"
            try:
                p.mkdir(exist_ok=True)
            except OSError:
                continue
            self.path, self.v2 = p, v2
            break

    def join(self):
        """Call in the child between fork and exec (subprocess preexec_fn)."""
        if self.path:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def cpu_ms(self):
        if not self.path:
            return None
        if self.v2:
            for line in (self.path / "cpu.stat").read_text().splitlines():
                k, v = line.split()
                if k == "usage_usec":
                    return int(v) / 1000.0
            return None
        return int((self.path / "cpuacct.usage").read_text()) / 1e6

    def pids(self):
        if not self.path:
            return []
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def remove(self):
        if not self.path:
            return
        # Killed workers leave the group only once reaped: allow them 15 s.
        for _ in range(300):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.05)


def memory_by_pid(pids):
    """[(VmRSS, Pss) in KiB] of each of `pids` still there."""
    out = []
    for pid in pids:
        rss = pss = 0
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
        except (OSError, ValueError):
            continue
        out.append((rss, pss))
    return out


def memory_kb(pids):
    """(sum of VmRSS, sum of Pss) in KiB over `pids`. RSS counts shared
    library pages once per process (what `ps` shows); PSS splits them, which
    is the fair figure for a many-process MTA."""
    each = memory_by_pid(pids)
    return sum(r for r, _ in each), sum(p for _, p in each)


class PeakMemory:
    """Samples the memory of pids_fn()'s processes every `interval` s in a
    thread: .peak_rss holds the largest sum of RSS seen (and .peak_pss the
    PSS of that moment), .peak_proc_rss the largest RSS of one process."""

    def __init__(self, pids_fn, interval=0.25):
        self.pids_fn, self.interval = pids_fn, interval
        self.peak_rss = self.peak_pss = self.peak_proc_rss = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            each = memory_by_pid(self.pids_fn())
            rss, pss = sum(r for r, _ in each), sum(p for _, p in each)
            self.peak_proc_rss = max([self.peak_proc_rss] + [r for r, _ in each])
            if rss > self.peak_rss:
                self.peak_rss, self.peak_pss = rss, pss
            self._stop.wait(self.interval)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
