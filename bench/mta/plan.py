# bench/mta/plan.py — which scenario runs for which MTA and how: the MTA
# factories (relay_port, **kw → a fresh, unstarted instance) and one runner
# per scenario, called once per MTA per round by main.py.
from . import heavy, scenarios, tools
from .instances import Postern, Postfix
from .peers import Chasquid, Exim, OpenSMTPD


def factories(bin_dir, abuse=False):
    return {
        "postern": lambda port, **kw: Postern(bin_dir, port, abuse=abuse, **kw),
        "postfix": lambda port, **kw: Postfix(port, **kw),
        "exim": lambda port, **kw: Exim(port, **kw),
        "opensmtpd": lambda port, **kw: OpenSMTPD(port, **kw),
        "chasquid": lambda port, **kw: Chasquid(port, **kw),
    }


def _relay(attempt, who, factory, make, sizes):
    attempt("relay", who, lambda: scenarios.relay(factory, sizes))


def _relay_milter(attempt, who, factory, make, sizes):
    # The relay run with one no-op milter in smtpd_milters (the same milter for each MTA).
    with tools.NoopMilter() as m:
        milt = lambda port, **kw: factory(port, extra={"smtpd_milters": m.name}, **kw)
        attempt("relay_milter", who, lambda: {f"milter_{k}": v for k, v in scenarios.relay(milt, sizes).items()})


def _latency(attempt, who, factory, make, sizes):
    attempt("latency", who, lambda: scenarios.latency(factory, sizes))


def _ceiling(attempt, who, factory, make, sizes):
    # No MTA: both columns hold the same kind of run, so ratio ~1.
    attempt("ceiling", who, lambda: scenarios.ceiling(sizes))


# MTAs that hold each session in a process of its own: their idle runs stop
# at the smaller counts (sizes["idle_postfix"]) and their process limit is
# raised to cover them.
PROCESS_PER_SESSION = ("postfix", "exim")


def _idle(attempt, who, factory, make, sizes):
    forked = who in PROCESS_PER_SESSION
    for n in sizes["idle_postfix" if forked else "idle_postern"]:
        fac = (lambda port, n=n, **kw: factory(port, process_limit=max(100, n + 10), **kw)) if forked else factory
        attempt(f"idle{n}", who, lambda: scenarios.idle(fac, sizes, n))


def _queue(attempt, who, factory, make, sizes):
    attempt("queue", who, lambda: scenarios.queue_scale(factory, sizes))


# The fan-out's concurrency limits: postern and Postfix at most 4 parallel
# deliveries per destination (20 domains: up to 80 at once); Exim has no
# per-destination limit, its nearest is 4 parallel deliveries per message.
FANOUT_LIMITS = {
    "postern": {"default_destination_concurrency_limit": "4"},
    "postfix": {"default_destination_concurrency_limit": "4"},
    "exim": {"remote_max_parallel": "4"},
}


def _fanout(attempt, who, factory, make, sizes):
    limited = lambda port, **kw: factory(port, extra=FANOUT_LIMITS[who], **kw)
    attempt("fanout", who, lambda: heavy.fanout(limited, sizes))


def _tls_relay(attempt, who, factory, make, sizes):
    attempt("tls_relay", who, lambda: heavy.tls_relay(factory, sizes))


def _large(attempt, who, factory, make, sizes):
    attempt("large", who, lambda: heavy.large(factory, sizes))


SCENARIOS = {
    "relay": _relay,
    "relay_milter": _relay_milter,
    "latency": _latency,
    "ceiling": _ceiling,
    "idle": _idle,
    "queue": _queue,
    "fanout": _fanout,
    "tls_relay": _tls_relay,
    "large": _large,
}
ALL = list(SCENARIOS)
DEFAULT_SUPPORT = ("postern", "postfix", "exim", "opensmtpd", "chasquid")
# Scenarios that not every MTA can run: milters (Postfix's protocol; Exim,
# OpenSMTPD and chasquid have none), the queue commands (postern and Postfix
# pause delivery and list the queue the same way), the MTA-less ceiling.
SUPPORTS = {
    "relay_milter": ("postern", "postfix"),
    "queue": ("postern", "postfix"),
    "ceiling": ("postern", "postfix"),
    # MX routing to sinks on a high port: OpenSMTPD dials port 25 of a mail
    # exchanger (no setting), chasquid relays only through aliases or for
    # authenticated users (not the generator's 50 recipients a message).
    "fanout": ("postern", "postfix", "exim"),
    # Debian 12's OpenSMTPD 6.8.0p2 fails every STARTTLS handshake with OpenSSL 3.
    "tls_relay": ("postern", "postfix", "exim", "chasquid"),
}
