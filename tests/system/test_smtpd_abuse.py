# tests/system/test_smtpd_abuse.py — smtpd's abuse controls end to end: the
# greeting delay and early talkers (remembered in the policy cache), dropped
# clients (a closed socket, no log line, a counter), and Postfix's anvil
# limits shared by several smtpd processes. Clients outside mynetworks
# connect from 127.0.0.2 and up.
import json
import os
import signal
import socket
import subprocess
import time

from conftest import wait_for
from test_smtpd import Raw, start_smtpd


def connect(port, source):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(30)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_until_closed(s):
    data = b""
    while True:
        try:
            chunk = s.recv(4096)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def cache_get(instance, key):
    r = instance.postern("cache", "get", key)
    return r.stdout.strip() if r.returncode == 0 else None


def stats(instance):
    r = instance.postern("show", "stats")
    assert r.returncode == 0, r.stderr
    return dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)


# --- greeting delay and early talkers ---------------------------------------

def test_early_talker_is_refused_and_remembered(instance):
    s = start_smtpd(instance, smtpd_greet_delay="3s")
    c = connect(s.port, "127.0.0.2")
    c.sendall(b"EHLO early.test\r\n")  # before the greeting
    assert read_until_closed(c) == b"554 5.5.1 Error: too early\r\n"
    instance.wait_log(r"PREGREET 17 after \d+\.\d\d from \[127\.0\.0\.2\]:\d+: EHLO early\.test\\r\\n")
    assert cache_get(instance, "dumb:127.0.0.2") == "5"
    # Next time the client is refused at once, without the delay.
    started = time.monotonic()
    again = connect(s.port, "127.0.0.2")
    assert read_until_closed(again) == b"554 5.5.1 Error: too early\r\n"
    assert time.monotonic() - started < 2.5
    instance.wait_log(r"NOQUEUE: reject: CONNECT from unknown\[127\.0\.0\.2\]: 554 5\.5\.1 Error: too early")
    wait_for(lambda: stats(instance).get("smtp.check.pregreet.reject") == "2", timeout=10, what="pregreet counter")


def test_early_talker_is_dropped_when_configured(instance):
    s = start_smtpd(instance, smtpd_greet_delay="3s", smtpd_greet_action="drop")
    c = connect(s.port, "127.0.0.2")
    c.sendall(b"HELO x\r\n")
    assert read_until_closed(c) == b""
    instance.wait_log(r"PREGREET 8 after .* from \[127\.0\.0\.2\]")


def test_patient_client_is_greeted_after_the_delay_and_not_delayed_again(instance):
    s = start_smtpd(instance, smtpd_greet_delay="2s")
    started = time.monotonic()
    c = Raw(s.port, source="127.0.0.3", timeout=30)
    assert c.greeting == (220, "mx.postern.test ESMTP postern")
    assert time.monotonic() - started >= 1.9
    assert c.cmd("EHLO patient.test")[0] == 250
    assert cache_get(instance, "dumb:127.0.0.3") == "2"
    started = time.monotonic()
    again = Raw(s.port, source="127.0.0.3", timeout=30)
    assert again.greeting[0] == 220
    assert time.monotonic() - started < 1.5


def test_greet_delay_maps_give_listed_networks_a_longer_delay(instance):
    (instance.root / "delays").write_text("127.0.0.4/32 3s\n")
    s = start_smtpd(instance, smtpd_greet_delay="1s", smtpd_greet_delay_maps=f"cidr:{instance.root}/delays")
    started = time.monotonic()
    assert Raw(s.port, source="127.0.0.4", timeout=30).greeting[0] == 220
    assert time.monotonic() - started >= 2.9


def test_mynetworks_clients_are_greeted_at_once(instance):
    s = start_smtpd(instance, smtpd_greet_delay="10s")
    started = time.monotonic()
    assert Raw(s.port, source="127.0.0.1").greeting[0] == 220
    assert time.monotonic() - started < 5
    assert cache_get(instance, "dumb:127.0.0.1") is None


def test_one_smtpd_holds_many_delayed_sessions(instance):
    s = start_smtpd(instance, smtpd_greet_delay="3s", master_opts="-o smtpd_client_connection_count_limit=0")
    pids = set(s.pids())
    conns = [connect(s.port, f"127.0.1.{i}") for i in range(1, 201)]
    for c in conns:
        assert c.recv(100).startswith(b"220 ")
    assert set(s.pids()) == pids  # the same one process: no process or thread per waiting client
    for c in conns:
        c.close()


# --- dropped clients --------------------------------------------------------

def test_dropped_client_gets_a_closed_socket_and_no_log_line(instance):
    (instance.root / "drop").write_text("127.0.0.5/32 drop\n")
    s = start_smtpd(instance, smtpd_drop_clients=f"cidr:{instance.root}/drop")
    mark = instance.log_mark()
    c = connect(s.port, "127.0.0.5")
    assert read_until_closed(c) == b""
    wait_for(lambda: stats(instance).get("smtp.session.dropped") == "1", timeout=10, what="dropped counter")
    # Another client is served and logged; the dropped one left no line at all.
    other = Raw(s.port, source="127.0.0.6")
    assert other.cmd("QUIT")[0] == 221
    instance.wait_log(r"disconnect from unknown\[127\.0\.0\.6\]", since=mark)
    assert "127.0.0.5" not in instance.log()[mark:]


def test_dropped_clients_follow_update_table_and_reload(instance):
    table = instance.root / "drop"
    table.write_text("127.0.0.5/32 drop\n")
    s = start_smtpd(instance, smtpd_drop_clients=f"texthash:{table}")
    assert Raw(s.port, source="127.0.0.7").greeting[0] == 220
    table.write_text("127.0.0.7 drop\n")
    r = instance.postern("update", "table", f"texthash:{table}")
    assert r.returncode == 0, r.stderr
    assert read_until_closed(connect(s.port, "127.0.0.7")) == b""
    instance.set(smtpd_drop_clients="")
    instance.reload()
    assert wait_for(lambda: _greeted(s.port, "127.0.0.7"), timeout=15, what="greeting after reload")


def _greeted(port, source):
    try:
        c = connect(port, source)
        return c.recv(100).startswith(b"220 ")
    except OSError:
        return False


# --- Postfix's anvil limits -------------------------------------------------

LIMITS = {"smtpd_client_event_limit_exceptions": "", "local_recipient_maps": ""}


def test_connection_count_is_shared_by_smtpd_processes(instance):
    # max_use=1: a worker that has finished one client takes no more, so the
    # next client meets another smtpd process.
    s = start_smtpd(instance, master_opts="-o max_use=1", smtpd_client_connection_count_limit="1", **LIMITS)
    instance.wait_log(r"smtpd\[\d+\]: disconnect from \S+\[127\.0\.0\.1\]")  # start_smtpd's probe
    first = Raw(s.port, source="127.0.0.2", timeout=30)
    assert first.greeting[0] == 220
    mark = instance.log_mark()
    other = Raw(s.port, source="127.0.0.1", timeout=30)  # same worker; finishing it uses the worker up
    other.cmd("QUIT")
    instance.wait_log(r"disconnect from \S+\[127\.0\.0\.1\]", since=mark)
    second = Raw(s.port, source="127.0.0.2", timeout=30)
    assert second.greeting == (421, "4.7.0 mx.postern.test Error: too many connections from 127.0.0.2")
    m = instance.wait_log(r"smtpd\[(\d+)\]: warning: Connection concurrency limit exceeded: 2 from "
                          r"unknown\[127\.0\.0\.2\] for service 127\.0\.0\.1:\d+", since=mark)
    first_pid = int(instance.wait_log(r"smtpd\[(\d+)\]: connect from unknown\[127\.0\.0\.2\]").group(1))
    assert int(m.group(1)) != first_pid  # counted by another process than the one holding the session
    assert first.cmd("NOOP") == (250, "2.0.0 Ok")


def test_killed_smtpd_leaves_no_connection_count_behind(instance):
    s = start_smtpd(instance, smtpd_client_connection_count_limit="1", **LIMITS)
    held = Raw(s.port, source="127.0.0.2", timeout=30)
    assert held.greeting[0] == 220
    assert Raw(s.port, source="127.0.0.2").greeting[0] == 421
    for pid in s.pids():
        os.kill(pid, signal.SIGKILL)
    assert held.closed()
    assert wait_for(lambda: _greeted(s.port, "127.0.0.2"), timeout=30, what="a greeting after the kill")


def test_connection_rate_limit(instance):
    s = start_smtpd(instance, smtpd_client_connection_rate_limit="2", **LIMITS)
    for _ in range(2):
        assert Raw(s.port, source="127.0.0.2").cmd("QUIT")[0] == 221
    third = Raw(s.port, source="127.0.0.2")
    assert third.greeting == (421, "4.7.0 mx.postern.test Error: too many connections from 127.0.0.2")
    instance.wait_log(r"warning: Connection rate limit exceeded: 3 from unknown\[127\.0\.0\.2\] for service")
    assert Raw(s.port, source="127.0.0.3").greeting[0] == 220  # per address


def test_message_and_recipient_rate_limits(instance):
    s = start_smtpd(instance, smtpd_client_message_rate_limit="2", smtpd_client_recipient_rate_limit="3", **LIMITS)
    c = Raw(s.port, source="127.0.0.2")
    assert c.cmd("EHLO client.test")[0] == 250
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    for i in range(3):
        assert c.cmd(f"RCPT TO:<u{i}@localhost>")[0] == 250
    assert c.cmd("RCPT TO:<u3@localhost>") == (450, "4.7.1 Error: too many recipients from 127.0.0.2")
    instance.wait_log(r"warning: Recipient address rate limit exceeded: 4 from unknown\[127\.0\.0\.2\] for service")
    assert c.cmd("RSET")[0] == 250
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RSET")[0] == 250
    # The count is the client address's, not the session's.
    d = Raw(s.port, source="127.0.0.2")
    assert d.cmd("EHLO client.test")[0] == 250
    assert d.cmd("MAIL FROM:<a@example.org>") == (450, "4.7.1 Error: too much mail from 127.0.0.2")
    instance.wait_log(r"warning: Message delivery request rate limit exceeded: 3 from unknown\[127\.0\.0\.2\]")
    e = Raw(s.port, source="127.0.0.1")  # another address has its own count
    assert e.cmd("EHLO client.test")[0] == 250
    assert e.cmd("MAIL FROM:<a@example.org>")[0] == 250


def test_mynetworks_is_exempt_from_rates_by_default(instance):
    s = start_smtpd(instance, smtpd_client_message_rate_limit="1")
    c = Raw(s.port, source="127.0.0.1")
    assert c.cmd("EHLO client.test")[0] == 250
    for _ in range(3):
        assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
        assert c.cmd("RSET")[0] == 250



# --- statistics per inbound route and per check -------------------------------

def test_inbound_routes_count_accepts_rejects_and_volume(instance):
    (instance.root / "routes").write_text("example.test partners\n")
    s = start_smtpd(instance, route_maps=f"texthash:{instance.root}/routes", local_recipient_maps="")
    with s.smtp() as c:  # 127.0.0.1: mynetworks may relay
        body = b"Subject: volume\r\n\r\n" + b"x" * 3000 + b"\r\n"
        assert c.sendmail("a@example.org", ["alice@localhost", "bob@sub.example.test"], body) == {}
    out = Raw(s.port, source="127.0.0.2")
    out.cmd("EHLO client.test")
    out.cmd("MAIL FROM:<a@example.org>")
    assert out.cmd("RCPT TO:<user@other.test>")[0] == 454
    today = time.strftime("%Y-%m-%d", time.gmtime())

    def rows():
        r = instance.postern("show", "stats", "--routes", "--inbound")
        assert r.returncode == 0, r.stderr
        return sorted(r.stdout.splitlines())

    wait_for(lambda: len(rows()) == 3, timeout=15, what="three inbound routes")
    got = {r.split("|")[1]: r.split("|") for r in rows()}
    assert got["localhost"][:4] == [today, "localhost", "1", "0"]
    assert got["partners"][:4] == [today, "partners", "1", "0"]  # sub.example.test through route_maps
    assert got["other.test"] == [today, "other.test", "0", "1", "0"]
    assert int(got["localhost"][4]) == int(got["partners"][4]) in (3, 4)  # KiB of a ~3 KiB message
    r = instance.postern("show", "stats", "--routes", "--inbound", "--json")
    assert json.loads(r.stdout)[0].keys() == {"day", "route", "accept", "reject", "kib"}
    wait_for(lambda: stats(instance).get("smtp.check.relay.reject") == "1", timeout=10, what="relay check counter")


# --- early talkers remembered in a shared Redis policy cache ------------------

def test_early_talker_on_one_mx_is_refused_at_once_by_another(instance, other_instance, redis):
    db = f"redis:127.0.0.1:{redis.port}"
    a = start_smtpd(instance, smtpd_greet_delay="3s", policy_cache_database=db)
    b = start_smtpd(other_instance, smtpd_greet_delay="3s", policy_cache_database=db)
    c = connect(a.port, "127.0.0.2")
    c.sendall(b"EHLO early.test\r\n")
    assert read_until_closed(c) == b"554 5.5.1 Error: too early\r\n"
    started = time.monotonic()
    assert read_until_closed(connect(b.port, "127.0.0.2")) == b"554 5.5.1 Error: too early\r\n"
    assert time.monotonic() - started < 2.5
    other_instance.wait_log(r"NOQUEUE: reject: CONNECT from unknown\[127\.0\.0\.2\]: 554 5\.5\.1 Error: too early")


def _redis_clients(port):
    """The connections redis-server holds, without redis-cli's own."""
    out = subprocess.run(["redis-cli", "-p", str(port), "CLIENT", "LIST"], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    return [line for line in out.splitlines() if line and "cmd=client" not in line]


def test_greeting_delay_and_greylisting_share_one_policy_cache(instance, redis):
    # One smtpd process: the dumb: record and the greylist triplet travel over
    # one Redis connection, the process's one policy cache.
    a = start_smtpd(instance, default_process_limit="1", smtpd_greet_delay="1s", greylist_delay="60s",
                    policy_cache_database=f"redis:127.0.0.1:{redis.port}",
                    smtpd_recipient_restrictions="reject_unauth_destination, check_greylist")
    c = Raw(a.port, "127.0.0.2")
    assert c.greeting[0] == 220
    c.ehlo("client.test")
    assert c.cmd("MAIL FROM:<someone@client.test>")[0] == 250
    assert c.cmd("RCPT TO:<alice@mx.postern.test>")[0] == 450
    c.close()
    out = subprocess.run(["redis-cli", "-p", str(redis.port), "HGET", "dumb:127.0.0.2", "v"],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    assert out.strip() == "2"
    assert len(_redis_clients(redis.port)) == 1, _redis_clients(redis.port)


# --- anvil rates shared by MX hosts through Redis ---------------------------------

def test_rates_are_counted_together_by_hosts_sharing_redis(instance, other_instance, redis):
    db = f"redis:127.0.0.1:{redis.port}"
    limits = dict(LIMITS, policy_cache_database=db, smtpd_client_connection_rate_limit="3",
                  smtpd_client_message_rate_limit="2")
    a = start_smtpd(instance, **limits)
    b = start_smtpd(other_instance, **limits)
    first = Raw(a.port, source="127.0.0.2")
    assert first.cmd("EHLO client.test")[0] == 250
    assert first.cmd("MAIL FROM:<a@example.org>")[0] == 250
    second = Raw(b.port, source="127.0.0.2")
    assert second.cmd("EHLO client.test")[0] == 250
    assert second.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert first.cmd("RSET")[0] == 250
    # The third MAIL of the client, on the first host: over the shared limit of 2.
    assert first.cmd("MAIL FROM:<a@example.org>") == (450, "4.7.1 Error: too much mail from 127.0.0.2")
    instance.wait_log(r"warning: Message delivery request rate limit exceeded: 3 from unknown\[127\.0\.0\.2\]")
    assert Raw(b.port, source="127.0.0.2").greeting[0] == 220  # the third connection
    fourth = Raw(a.port, source="127.0.0.2")
    assert fourth.greeting == (421, "4.7.0 mx.postern.test Error: too many connections from 127.0.0.2")
    instance.wait_log(r"warning: Connection rate limit exceeded: 4 from unknown\[127\.0\.0\.2\]")
    out = subprocess.run(["redis-cli", "-p", str(redis.port), "HGET", "anvil:conn:127.0.0.2", "h"],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    assert out.strip() == "4"


def test_connection_counts_stay_per_host_with_redis(instance, other_instance, redis):
    # A host's connections are its own: a killed smtpd releases them at once,
    # which a count kept in Redis could only do when a lease expired.
    db = f"redis:127.0.0.1:{redis.port}"
    limits = dict(LIMITS, policy_cache_database=db, smtpd_client_connection_count_limit="1")
    a = start_smtpd(instance, **limits)
    b = start_smtpd(other_instance, **limits)
    held = Raw(a.port, source="127.0.0.2", timeout=30)
    assert held.greeting[0] == 220
    assert Raw(a.port, source="127.0.0.2").greeting[0] == 421
    assert Raw(b.port, source="127.0.0.2").greeting[0] == 220
