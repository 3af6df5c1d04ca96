# bench/mta/instances.py — one private postern and one private Postfix, each
# in its own temporary directory on 127.0.0.1 high ports, relaying to a sink,
# with the same durability (both fsync before 250). Neither touches /etc or
# port 25; each runs in its own CPU cgroup so all its processes are counted.
import os
import pwd
import grp
import shutil
import smtplib
import subprocess
import tempfile
import time
from pathlib import Path

from . import tools
from .dns import in_namespace
from .procs import CpuGroup

MAIL_OWNER = "postern"


def _mail_owner():
    """The unprivileged user both MTAs drop to when the bench runs as root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam(MAIL_OWNER)
        return MAIL_OWNER
    except KeyError:
        raise tools.ToolError(f"user {MAIL_OWNER} missing: run scripts/install-deps")


def _setgid_group():
    """Postfix wants a group unlike mail_owner's own (it only matters to
    postdrop/postqueue, which the bench does not install set-gid)."""
    own = pwd.getpwnam(_mail_owner()).pw_gid
    for name in ("postdrop", "mail", "nogroup"):
        try:
            if grp.getgrnam(name).gr_gid != own:
                return name
        except KeyError:
            pass
    raise tools.ToolError("no group for Postfix's setgid_group (tried postdrop, mail, nogroup)")


def tls_params(tls):
    """postern's and Postfix's TLS on both sides: STARTTLS offered with
    tls = (cert, key), and required towards the sink (encrypt: no
    verification, the sink's certificate is self-signed)."""
    if not tls:
        return {}
    return {"smtpd_tls_cert_file": str(tls[0]), "smtpd_tls_key_file": str(tls[1]),
            "smtpd_tls_security_level": "may", "smtp_tls_security_level": "encrypt"}


class MTA:
    """What the scenarios need of an MTA: configure, start, stop, its port,
    its processes and CPU, a queue listing command."""

    name = "?"
    rcpt = "bench@relay.example"  # the recipient the load is sent to (relayed to the sink)
    connect_burst = 200  # idle scenario: connections opened at once (listen backlogs are finite)

    def __init__(self, relay_port, process_limit=100, paused=False):
        self.root = Path(tempfile.mkdtemp(prefix=f"bench-{self.name}-"))
        self.root.chmod(0o755)  # workers run as mail_owner and must reach it
        self.port = tools.free_port()
        self.relay_port = relay_port
        self.process_limit = process_limit
        self.paused = paused  # remote delivery paused from the start
        self.cpu = CpuGroup(f"postern-bench-{self.name}")
        self.started = False

    def pids(self):
        pids = self.cpu.pids()
        return pids if pids or self.cpu.path else self._pids_by_scan()

    def pids_of(self, program):
        """Pids of this MTA's processes running `program` (by argv[0]'s name)."""
        out = []
        for pid in self.pids():
            try:
                argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            if Path(argv0).name == program:
                out.append(pid)
        return out

    def _pids_by_scan(self):
        needle = str(self.root).encode()
        out = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    if needle in (d / "cmdline").read_bytes() or needle in (d / "environ").read_bytes():
                        out.append(int(d.name))
                except OSError:
                    pass
        return out

    def _run(self, argv, env=None, timeout=60, check=True):
        r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                           preexec_fn=self.cpu.join)
        if check and r.returncode != 0:
            raise tools.ToolError(f"{self.name}: {' '.join(map(str, argv))} failed: "
                                  f"{(r.stderr or r.stdout).strip()[-600:]}\n{self.log_tail()}")
        return r

    def log_tail(self, n=20):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def close(self):
        if self.started:
            try:
                self.stop()
            except Exception:
                pass
        for pid in self.pids():
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        self.cpu.remove()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --abuse: smtpd's abuse controls on, with the bench's client past them as
# after its first pass: the greeting delay on (the client is remembered as
# having waited: dumb:127.0.0.1 = 2), the anvil limits on and counting for it
# (no exceptions, limits far above the load), greylisting on the LMDB policy
# cache (the client's network auto-whitelisted by one pass at start), relay
# allowed without mynetworks (which would exempt the client from all of it).
ABUSE_CONTROLS = {
    "mynetworks": "127.0.0.2/32",
    "smtpd_relay_restrictions": "permit",
    "smtpd_greet_delay": "15s",
    "smtpd_client_event_limit_exceptions": "",
    "smtpd_client_connection_count_limit": "1000000",
    "smtpd_client_connection_rate_limit": "100000000",
    "smtpd_client_message_rate_limit": "100000000",
    "smtpd_client_recipient_rate_limit": "100000000",
    "smtpd_recipient_restrictions": "check_greylist",
    "greylist_delay": "0s",
    "greylist_auto_whitelist_count": "1",
}


def _greylist_first_pass(port):
    """The bench client's first pass through check_greylist: 450, then a retry
    that passes (greylist_delay 0s), which whitelists its network (grey:white:)."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname="bench.example", timeout=60) as c:
        c.ehlo()
        c.mail("warmup@bench.example")
        first, _ = c.rcpt("warmup@relay.example")
        again, _ = c.rcpt("warmup@relay.example")
        if (first, again) != (450, 250):
            raise tools.ToolError(f"greylist first pass: RCPT answered {first} then {again}, not 450 then 250")
        c.rset()


class Postern(MTA):
    name = "postern"

    def __init__(self, bin_dir, relay_port, process_limit=100, paused=False, extra=None, abuse=False, tls=None,
                 dns=None):
        super().__init__(relay_port, process_limit, paused)
        self.bin = Path(bin_dir)
        self.abuse = abuse
        self.config_dir = self.root / "etc"
        self.queue_dir = self.root / "queue"
        self.log_path = self.root / "maillog"
        self.params = {
            "queue_directory": str(self.queue_dir),
            "maillog_file": str(self.log_path),
            "daemon_directory": str(self.bin),
            "mail_owner": _mail_owner(),
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "myhostname": "postern.bench.example",
            "mydestination": "",
            "mynetworks": "127.0.0.0/8",
            "relayhost": f"[127.0.0.1]:{relay_port}",
            "default_process_limit": str(process_limit),
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "5s",
            "queue_run_delay": "1s",
        }
        if abuse:
            self.params.update(ABUSE_CONTROLS)
        self.params.update(tls_params(tls))
        if dns:
            # Route by MX through the private DNS; the sinks listen on relay_port.
            self.params.update(relayhost="", dns_servers=f"{dns.address}:53", smtp_tcp_port=str(relay_port))
        if paused:
            # The queue scenario: 1,000,000 messages of 4 KiB fill ~5 GB of
            # LMDB, past queue_map_size's 4g default (the map grows as used).
            self.params["queue_map_size"] = "16g"
        self.params.update(extra or {})
        self.config_dir.mkdir()
        self.write_config()

    def write_config(self):
        (self.config_dir / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in self.params.items()))
        lines = ["qmgr unix n - n 300 1 qmgr",
                 f"127.0.0.1:{self.port} inet n - n - - smtpd",
                 "smtp unix - - n - - smtp"]
        (self.config_dir / "master.cf").write_text("\n".join(lines) + "\n")

    def ctl(self, *args, timeout=60, check=True):
        return self._run([str(self.bin / "postern"), "-c", str(self.config_dir), *args],
                         timeout=timeout, check=check)

    def start(self):
        self.ctl("start")
        self.started = True
        if self.abuse:
            # The client waited for a delayed greeting once before: whitelisted
            # until the record expires, so every session reads the cache.
            self.ctl("cache", "put", "dumb:127.0.0.1", "2", "86400")
        if self.paused:
            # `postern pause mta`: qmgr keeps scanning, routing and answering,
            # but hands nothing to the smtp transport until resumed.
            self.ctl("pause", "mta")
        tools.wait_port(self.port)
        if self.abuse:
            _greylist_first_pass(self.port)

    def stop(self):
        self.ctl("stop", check=False)
        self.started = False

    def restart_qmgr(self, timeout=120):
        """`postern reload` (master retires qmgr and starts a new one, which
        recovers the queue before it answers); waits until the new qmgr
        answers a queue command. Returns (monotonic time of the reload,
        seconds until the new qmgr answered)."""
        old = set(self.pids_of("qmgr"))
        t = time.monotonic()
        self.ctl("reload")
        end = t + timeout
        while time.monotonic() < end:
            now = set(self.pids_of("qmgr"))
            if now and not now & old:
                r = self.ctl("show", "routes", check=False, timeout=timeout)
                if r.returncode == 0:
                    return t, time.monotonic() - t
            time.sleep(0.02)
        raise tools.ToolError(f"{self.name}: no new qmgr answering {timeout}s after reload\n{self.log_tail()}")

    def resume_delivery(self):
        self.ctl("resume", "mta")

    def queue_list_argv(self):
        """(argv, label): `postern show queue` (qmgr streams it through master)."""
        return [str(self.bin / "postern"), "-c", str(self.config_dir), "show", "queue"], "postern show queue"

    def queue_server(self):
        """The process that does the listing's work on the MTA's side."""
        return "qmgr"


POSTFIX_MASTER_CF = """\
{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix(MTA):
    name = "postfix"

    def __init__(self, relay_port, process_limit=100, paused=False, extra=None, tls=None, dns=None):
        super().__init__(relay_port, process_limit, paused)
        self.tls, self.dns = tls, dns
        root = tools.POSTFIX_ROOT
        self.config_dir = self.root / "etc"
        self.queue_dir = self.root / "queue"
        self.log_path = self.root / "maillog"
        self.params = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.queue_dir),
            "data_directory": str(self.root / "data"),
            "daemon_directory": str(root / "usr/lib/postfix/sbin"),
            "command_directory": str(root / "usr/sbin"),
            "shlib_directory": str(root / "usr/lib/postfix"),
            "meta_directory": str(root / "etc/postfix"),
            "sendmail_path": str(root / "usr/sbin/sendmail"),
            "newaliases_path": str(root / "usr/bin/newaliases"),
            "mailq_path": str(root / "usr/bin/mailq"),
            "manpage_directory": str(root / "usr/share/man"),
            "sample_directory": "no",
            "readme_directory": "no",
            "html_directory": "no",
            "mail_owner": _mail_owner(),
            "setgid_group": _setgid_group(),
            "import_environment": f"MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C LD_LIBRARY_PATH={tools.POSTFIX_LIB}",
            "maillog_file": str(self.log_path),
            "maillog_file_prefixes": str(self.root),
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "myhostname": "postfix.bench.example",
            "mydestination": "",
            "mynetworks": "127.0.0.0/8",
            "relayhost": f"[127.0.0.1]:{relay_port}",
            "alias_maps": "",
            "alias_database": "",
            "biff": "no",
            "smtputf8_enable": "no",
            "default_process_limit": str(process_limit),
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "5s",
            "queue_run_delay": "1s",
        }
        if paused:
            # Delivery paused, Postfix's way: qmgr defers the smtp transport.
            # (Without qmgr in master.cf, cleanup's failing qmgr trigger slows
            # every message to a crawl: ~5 msg/s.)
            self.params["defer_transports"] = "smtp relay"
        self.params.update(tls_params(tls))
        if dns:
            # MX routing: the resolver is the private DNS (a resolv.conf in
            # Postfix's mount namespace), the sinks listen on relay_port.
            self.params.update(relayhost="", smtp_tcp_port=str(relay_port))
        self.params.update(extra or {})
        self.config_dir.mkdir()
        self.queue_dir.mkdir()  # postfix wants it; post-install fills it
        (self.config_dir / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in self.params.items()))
        self.write_master_cf()

    def write_master_cf(self):
        text = POSTFIX_MASTER_CF.format(port=f"127.0.0.1:{self.port}")
        if self.tls:
            text += "tlsmgr    unix  -       -       n       1000?   1       tlsmgr\n"
        (self.config_dir / "master.cf").write_text(text)

    def postfix(self, *args, timeout=120, check=True):
        return self._run([str(tools.POSTFIX_ROOT / "usr/sbin/postfix"), "-c", str(self.config_dir), *args],
                         env=tools.tool_env(), timeout=timeout, check=check)

    def start(self):
        argv = [str(tools.POSTFIX_ROOT / "usr/sbin/postfix"), "-c", str(self.config_dir), "start"]
        if self.dns:
            argv = in_namespace([(self.dns.resolv_conf(self.root), "/etc/resolv.conf")], argv)
        self._run(argv, env=tools.tool_env(), timeout=120)
        self.started = True
        tools.wait_port(self.port)

    def stop(self):
        self.postfix("stop", check=False)
        self.started = False

    def restart_qmgr(self, timeout=120):
        """Lifts defer_transports and reloads (master restarts qmgr, which
        reads the new main.cf). Returns (time of the reload, None: Postfix's
        qmgr answers no command that would say it is ready)."""
        main = self.config_dir / "main.cf"
        main.write_text("".join(l + "\n" for l in main.read_text().splitlines()
                                if not l.startswith("defer_transports")))
        t = time.monotonic()
        self.postfix("reload")
        return t, None

    def resume_delivery(self):
        """The deferred queue is due again now (qmgr moved it there while
        smtp was a deferred transport)."""
        self.postfix("flush")

    def queue_list_argv(self):
        return [str(tools.POSTFIX_ROOT / "usr/sbin/postqueue"), "-c", str(self.config_dir), "-p"], "postqueue -p"

    def queue_server(self):
        return "showq"
