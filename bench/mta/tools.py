# bench/mta/tools.py — Postfix's own load tools (smtp-source, smtp-sink) and
# the Debian trees the MTAs come from: `apt-get download` + `dpkg-deb -x`
# into build/<mta> once, never `apt-get install` (nothing touches /etc).
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
POSTFIX_ROOT = REPO / "build" / "postfix"
POSTFIX_LIB = POSTFIX_ROOT / "usr" / "lib" / "postfix"
SMTP_SOURCE = POSTFIX_ROOT / "usr" / "sbin" / "smtp-source"
SMTP_SINK = POSTFIX_ROOT / "usr" / "sbin" / "smtp-sink"
# smtp-sink refuses to run as root without a user to drop to; install-deps
# creates this one.
UNPRIV_USER = "postern"


class ToolError(RuntimeError):
    pass


def fetch_deb(packages, root, needed, log=print):
    """Extracts Debian's `packages` (`apt-get download` + `dpkg-deb -x`, never
    installed) into `root` (cached: a tree with `needed` already there is
    reused). Raises ToolError when a package cannot be downloaded."""
    root = Path(root)
    if (root / ".extracted").exists() and (root / needed).exists():
        return root
    with tempfile.TemporaryDirectory(prefix="postern-bench-deb-") as d:
        os.chmod(d, 0o755)  # apt's _apt user writes the download here
        r = subprocess.run(["apt-get", "download", *packages], cwd=d, capture_output=True, text=True)
        debs = sorted(Path(d).glob("*.deb"))
        if r.returncode != 0 or len(debs) < len(packages):
            raise ToolError(f"apt-get download {' '.join(packages)} failed: {r.stderr.strip()[-300:]}")
        tmp = root.with_name(root.name + ".tmp")
        subprocess.run(["rm", "-rf", str(tmp)], check=True)
        tmp.mkdir(parents=True)
        for deb in debs:
            subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)], check=True)
        (tmp / ".extracted").write_text("".join(deb.name + "\n" for deb in debs))
        subprocess.run(["rm", "-rf", str(root)], check=True)
        tmp.rename(root)
        log(f"bench: extracted {', '.join(deb.name for deb in debs)} into {root}")
    return root


def deb_version(root):
    try:
        return (Path(root) / ".extracted").read_text().strip().replace("\n", ", ")
    except OSError:
        return "unknown"


def fetch_postfix(log=print):
    """Debian's postfix package in build/postfix: the peer and the load tools."""
    return fetch_deb(["postfix"], POSTFIX_ROOT, "usr/sbin/smtp-source", log)


def postfix_version():
    return deb_version(POSTFIX_ROOT)


def tool_env():
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = str(POSTFIX_LIB)
    return env


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0, host="127.0.0.1"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    raise ToolError(f"nothing listens on {host}:{port} after {timeout}s")


def self_signed(directory, name):
    """A self-signed certificate and key for `name` (EC P-256) in directory:
    returns (cert path, key path)."""
    cert, key = Path(directory) / f"{name}.crt", Path(directory) / f"{name}.key"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
                        "-keyout", str(key), "-out", str(cert)], capture_output=True, text=True)
    if r.returncode != 0:
        raise ToolError(f"openssl req failed: {r.stderr.strip()[-300:]}")
    cert.chmod(0o644)
    key.chmod(0o644)  # private test key, read by MTA workers that run unprivileged
    return cert, key


class NoopMilter:
    """bench/milter_noop.py on a free port: a milter that answers every event with continue."""

    def __init__(self):
        self.port = free_port()
        self.name = f"inet:127.0.0.1:{self.port}"
        script = Path(__file__).resolve().parent.parent / "milter_noop.py"
        self.proc = subprocess.Popen(["/usr/bin/python3", str(script), str(self.port)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SmtpSink:
    """smtp-sink on a free port with running counters (-c); .messages() is
    the number of messages it has received so far."""

    def __init__(self, backlog=1024):
        self.port = free_port()
        argv = [str(SMTP_SINK), "-c"]
        if os.geteuid() == 0:
            argv += ["-u", UNPRIV_USER]
        argv += [f"127.0.0.1:{self.port}", str(backlog)]
        self.proc = subprocess.Popen(argv, env=tool_env(), stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self._count = 0
        self._cv = threading.Condition()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()
        wait_port(self.port)

    def _read(self):
        # Counters are rewritten in place: "sess=N quit=N mesg=N\r".
        buf = b""
        rx = re.compile(rb"mesg=(\d+)")
        while True:
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                return
            buf = (buf + chunk)[-256:]
            hits = rx.findall(buf)
            if hits:
                with self._cv:
                    self._count = int(hits[-1])
                    self._cv.notify_all()

    def messages(self):
        with self._cv:
            return self._count

    def wait_messages(self, n, timeout):
        """Waits until n messages arrived; returns the monotonic time they
        had (or None on timeout)."""
        end = time.monotonic() + timeout
        with self._cv:
            while self._count < n:
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self._cv.wait(min(left, 0.5))
            return time.monotonic()

    def close(self):
        stop_process(self.proc)


def stop_process(proc, grace=5):
    """SIGTERM, then SIGKILL after `grace` seconds; reaped either way."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def smtp_source(port, messages, sessions=20, size=4096, timeout=600, rcpt="bench@relay.example"):
    """Runs smtp-source (-d: many messages per session) against 127.0.0.1:port;
    returns (seconds, stderr)."""
    argv = [str(SMTP_SOURCE), "-s", str(sessions), "-d", "-l", str(size), "-m", str(messages),
            "-f", "source@bench.example", "-t", rcpt, "-M", "bench.example", f"127.0.0.1:{port}"]
    t0 = time.monotonic()
    r = subprocess.run(argv, env=tool_env(), capture_output=True, text=True, timeout=timeout)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        raise ToolError(f"smtp-source failed ({r.returncode}): {r.stderr.strip()[-400:]}")
    return dt, r.stderr


def smtp_source_parallel(port, messages, processes=1, sessions=20, size=4096, timeout=600):
    """`processes` smtp-source processes at once, each with `sessions`
    sessions, sharing `messages` between them (one process alone is bound by
    its own CPU before a fast MTA is); returns the seconds until the last one
    finished."""
    share = [messages // processes + (1 if i < messages % processes else 0) for i in range(processes)]
    procs = []
    t0 = time.monotonic()
    for m in share:
        if m == 0:
            continue
        argv = [str(SMTP_SOURCE), "-s", str(sessions), "-d", "-l", str(size), "-m", str(m),
                "-f", "source@bench.example", "-t", "bench@relay.example", "-M", "bench.example",
                f"127.0.0.1:{port}"]
        procs.append(subprocess.Popen(argv, env=tool_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True))
    failed = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=max(1.0, t0 + timeout - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
            failed.append(f"timed out after {timeout}s")
            continue
        if p.returncode != 0:
            failed.append(f"exit {p.returncode}: {err.strip()[-300:]}")
    dt = time.monotonic() - t0
    if failed:
        raise ToolError("smtp-source failed: " + "; ".join(failed))
    return dt
