# bench/mta/peers.py — the other peers of the table: Exim 4.96, OpenSMTPD 6.8
# and chasquid 1.11, Debian's packages unpacked into build/<mta> (never
# installed), each a private root-started instance on a 127.0.0.1 high port
# with its spool and configuration in a temporary directory, relaying to the
# scenario's sink. What each fsyncs before its 250 is in bench/README.md.
import os
import signal
import subprocess
import time
from pathlib import Path

from . import tools
from .dns import PrivateDns, in_namespace
from .instances import MTA

BUILD = tools.REPO / "build"
DEBS = {  # mta → (Debian packages, tree, the binary that shows the tree is whole)
    "exim": (["exim4-daemon-light"], BUILD / "exim", "usr/sbin/exim4"),
    "opensmtpd": (["opensmtpd"], BUILD / "opensmtpd", "usr/sbin/smtpd"),
    "chasquid": (["chasquid"], BUILD / "chasquid", "usr/bin/chasquid"),
}


def fetch(mta, log=print):
    if mta in DEBS:
        pkgs, root, needed = DEBS[mta]
        tools.fetch_deb(pkgs, root, needed, log)


def versions(mtas):
    return {m: tools.deb_version(DEBS[m][1]) for m in mtas if m in DEBS}


class _Peer(MTA):
    """A peer started by root through `argv` (daemonizing or not), stopped
    by SIGTERM to its main process; every process left is killed by close()."""

    def __init__(self, relay_port, process_limit=100, paused=False, extra=None, tls=None):
        if paused:
            raise tools.ToolError(f"{self.name}: the bench cannot pause its delivery")
        super().__init__(relay_port, process_limit, paused)
        self.extra = dict(extra or {})
        self.tls = tls  # (cert file, key file) to offer STARTTLS with and to use towards the sink
        self.log_path = self.root / "log"
        self.proc = None

    def _spawn(self, argv, env=None):
        """For an MTA that stays in the foreground: started in the cgroup."""
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=open(self.log_path, "ab"),
                                     preexec_fn=self.cpu.join)

    def _wait_listening(self, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc and self.proc.poll() is not None:
                raise tools.ToolError(f"{self.name} exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                return tools.wait_port(self.port, timeout=0.5)
            except tools.ToolError:
                pass
        raise tools.ToolError(f"{self.name}: nothing listens on 127.0.0.1:{self.port} after {timeout}s\n"
                              f"{self.log_tail()}")

    def _main_pid(self):
        return self.proc.pid if self.proc else None

    def stop(self):
        pid = self._main_pid()
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        if self.proc:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.started = False


EXIM_CONF = """\
exim_path = {exim}
primary_hostname = exim.bench.example
spool_directory = {root}/spool
log_file_path = {root}/%slog
pid_file_path = {root}/exim.pid
local_interfaces = 127.0.0.1
daemon_smtp_ports = {port}
keep_environment =
host_lookup =
rfc1413_hosts =
smtp_accept_max = {limit}
smtp_connect_backlog = {limit}
smtp_accept_queue_per_connection = 0
{extra}acl_smtp_rcpt = acl_rcpt
{tls}
begin acl
acl_rcpt:
  accept

begin routers
{router}

begin transports
remote_smtp:
  driver = smtp
  port = {sink_port}
  hosts_avoid_tls = {avoid_tls}
  hosts_require_tls = {require_tls}
  allow_localhost

begin retry
* * F,5m,1s
"""
EXIM_SMARTHOST = """smarthost:
  driver = manualroute
  domains = *
  route_list = * 127.0.0.1
  transport = remote_smtp
  self = send
  no_more"""
EXIM_DNS = """dnslookup:
  driver = dnslookup
  domains = *
  transport = remote_smtp
  self = send
  no_more"""


class Exim(_Peer):
    """Debian's exim4-daemon-light with -C (a config outside its trusted
    list: Exim gives up root and runs as its exim_user, Debian-exim, which
    is all a relay on a high port needs). Every message is delivered by a
    process forked as it is accepted (smtp_accept_queue_per_connection = 0:
    no message is left for the queue runner), a queue run every second
    retries the rest. It fsyncs the -D (body) and -H (envelope) spool files
    before 250."""

    name = "exim"

    def __init__(self, relay_port, dns=None, **kw):
        super().__init__(relay_port, **kw)
        self.exim = DEBS["exim"][1] / "usr/sbin/exim4"
        self.dns = dns  # PrivateDns: route by MX (fan-out), else every message to the sink
        self.log_path = self.root / "mainlog"
        self.conf = self.root / "exim.conf"
        spool = self.root / "spool"
        spool.mkdir()
        tls = ""
        if self.tls:
            tls = f"tls_advertise_hosts = *\ntls_certificate = {self.tls[0]}\ntls_privatekey = {self.tls[1]}\n"
        else:
            tls = "tls_advertise_hosts =\n"
        # Extra main options by their Exim names (message_size_limit is one).
        extra = "".join(f"{k} = {v}\n" for k, v in self.extra.items())
        text = EXIM_CONF.format(exim=self.exim, root=self.root, port=self.port, limit=self.process_limit,
                                extra=extra, tls=tls, router=EXIM_DNS if dns else EXIM_SMARTHOST,
                                sink_port=relay_port, avoid_tls="" if self.tls else "*",
                                require_tls="*" if self.tls else "")
        self.conf.write_text(text)
        self.conf.chmod(0o644)
        # Exim writes its spool and logs as Debian-exim; its config stays root's.
        subprocess.run(["chown", "Debian-exim:Debian-exim", str(spool), str(self.root)], check=True)

    def start(self):
        argv = [str(self.exim), "-C", str(self.conf), "-bd", "-q1s"]
        if self.dns:
            argv = in_namespace([(self.dns.resolv_conf(self.root), "/etc/resolv.conf")], argv)
        self._run(argv)
        self.started = True
        tools.wait_port(self.port)

    def _main_pid(self):
        try:
            return int((self.root / "exim.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None


class OpenSMTPD(_Peer):
    """Debian's opensmtpd with -f CONF, in a private mount namespace where its
    compiled-in paths are the instance's own directories: /var/spool (the
    queue, /var/spool/smtpd), /run (the control socket, pid) and /var/lib
    (its chroot /var/lib/opensmtpd/empty). It drops to opensmtpd and
    opensmtpq (users scripts/install-deps creates). Its "fs" queue fsyncs the
    message file and the envelope file before 250."""

    name = "opensmtpd"
    # Its listen backlog is 5: more connections at once lose their SYNs and
    # retry after 1, 2, 4 … s, which the idle scenario (memory, not connect
    # rate) need not wait for.
    connect_burst = 4

    def __init__(self, relay_port, tls=None, **kw):
        if tls:
            # Debian 12's 6.8.0p2 with OpenSSL 3 fails every STARTTLS
            # handshake ("EVP lib"; upstream issues 1171 and 1239).
            raise tools.ToolError("opensmtpd: its TLS does not work with this OpenSSL")
        super().__init__(relay_port, **kw)
        self.smtpd = DEBS["opensmtpd"][1] / "usr/sbin/smtpd"
        self.log_path = self.root / "smtpd.log"
        for d in ("spool/smtpd", "run", "lib/opensmtpd/empty"):
            (self.root / d).mkdir(parents=True)
        (self.root / "spool/smtpd").chmod(0o711)
        self.conf = self.root / "smtpd.conf"
        # Its default of 100 messages a session (452 4.5.3 after that) would
        # fail smtp-source's long sessions; no other MTA here has such a limit.
        lines = ["smtp limit max-mails 1000000"]
        listen = f"listen on 127.0.0.1 port {self.port} hostname opensmtpd.bench.example"
        relay = f"relay host smtp+notls://127.0.0.1:{relay_port}"
        if "message_size_limit" in self.extra:
            lines.append(f"smtp max-message-size {self.extra['message_size_limit']}")
        lines += [listen, f'action "relay" {relay}', 'match from any for any action "relay"']
        self.conf.write_text("\n".join(lines) + "\n")
        self.conf.chmod(0o644)

    def start(self):
        mounts = [(self.root / "spool", "/var/spool"), (self.root / "run", "/run"), (self.root / "lib", "/var/lib")]
        self._spawn(in_namespace(mounts, [self.smtpd, "-d", "-f", self.conf]))
        self.started = True
        self._wait_listening()


CHASQUID_CONF = """\
hostname: "chasquid.bench.example"
smtp_address: "127.0.0.1:{port}"
submission_address: "127.0.0.1:{sub}"
submission_over_tls_address: "127.0.0.1:{subtls}"
mail_delivery_agent_bin: "/bin/true"
data_dir: "{root}/data"
mail_log_path: "{root}/mail.log"
"""


class Chasquid(_Peer):
    """Debian's chasquid with -config_dir. chasquid relays only for its own
    users or through its aliases: the bench's recipient is an alias of the
    local domain chasquid.bench that forwards to bench@relay.example, whose MX
    a private dnsmasq points at 127.0.0.1 (chasquid is started in a mount
    namespace where /etc/resolv.conf names it) and the sink's port is given
    with -testing__outgoing_smtp_port. It fsyncs the queue item file (the
    envelope with the whole message) before 250."""

    name = "chasquid"
    rcpt = "bench@chasquid.bench"

    def __init__(self, relay_port, dns=None, aliases=None, **kw):
        super().__init__(relay_port, **kw)
        self.binary = DEBS["chasquid"][1] / "usr/bin/chasquid"
        self.log_path = self.root / "chasquid.log"
        self.own_dns = dns is None
        self.dns = dns or PrivateDns(["--mx-host=relay.example,mx.relay.example,10",
                                      "--host-record=mx.relay.example,127.0.0.1"])
        conf = self.root / "conf"
        domain = conf / "domains" / "chasquid.bench"
        domain.mkdir(parents=True)
        # chasquid refuses to start without a certificate.
        certs = conf / "certs" / "chasquid.bench.example"
        certs.mkdir(parents=True)
        cert, key = self.tls or tools.self_signed(self.root, "chasquid.bench.example")
        (certs / "fullchain.pem").write_bytes(Path(cert).read_bytes())
        (certs / "privkey.pem").write_bytes(Path(key).read_bytes())
        (domain / "aliases").write_text(aliases or "bench: bench@relay.example\n")
        (self.root / "data").mkdir()
        text = CHASQUID_CONF.format(port=self.port, sub=tools.free_port(), subtls=tools.free_port(), root=self.root)
        if "message_size_limit" in self.extra:
            text += f"max_data_size_mb: {-(-int(self.extra['message_size_limit']) // (1 << 20))}\n"
        (conf / "chasquid.conf").write_text(text)
        self.conf = conf

    def start(self):
        argv = [self.binary, "-config_dir", self.conf, f"-testing__outgoing_smtp_port={self.relay_port}",
                "-alsologtostderr"]
        self._spawn(in_namespace([(self.dns.resolv_conf(self.root), "/etc/resolv.conf")], argv))
        self.started = True
        self._wait_listening()

    def close(self):
        super().close()
        if self.own_dns:
            self.dns.close()
