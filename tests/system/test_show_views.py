"""smtpctl's views of remote servers (show hosts, show routes, show relays):
the smtp client reports each connection it makes, reuses or fails to make to
qmgr, which keeps per-host, per-route and per-relay tables; real deliveries
to an aiosmtpd sink and to a closed port, read back through `postern`."""
import json
import re

import pytest

from conftest import free_port, wait_for
from qmgr_helpers import FAST, QTOOL, trigger
from test_smtp_client import BODY, Message, Sink

pytestmark = pytest.mark.skipif(not QTOOL.exists(), reason="test helpers not built")


@pytest.fixture
def mta(instance):
    instance.set(**{**FAST, "default_transport": "smtp", "relay_domains": "",
                    "smtp_connection_cache_time_limit": "60s"})
    instance.add_service("qmgr unix n - n 300 1 qmgr")
    instance.add_service("bounce unix - - n - 0 bounce")
    instance.add_service("smtp unix - - n - - smtp")
    return instance


def ok(instance, *args):
    r = instance.postern(*args)
    assert r.returncode == 0, f"postern {' '.join(args)}: {r.stderr}"
    return r.stdout


def line_matching(instance, pattern, *cmd):
    """The first line of the view matching pattern; None while there is none yet,
    or while qmgr, just started, has not linked to master ("try again in a moment")."""
    r = instance.postern(*cmd)
    if r.returncode != 0 and "try again in a moment" in r.stderr:
        return None
    assert r.returncode == 0, f"postern {' '.join(cmd)}: {r.stderr}"
    rx = re.compile(pattern)
    return next((l for l in r.stdout.splitlines() if rx.search(l)), None)


@pytest.fixture
def delivered(mta):
    """One message relayed through relayhost [127.0.0.2]:port to an aiosmtpd sink."""
    sink = Sink("127.0.0.2")
    mta.set(relayhost=f"[127.0.0.2]:{sink.port}")
    mta.start()
    Message(mta, BODY, ["u@x.test"])
    trigger(mta)
    try:
        wait_for(lambda: sink.messages, 20, what="delivery to the sink")
        yield sink
    finally:
        sink.stop()


def test_show_hosts_lists_the_sink_after_a_delivery_with_refcount_0(mta, delivered):
    # The delivery's end reaches qmgr just after the sink saw the mail.
    line = wait_for(lambda: line_matching(mta, r"^127\.0\.0\.2 .*refcount=0 ", "show", "hosts"), 10,
                    what="127.0.0.2 in show hosts, no longer in use")
    assert re.fullmatch(r"127\.0\.0\.2 127\.0\.0\.2 refcount=0 nconn=1 lastconn=\d+s nreuse=0 nfail=0", line), line
    (host,) = [json.loads(l) for l in ok(mta, "show", "hosts", "--json").splitlines()]
    assert host["address"] == "127.0.0.2" and host["refcount"] == 0 and host["nconn"] == 1
    assert isinstance(host["lastconn"], int) and host["lastconn"] >= 0
    route = line_matching(mta, r" <-> 127\.0\.0\.2 ", "show", "routes")
    assert re.match(r"^[0-9a-f]{16}\. - <-> 127\.0\.0\.2 \(127\.0\.0\.2\) --- refcount=0 nconn=1 penalty=0 "
                    r"timeout=-$", route), route


def test_show_relays_lists_the_relayhost_and_its_connector(mta, delivered):
    relay = rf"[relay:[127.0.0.2]:{delivered.port},smtp,tls=none]"
    text = wait_for(lambda: next((t for t in [ok(mta, "show", "relays")] if "refcount=0" in t), None), 10,
                    what="the relay, no longer in use")
    lines = text.splitlines()
    assert re.fullmatch(re.escape(relay) + r" refcount=0 nconn=1 lastconn=\d+s state=\w+", lines[0]), text
    assert re.fullmatch(r"  connector - refcount=0 nconn=1 nfail=0 lastconn=\d+s timeout=- flags=", lines[1]), text
    (obj,) = [json.loads(l) for l in ok(mta, "show", "relays", "--json").splitlines()]
    assert obj["relay"] == relay and obj["transport"] == "smtp"
    assert obj["nexthop"] == f"[127.0.0.2]:{delivered.port}"
    assert obj["connectors"] == [{"source": "-", "refcount": 0, "nconn": 1, "nfail": 0,
                                  "lastconn": obj["connectors"][0]["lastconn"], "flags": []}]


def test_a_cached_connection_taken_again_counts_as_reused_not_new(mta, delivered):
    Message(mta, BODY, ["v@x.test"])
    trigger(mta)
    wait_for(lambda: len(delivered.messages) == 2, 20, what="the second delivery")
    line = wait_for(lambda: line_matching(mta, r"^127\.0\.0\.2 .*refcount=0 ", "show", "hosts"), 10,
                    what="127.0.0.2 no longer in use")
    m = re.search(r" nconn=(\d+) .* nreuse=(\d+) ", line)
    # One EHLO per connection the sink saw; every other delivery went over a cached one.
    assert int(m[1]) == delivered.ehlos and int(m[1]) + int(m[2]) == 2, (line, delivered.ehlos)


def test_a_route_to_a_closed_port_shows_its_penalty_and_flags(mta):
    closed = free_port("127.0.0.4")
    # One window of one failed delivery is a failed cohort: the destination is
    # dead until minimal_backoff_time has passed (qmgr's back-off for a host).
    mta.set(relayhost=f"[127.0.0.4]:{closed}", initial_destination_concurrency="1",
            minimal_backoff_time="120s", maximal_backoff_time="240s")
    mta.start()
    Message(mta, BODY, ["u@x.test"])
    trigger(mta)
    # The connection fact (penalty) reaches qmgr before the delivery's result
    # (which makes the destination dead): wait for both.
    line = wait_for(lambda: line_matching(mta, r" <-> 127\.0\.0\.4 .* ND- .*penalty=1 ", "show", "routes"), 20,
                    what="the failed route, dead, in show routes")
    assert re.match(r"^[0-9a-f]{16}\. - <-> 127\.0\.0\.4 \(127\.0\.0\.4\) ND- refcount=0 nconn=0 penalty=1 "
                    r"timeout=(\dm)?(\d+s)? \(Connection refused\)$", line), line
    route = next(r for r in map(json.loads, ok(mta, "show", "routes", "--json").splitlines())
                 if r.get("type") == "route")
    assert route["flags"] == "ND-" and route["new"] and route["disabled"] and not route["quarantined"]
    assert route["penalty"] == 1 and 0 < route["timeout"] <= 120 and route["error"] == "Connection refused"
    assert route["nexthop"] == f"[127.0.0.4]:{closed}"
    host = line_matching(mta, r"^127\.0\.0\.4 ", "show", "hosts")
    assert re.fullmatch(r"127\.0\.0\.4 127\.0\.0\.4 refcount=0 nconn=0 lastconn=- nreuse=0 nfail=1", host), host
    relays = ok(mta, "show", "relays")
    assert re.search(r"^\[relay:\[127\.0\.0\.4\]:\d+,smtp,tls=none\] refcount=0 nconn=0 lastconn=- state=dead$",
                     relays, re.M), relays
    assert re.search(r"^  connector - .* flags=NEW,ERROR_ROUTE_NET,DISABLED$", relays, re.M), relays
    # resume route: the destination lives again and the route has no penalty.
    assert ok(mta, "resume", "route", route["id"]) == "command succeeded\n"
    line = line_matching(mta, r" <-> 127\.0\.0\.4 ", "show", "routes")
    assert re.search(r" N-- refcount=0 nconn=0 penalty=0 timeout=-$", line), line


def test_every_view_takes_json_and_refuses_other_arguments(mta):
    mta.start()
    for view in ("hosts", "routes", "relays", "hoststats"):
        r = mta.postern("show", view, "--json")
        assert r.returncode == 0, r.stderr
        for l in r.stdout.splitlines():
            json.loads(l)
        r = mta.postern("show", view, "extra")
        assert r.returncode == 1 and f"usage: postern show {view} [--json]" in r.stderr
