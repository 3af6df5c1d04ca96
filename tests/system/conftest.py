# tests/system/conftest.py — the shared fixtures of the end-to-end tests: an
# `instance` is a private postern installation (config dir, queue, log) in a
# temporary directory, on free loopback ports, driven through the real
# `postern` command. Later suites reuse it: set main.cf parameters with
# instance.set(...), add master.cf lines with instance.add_service(...).
import json
import os
import re
import select
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("POSTERN_BIN") or REPO / "build" / "release" / "bin")
QTOOL = BIN / "qtool"  # tests/tools: puts messages into a queue and reads them back


def qtool_command(*args):
    """The command line of qtool; args start with -c CONFIG_DIR or -q QUEUE_DIR."""
    return [str(QTOOL), *(str(a) for a in args)]


def qtool(*args, timeout=60, check=True):
    """Runs qtool to its end; with check, asserts that it succeeded."""
    r = subprocess.run(qtool_command(*args), capture_output=True, text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, f"qtool {' '.join(map(str, args))}: {r.stderr}"
    return r


def free_port(host="127.0.0.1"):
    """A TCP port nobody listens on right now (bind to port 0 and ask)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def common_free_port(*hosts):
    """A TCP port free on every one of `hosts` (servers on several loopback
    addresses answering on one port, as MX hosts on smtp_tcp_port do)."""
    for _ in range(20):
        p = free_port(hosts[0])
        try:
            for h in hosts[1:]:
                with socket.socket() as s:
                    s.bind((h, p))
            return p
        except OSError:
            continue
    raise AssertionError(f"no port free on all of {hosts}")


def wait_for(cond, timeout=5.0, interval=0.02, what="condition"):
    """Polls cond() until it returns something true; returns that value."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class LineClient:
    """A line-oriented TCP or unix-socket client (the test service speaks
    "220 greeting", "250 echo", "221 bye"; smtpd speaks SMTP)."""

    def __init__(self, port=None, host="127.0.0.1", path=None, timeout=5.0, read_greeting=True):
        if path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(str(path))
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.greeting = self.readline() if read_greeting else None

    def readline(self):
        line = self.file.readline()
        if not line:
            raise ConnectionError("connection closed by server")
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def waiting(self, seconds):
        """True when nothing arrives within `seconds` (e.g. a client queued
        in the listen backlog). Call it before reading anything."""
        r, _, _ = select.select([self.sock], [], [], seconds)
        return not r

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def command(self, line):
        self.send(line)
        return self.readline()

    def close(self):
        try:
            self.file.close()
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def submit(instance, port, rcpts, body, sender="sender@client.test", helo="client.test"):
    """Submits one message with smtplib to smtpd on 127.0.0.1:port; returns
    the queue id that smtpd logged for this client."""
    mark = instance.log_mark()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
        c.ehlo(helo)
        c.mail(sender)
        for r in rcpts:
            code, text = c.rcpt(r)
            assert code == 250, (r, code, text)
        code, text = c.data(body)
        assert code == 250, text
    return instance.wait_log(r"([0-9a-f]{8}): client=", since=mark).group(1)


def pid_of(greeting):
    """The worker pid in a test-service greeting ("220 pid=123 ...")."""
    m = re.search(r"pid=(\d+)", greeting)
    assert m, f"no pid in greeting {greeting!r}"
    return int(m.group(1))


class Instance:
    def __init__(self, root: Path):
        self.root = root
        self.config_dir = root / "etc"
        self.queue_dir = root / "queue"
        self.log_path = root / "maillog"
        self.bin = BIN
        self.params = {
            "queue_directory": str(self.queue_dir),
            "maillog_file": str(self.log_path),
            "daemon_directory": str(BIN),
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "myhostname": "mx.postern.test",
            "stop_grace_time": "5s",
            # Hermetic: no client name lookups in the host's DNS (tests that
            # want them turn them on with their own dns_servers).
            "smtpd_peername_lookup": "no",
        }
        if os.environ.get("ASAN_OPTIONS") or os.environ.get("UBSAN_OPTIONS"):
            # Sanitizer runs: master passes only import_environment on.
            self.params["import_environment"] = ("MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C "
                                                 "POSTERN_CONFIG_DIR ASAN_OPTIONS UBSAN_OPTIONS")
        self.services = []
        self.config_dir.mkdir(parents=True)
        self.write_config()

    # --- configuration -------------------------------------------------
    def write_config(self):
        main = "".join(f"{k} = {v}\n" for k, v in self.params.items())
        (self.config_dir / "main.cf").write_text(main)
        header = "# service type  private unpriv  chroot  wakeup  maxproc command + args\n"
        (self.config_dir / "master.cf").write_text(header + "".join(s + "\n" for s in self.services))

    def set(self, **params):
        """Sets main.cf parameters (as `postconf -e` would) and rewrites it."""
        self.params.update({k: str(v) for k, v in params.items()})
        self.write_config()

    def add_service(self, line):
        """Appends one master.cf line."""
        self.services.append(line)
        self.write_config()

    def add_testd(self, port=None, maxproc="-", args="", service_type="inet", name=None, wakeup="-"):
        """A test-service line; returns the port (inet) or socket path (unix)."""
        if service_type == "inet":
            port = port or free_port()
            self.add_service(f"127.0.0.1:{port} inet n - n {wakeup} {maxproc} testd {args}".rstrip())
            return port
        self.add_service(f"{name} unix - - n {wakeup} {maxproc} testd {args}".rstrip())
        return self.queue_dir / "private" / name

    # --- the postern command ------------------------------------------
    def postern(self, *args, timeout=30):
        return subprocess.run([str(BIN / "postern"), "-c", str(self.config_dir), *args],
                              capture_output=True, text=True, timeout=timeout)

    # --- its queue, through qtool ---------------------------------------
    def qtool(self, *args, timeout=60, check=True):
        return qtool("-c", self.config_dir, *args, timeout=timeout, check=check)

    def queue_messages(self):
        """Every message in the queue: dicts as qtool dump writes them, with
        the body as bytes and "rcpts", the sorted recipient addresses."""
        msgs = [json.loads(l) for l in self.qtool("dump", timeout=30).stdout.splitlines()]
        for m in msgs:
            m["body"] = bytes.fromhex(m["body"])
            m["rcpts"] = sorted(x["address"] for x in m["recipients"])
        return msgs

    def start(self):
        r = self.postern("start")
        assert r.returncode == 0, f"postern start failed: {r.stderr}\nlog:\n{self.log()}"
        return r

    def stop(self):
        r = self.postern("stop")
        assert r.returncode == 0, f"postern stop failed: {r.stderr}"
        return r

    def reload(self, timeout=5.0):
        """postern reload, then waits until master logged that it reloaded."""
        mark = self.log_mark()
        r = self.postern("reload")
        assert r.returncode == 0, r.stderr
        self.wait_log(r"reload -- version", since=mark, timeout=timeout)
        return r

    # --- the log -------------------------------------------------------
    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_mark(self):
        """A position in the log; pass it as since= to see only newer lines."""
        return len(self.log())

    def wait_log(self, pattern, since=0, timeout=5.0, count=1):
        """Waits until `pattern` (a regex) matched `count` lines after `since`;
        returns the last match."""
        rx = re.compile(pattern)

        def found():
            hits = [m for m in (rx.search(l) for l in self.log()[since:].splitlines()) if m]
            return hits[count - 1] if len(hits) >= count else None

        return wait_for(found, timeout, what=f"log line /{pattern}/ in {self.log_path}:\n{self.log()[since:]}")

    # --- processes -----------------------------------------------------
    def processes(self, program=None):
        """{pid: argv} of this instance's processes (master and workers: all
        carry `-c config_dir`), optionally only those running `program`."""
        out = {}
        needle = str(self.config_dir)
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                argv = (d / "cmdline").read_bytes().split(b"\0")[:-1]
                if (d / "stat").read_text().split(") ")[-1].startswith("Z"):
                    continue  # a zombie is gone for our purposes
            except OSError:
                continue
            argv = [a.decode(errors="replace") for a in argv]
            if needle not in argv:
                continue
            if program and (not argv or os.path.basename(argv[0]) != program):
                continue
            out[int(d.name)] = argv
        return out

    def workers(self, program="testd"):
        return sorted(self.processes(program))

    def master_pid(self):
        try:
            return int((self.queue_dir / "pid" / "master.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def connect(self, port=None, **kw):
        return LineClient(port, **kw)

    def cleanup(self):
        if self.processes("master"):
            self.postern("abort", timeout=15)
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _traversable_tempdir():
    # Workers run as mail_owner when the tests run as root: every directory
    # on the way to the instance must be searchable by that user, which
    # pytest's 0700 tmp_path is not. /tmp is.
    root = Path(tempfile.mkdtemp(prefix="postern-"))
    root.chmod(0o755)
    return root


SANITIZER_REPORT = re.compile(r"ERROR: AddressSanitizer|runtime error:")


def _sanitizer_logs(root: Path):
    """Sanitizer runs (make asan-system): every process this test starts, the
    instance's daemons included (import_environment passes the options on),
    writes its ASan/UBSan report to root/sanitizer/NAME.PID instead of a
    stderr nobody reads. Returns the directory, or None in a normal run."""
    names = [n for n in ("ASAN_OPTIONS", "UBSAN_OPTIONS") if os.environ.get(n) is not None]
    if not names:
        return None
    d = root / "sanitizer"
    d.mkdir()
    d.chmod(0o1777)  # workers that run as mail_owner write here too
    for n in names:
        os.environ[n] = f"{os.environ[n]}:log_path={d}/{n.split('_')[0].lower()}"
    return d


def _sanitizer_reports(d: Path):
    found = []
    for f in sorted(d.iterdir()):
        text = f.read_text(errors="replace")
        if SANITIZER_REPORT.search(text):
            found.append(f"--- {f.name}\n{text}")
    return found


@pytest.fixture
def instance():
    assert (BIN / "postern").exists(), f"no postern in {BIN}; set POSTERN_BIN"
    root = _traversable_tempdir()
    saved = {n: os.environ.get(n) for n in ("ASAN_OPTIONS", "UBSAN_OPTIONS")}
    sanitizer_dir = _sanitizer_logs(root)
    inst = Instance(root)
    reports = []
    try:
        yield inst
    finally:
        inst.cleanup()
        if sanitizer_dir:
            reports = _sanitizer_reports(sanitizer_dir)
            for n, v in saved.items():
                if v is not None:
                    os.environ[n] = v
        shutil.rmtree(root, ignore_errors=True)
    if reports:
        pytest.fail("sanitizer report(s) from this test's processes:\n" + "\n".join(reports), pytrace=False)


@pytest.fixture
def other_instance():
    """A second instance, as another MX host beside `instance`."""
    root = _traversable_tempdir()
    inst = Instance(root)
    try:
        yield inst
    finally:
        inst.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def redis(tmp_path):
    """A private redis-server (redis_helpers.RedisServer) for this test."""
    from redis_helpers import RedisServer
    r = RedisServer(tmp_path)
    yield r
    r.stop()
