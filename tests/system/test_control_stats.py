"""The operator's commands of issue 8 that E owns: encrypt (yescrypt hashes),
spf walk (SPF ranges through dnsmasq), the policy cache, the statistics
store and the runtime controls over the control channel, each against a
private instance with real mail."""
import ctypes
import ctypes.util
import os
import pty
import subprocess
import time

import pytest

from conftest import BIN, wait_for
from test_smtp_client import Dnsmasq


def crypt(password, setting):
    """crypt(3) from libxcrypt (Python's crypt module may be missing)."""
    lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    out = lib.crypt(password.encode(), setting.encode())
    return out.decode() if out else None


# --- encrypt ---------------------------------------------------------------

def test_encrypt_argument_gives_a_yescrypt_hash_that_crypt_verifies(instance):
    r = instance.postern("encrypt", "correct horse")
    assert r.returncode == 0, r.stderr
    h = r.stdout.strip()
    assert h.startswith("$y$")
    assert crypt("correct horse", h) == h
    assert crypt("wrong horse", h) != h
    # A new salt each time.
    assert instance.postern("encrypt", "correct horse").stdout.strip() != h


def test_encrypt_reads_one_line_from_stdin_and_never_echoes_it(instance):
    r = subprocess.run([str(BIN / "postern"), "-c", str(instance.config_dir), "encrypt"],
                       input="s3cret pass\nnext line\n", capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    h = r.stdout.strip()
    assert crypt("s3cret pass", h) == h
    assert "s3cret" not in r.stdout + r.stderr


def test_encrypt_on_a_terminal_turns_echo_off(instance):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(str(BIN / "postern"), ["postern", "-c", str(instance.config_dir), "encrypt"])
    out = b""
    while b"Password:" not in out:
        out += os.read(fd, 1024)
    os.write(fd, b"tty-secret\n")
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    text = out.decode()
    assert "tty-secret" not in text
    h = text.split()[-1]
    assert crypt("tty-secret", h) == h


# --- spf walk --------------------------------------------------------------

@pytest.fixture
def spf_dns(instance):
    d = Dnsmasq([
        "--txt-record=walk.test,v=spf1 ip4:192.0.2.0/24 include:inc.test a:host.test mx/30 -ip4:10.0.0.1 -all",
        # include back to walk.test: a loop.
        "--txt-record=inc.test,v=spf1 ip6:2001:db8::/32 include:walk.test ~ip4:203.0.113.9 redirect=red.test",
        "--txt-record=red.test,v=spf1 ip4:198.51.100.7 ?all",
        "--txt-record=red.test,some-site-verification=xyz",
        "--host-record=host.test,127.0.0.9",
        "--mx-host=walk.test,mx.walk.test,10",
        "--host-record=mx.walk.test,127.0.0.10",
    ])
    instance.set(dns_servers=f"127.0.0.1:{d.port}")
    yield d
    d.stop()


def spf_walk(instance, domains):
    return subprocess.run([str(BIN / "postern"), "-c", str(instance.config_dir), "spf", "walk"],
                          input=domains, capture_output=True, text=True, timeout=30)


def test_spf_walk_follows_include_redirect_a_and_mx_and_stops_at_a_loop(instance, spf_dns):
    r = spf_walk(instance, "walk.test\n")
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == sorted([
        "192.0.2.0/24", "2001:db8::/32", "198.51.100.7", "127.0.0.9", "127.0.0.10/30"])
    assert "walk.test is visited twice" in r.stderr


def test_spf_walk_reports_a_domain_without_spf_and_goes_on(instance, spf_dns):
    r = spf_walk(instance, "nothing.test\nred.test\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["198.51.100.7"]
    assert "nothing.test" in r.stderr


# --- policy cache ----------------------------------------------------------

def test_cache_put_get_delete_and_expiry(instance):
    instance.start()  # creates the queue directory, where the cache lives
    assert instance.postern("cache", "put", "greylist:1.2.3.4", "seen").returncode == 0
    r = instance.postern("cache", "get", "greylist:1.2.3.4")
    assert (r.returncode, r.stdout) == (0, "seen\n")
    assert instance.postern("cache", "put", "short", "lived", "2s").returncode == 0
    assert instance.postern("cache", "get", "short").stdout == "lived\n"
    wait_for(lambda: instance.postern("cache", "get", "short").returncode == 1, timeout=6,
             what="the entry to expire")
    r = instance.postern("cache", "get", "short")
    assert "not found" in r.stderr
    r = instance.postern("cache", "sweep")
    assert (r.returncode, r.stdout) == (0, "1 expired entry removed\n")
    assert instance.postern("cache", "delete", "greylist:1.2.3.4").returncode == 0
    assert instance.postern("cache", "get", "greylist:1.2.3.4").returncode == 1
    r = instance.postern("cache", "delete", "greylist:1.2.3.4")
    assert r.returncode == 1 and "not found" in r.stderr
    r = instance.postern("cache", "put", "k", "v", "soon")
    assert r.returncode == 1 and "bad time to live" in r.stderr
    # Abbreviated, as every command.
    assert instance.postern("ca", "p", "x", "y").returncode == 0
    assert instance.postern("ca", "g", "x").stdout == "y\n"


# --- the runtime controls, against a running instance with real mail ------

import json
import re
import smtplib
import socket

from conftest import free_port
from qmgr_helpers import QTOOL, Sink, configure


class Live:
    """An instance with smtpd on a free port, qmgr and the qsink transport."""

    def __init__(self, instance, **params):
        self.instance = instance
        configure(instance, stats_flush_interval="1s", **params)
        self.sink = Sink(instance)
        self.port = free_port()
        instance.add_service(f"127.0.0.1:{self.port} inet n - n - - smtpd -o max_use=0")
        instance.start()
        wait_for(self.banner, timeout=10, what="smtpd greeting")

    def banner(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as c:
                data = c.recv(512).decode()
                c.sendall(b"QUIT\r\n")
                return data
        except OSError:
            return None

    def client(self):
        c = smtplib.SMTP("127.0.0.1", self.port, timeout=10)
        c.ehlo("client.test")
        return c

    def send(self, rcpt="u@example.test"):
        with self.client() as c:
            c.sendmail("a@example.org", [rcpt], b"Subject: t\r\n\r\nhello\r\n")

    def ctl(self, *args, ok=True):
        r = self.instance.postern(*args)
        if ok:
            assert r.returncode == 0, f"postern {' '.join(args)}: {r.stderr}"
        return r

    def stats(self):
        out = self.ctl("show", "stats").stdout
        return dict(l.split("=", 1) for l in out.splitlines())


@pytest.fixture
def live(instance):
    if not QTOOL.exists():
        pytest.skip("qtool not built")
    return Live(instance)


def test_show_stats_counts_a_delivered_message(live):
    before = live.stats()
    assert list(before) == sorted(before)
    for key in ("uptime", "uptime.human", "smtp.session", "scheduler.delivery.ok", "scheduler.envelope"):
        assert key in before
    live.send()
    wait_for(live.sink.sent, timeout=10, what="delivery")

    def counted():
        s = live.stats()
        done = (int(s["scheduler.delivery.ok"]) == int(before["scheduler.delivery.ok"]) + 1 and
                int(s["smtp.message"]) == int(before["smtp.message"]) + 1)
        return s if done else None

    after = wait_for(counted, timeout=5, what="the message and its delivery in show stats")
    assert int(after["smtp.session"]) > int(before["smtp.session"])
    j = json.loads(live.ctl("show", "stats", "--json").stdout)
    assert j["scheduler.delivery.ok"] == int(after["scheduler.delivery.ok"])
    assert "uptime.human" in j
    hourly = live.ctl("show", "stats", "--hourly").stdout
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:00Z\|smtp\.message=1$", hourly, re.M), hourly
    routes = live.ctl("show", "stats", "--routes").stdout
    assert re.search(r"\|test:example\.test\|scheduler\.delivery\.ok=1$", routes, re.M), routes
    # Abbreviations: "sh st" names both stats and status.
    r = live.ctl("sh", "st", ok=False)
    assert r.returncode == 1 and "stats" in r.stderr and "status" in r.stderr


def test_show_processes_lists_each_service_with_its_workers(live):
    out = live.ctl("show", "processes").stdout.splitlines()
    rows = {tuple(l.split("|")[:3]): l.split("|")[3:] for l in out}
    assert ("qmgr", "unix", "qmgr") in rows and ("test", "unix", "qsink") in rows
    assert rows[("qmgr", "unix", "qmgr")][2] == "1"  # maxproc
    busy, idle, limit = rows[("127.0.0.1:%d" % live.port, "inet", "smtpd")]
    assert int(busy) + int(idle) >= 1  # the greeting probe started one
    assert limit == "100"  # default_process_limit
    assert len(out) == len(rows) == 4  # qmgr, bounce, test, smtpd
    r = live.ctl("show", "processes", "x", ok=False)
    assert r.returncode == 1


def test_monitor_prints_the_header_then_rows(live):
    wait_for(lambda: int(live.stats()["smtp.session"]) >= 1, what="the probe sessions in the store")
    r = live.ctl("monitor", "1", "3")
    lines = r.stdout.splitlines()
    assert lines[0].startswith("--- client ---")
    assert lines[1].split()[:3] == ["curr", "conn", "disc"]
    assert lines[1].split()[-4:] == ["drop", "early", "limit", "rcpt"]  # smtpd's abuse checks
    rows = [l.split() for l in lines[2:]]
    assert len(rows) == 3 and all(len(x) == 17 and all(f.isdigit() for f in x) for x in rows)
    # The first row is absolute: the readiness probes were sessions.
    assert int(rows[0][1]) >= 1


def test_show_sessions_lists_a_live_session_and_kill_session_drops_it(live):
    c = live.client()
    out = wait_for(lambda: [l for l in live.ctl("show", "sessions").stdout.splitlines() if "EHLO" in l],
                   what="the session in show sessions")
    fields = out[0].split("|")
    assert len(fields) == 7 and re.fullmatch(r"[0-9a-f]{16}", fields[0])
    assert fields[1] == "EHLO" and fields[2].endswith("[127.0.0.1]")
    assert int(fields[5]) > 0 and int(fields[6]) > 0  # octets in and out
    r = live.ctl("kill", "session", fields[0])
    assert "command succeeded" in r.stdout
    with pytest.raises(smtplib.SMTPServerDisconnected):
        c.noop()
        c.noop()
    live.instance.wait_log(rf"session {fields[0]} from \S+ killed by administrator")
    r = live.ctl("kill", "session", fields[0], ok=False)
    assert r.returncode == 1 and "no such session" in r.stderr


def test_log_verbose_makes_the_next_session_log_its_dialogue(live):
    mark = live.instance.log_mark()
    live.ctl("log", "verbose")
    with live.client() as c:
        c.noop()
    live.instance.wait_log(r"(?i)smtpd\[\d+\]: < \S+\[127\.0\.0\.1\]: EHLO client\.test", since=mark)
    live.instance.wait_log(r"smtpd\[\d+\]: > \S+\[127\.0\.0\.1\]: 250 2\.0\.0 Ok", since=mark)
    # Every line of the EHLO reply, and the greeting before it.
    live.instance.wait_log(r"smtpd\[\d+\]: > \S+\[127\.0\.0\.1\]: 220 mx\.postern\.test ESMTP", since=mark)
    for line in (r"250-mx\.postern\.test", r"250-PIPELINING", r"250-ENHANCEDSTATUSCODES", r"250 CHUNKING"):
        live.instance.wait_log(r"smtpd\[\d+\]: > \S+\[127\.0\.0\.1\]: " + line + "$", since=mark)
    live.ctl("log", "brief")
    mark = live.instance.log_mark()
    with live.client() as c:
        c.noop()
    live.instance.wait_log(r"disconnect from", since=mark)
    assert "< " not in "".join(l for l in live.instance.log()[mark:].splitlines() if "EHLO" in l)


def test_trace_and_profile_turn_subsystem_lines_on_and_off(live):
    assert "unknown subsystem" in live.ctl("trace", "nothing", ok=False).stderr
    assert live.ctl("trace", "io").stdout.strip() == "tracing: io"
    assert live.ctl("profile", "queue").stdout.strip() == "profiling: queue"
    mark = live.instance.log_mark()
    live.send()
    live.instance.wait_log(r"trace: io: \S+\[127\.0\.0\.1\]: read \d+ bytes", since=mark)
    live.instance.wait_log(r"profile: queue: commit of a message from \S+ took \d+ us \(ok\)", since=mark)
    assert live.ctl("untrace", "all").stdout.strip() == "tracing: none"
    live.ctl("unprofile", "queue")
    mark = live.instance.log_mark()
    live.send()
    live.instance.wait_log(r"disconnect from", since=mark)
    assert "trace: io" not in live.instance.log()[mark:]


def test_set_option_takes_effect_and_reload_clears_it(live):
    r = live.ctl("set", "option", "smtpd_banner=override.test ESMTP runtime")
    assert r.stdout.strip() == "smtpd_banner = override.test ESMTP runtime"
    assert "override.test" in wait_for(lambda: (live.banner() or "") if "override" in (live.banner() or "") else None,
                                       what="the new banner")
    assert live.ctl("show", "options").stdout == "smtpd_banner = override.test ESMTP runtime\n"
    r = live.ctl("set", "option", "queue_directory=/tmp/x", ok=False)
    assert r.returncode == 1 and "cannot change while postern runs" in r.stderr
    r = live.ctl("set", "option", "no_such_parameter=1", ok=False)
    assert "unknown parameter" in r.stderr
    r = live.ctl("set", "option", "smtpd_timeout=soon", ok=False)
    assert r.returncode == 1
    live.instance.reload()
    assert live.ctl("show", "options").stdout == ""
    wait_for(lambda: "override" not in (live.banner() or "override"), timeout=10, what="the main.cf banner")


def test_set_option_plus_and_minus_switch_booleans_as_smtpf_optn(live):
    def vrfy():
        with live.client() as c:
            return c.verify("u@example.test")[0]

    assert vrfy() == 502  # disable_vrfy_command = yes, Postfix's default
    r = live.ctl("set", "option", "-disable_vrfy_command", "+smtpd_tls_auth_only")
    assert r.stdout == "disable_vrfy_command = no\nsmtpd_tls_auth_only = yes\n"
    assert live.ctl("show", "options").stdout == "disable_vrfy_command = no\nsmtpd_tls_auth_only = yes\n"
    wait_for(lambda: vrfy() != 502, timeout=10, what="VRFY allowed once -disable_vrfy_command reached smtpd")
    live.ctl("set", "option", "+disable_vrfy_command")
    assert "disable_vrfy_command = yes" in live.ctl("show", "options").stdout
    wait_for(lambda: vrfy() == 502, timeout=10, what="VRFY refused again after +disable_vrfy_command")
    r = live.ctl("set", "option", "+smtpd_timeout", ok=False)
    assert r.returncode == 1
    assert "smtpd_timeout is not a boolean parameter (use smtpd_timeout=value)" in r.stderr
    r = live.ctl("set", "option", "-no_such_parameter", ok=False)
    assert r.returncode == 1 and "unknown parameter no_such_parameter" in r.stderr
    # Nothing of a refused request is applied.
    r = live.ctl("set", "option", "-smtpd_tls_auth_only", "+queue_directory", ok=False)
    assert r.returncode == 1
    assert "smtpd_tls_auth_only = yes" in live.ctl("show", "options").stdout


def test_update_table_makes_smtpd_see_a_changed_table(live):
    table = live.instance.root / "access"
    table.write_text("127.0.0.1 OK    \n")
    live.instance.set(smtpd_client_restrictions=f"check_client_access texthash:{table}")
    live.instance.reload()

    def rcpt_code():
        with live.client() as c:
            c.mail("a@example.org")
            return c.rcpt("u@example.test")[0]

    assert rcpt_code() == 250
    st = table.stat()
    # Same size, same mtime: only update table can tell smtpd.
    with open(table, "r+") as f:
        f.write("127.0.0.1 REJECT\n")
    os.utime(table, ns=(st.st_atime_ns, st.st_mtime_ns))
    time.sleep(1.2)  # past the table's own recheck interval: it still sees no change
    assert rcpt_code() == 250
    live.ctl("update", "table", f"texthash:{table}")
    assert rcpt_code() == 554
    r = live.ctl("update", "table", "texthash:/no/such/table", ok=False)
    assert r.returncode == 1 and "not open" in r.stderr
