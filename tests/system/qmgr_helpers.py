"""Helpers of the qmgr system tests: a qsink delivery agent (rules file in,
record file out) in master.cf, qtool to enqueue and list, and the instance
settings that make qmgr's timing test-sized."""
import os
import re
import socket

from conftest import QTOOL, wait_for  # noqa: F401 (QTOOL: for the tests that import it from here)

FAST = dict(
    minimal_backoff_time="1s",
    maximal_backoff_time="4s",
    queue_run_delay="1s",
    transport_retry_time="1s",
    service_throttle_time="1s",
    mydestination="",
    default_transport="test",
)


class Sink:
    """One qsink service (master.cf NAME unix ... qsink RULES RECORD)."""

    def __init__(self, instance, name="test", maxproc="-", opts=""):
        self.name = name
        self.rules_path = instance.root / f"{name}.rules"
        self.record_path = instance.root / f"{name}.record"
        self.rules_path.write_text("")
        # Workers run as mail_owner when the tests run as root: let them record.
        self.record_path.touch()
        self.record_path.chmod(0o666)
        opts = f"{opts} " if opts else ""
        instance.add_service(f"{name} unix - - n - {maxproc} qsink {opts}{self.rules_path} {self.record_path}")

    def rules(self, text):
        tmp = self.rules_path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.rules_path)

    def lines(self):
        try:
            return [l.split() for l in self.record_path.read_text().splitlines() if l.strip()]
        except FileNotFoundError:
            return []

    def sent(self):
        """[(msgid, rcpt)] in delivery order."""
        return [(l[1], l[2]) for l in self.lines() if l[0] == "sent"]

    def requests(self):
        """[{pid, msgid, transport, nexthop, nrcpt, start, end, conn}] per request; conn is
        (pid, the worker's count of qmgr connections): one per connection."""
        out, open_ = [], {}
        for l in self.lines():
            if l[0] == "start":
                r = dict(pid=l[1], msgid=l[2], transport=l[3], nexthop=l[4], nrcpt=int(l[5]),
                         start=int(l[6]), end=None, conn=(l[1], l[7]))
                out.append(r)
                open_[l[1]] = r
            elif l[0] == "end" and l[1] in open_:
                open_.pop(l[1])["end"] = int(l[3])
        return out

    def max_parallel(self):
        events = []
        for r in self.requests():
            if r["end"] is None:
                continue
            events += [(r["start"], 1), (r["end"], -1)]
        # An end at the same millisecond as a start frees its slot first.
        events.sort(key=lambda e: (e[0], e[1]))
        cur = peak = 0
        for _, d in events:
            cur += d
            peak = max(peak, cur)
        return peak


def configure(instance, **params):
    """A started instance with qmgr and one qsink service named `test`."""
    instance.set(**{**FAST, **params})
    instance.add_service("qmgr unix n - n 300 1 qmgr")
    instance.add_service("bounce unix - - n - 0 bounce")
    return instance


def inject(instance, *rcpts, sender="sender@example.org", count=1, size=0, trigger=True, age=0):
    """Enqueues `count` messages; `age`: their arrival that many seconds ago."""
    args = ["inject", "-f", sender, "-n", count]
    if size:
        args += ["-s", size]
    if age:
        args += ["-a", age]
    if not trigger:
        args.append("--no-trigger")
    return instance.qtool(*args, *rcpts).stdout.split()


def envelopes(instance):
    """[{id, state, attempts, next, rcpt, error}] as the queue holds them."""
    r = instance.qtool("list", timeout=30)
    out = []
    for line in r.stdout.splitlines():
        head, _, error = line.partition(" | ")
        f = head.split()
        out.append(dict(id=f[0], state=f[1], attempts=int(f[2]), next=int(f[3]), rcpt=f[4], error=error))
    return out


def trigger(instance, request=b"I"):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(instance.queue_dir / "public" / "qmgr"))
        s.sendall(request)


def route_lines(instance):
    """qmgr's `postern show routes`: one line per destination queue it holds, then one per
    connection route (source <-> server address)."""
    r = instance.postern("show", "routes")
    if r.returncode != 0 and "try again in a moment" in r.stderr:
        return []  # qmgr just started and has not linked to master yet
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def wait_route(instance, pattern, timeout=10.0):
    """Waits until a `show routes` line matches `pattern` (e.g. "paused window=\\S+ busy=0 queued=1"):
    qmgr holds the envelopes there, so what it decided of them is a fact, not a guess."""
    rx = re.compile(pattern)
    return wait_for(lambda: next((l for l in route_lines(instance) if rx.search(l)), None), timeout,
                    what=f"a route /{pattern}/ in `show routes`")


def scan_settled(instance, since, timeout=10.0, request=b"I"):
    """Triggers a qmgr queue scan and waits for its scheduler trace line after
    `since` (run `postern trace scheduler` first), then makes one control round
    trip to qmgr so that the pump after that scan has run as well: a delivery it
    started is then in the log ("trace: scheduler: ... dispatch to"). Returns
    the log since `since`."""
    trigger(instance, request)
    instance.wait_log(r"trace: scheduler: scan: \d+ due envelope", since=since, timeout=timeout)
    route_lines(instance)
    return instance.log()[since:]


def wait_empty(instance, timeout=15.0):
    wait_for(lambda: not envelopes(instance), timeout, interval=0.1, what="an empty queue")
