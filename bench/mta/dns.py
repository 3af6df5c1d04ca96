# bench/mta/dns.py — a private DNS for the scenarios that route by MX:
# dnsmasq on port 53 of its own loopback address (127.0.53.N; the system
# resolver's /etc/resolv.conf can name no port) answering from its command
# line only, and the mount namespace that shows an MTA a resolv.conf naming it.
import shutil
import socket
import subprocess
import time
from pathlib import Path

from . import tools


def _free_dns_address():
    for n in range(1, 250):
        addr = f"127.0.53.{n}"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((addr, 53))
                return addr
            except OSError:
                continue
    raise tools.ToolError("no free 127.0.53.N:53 for the bench's dnsmasq")


class PrivateDns:
    """dnsmasq on ADDR:53 with `records` (dnsmasq options such as
    --mx-host=… and --host-record=…); names under `local` it does not know
    are NXDOMAIN. .resolv_conf(dir) writes a resolv.conf naming it."""

    def __init__(self, records, local=("example",)):
        binary = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
        self.address = _free_dns_address()
        self.proc = subprocess.Popen(
            [binary, "--no-daemon", "--port=53", f"--listen-address={self.address}", "--bind-interfaces",
             "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=", "--user=root",
             *[f"--local=/{d}/" for d in local], *records],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not self._ready():
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
            self.close()
            raise tools.ToolError(f"dnsmasq on {self.address}:53 did not answer: {err.strip()[-300:]}")

    def _ready(self):
        q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05probe\x07example\x00\x00\x01\x00\x01"
        end = time.monotonic() + 10
        while time.monotonic() < end and self.proc.poll() is None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.2)
                try:
                    s.sendto(q, (self.address, 53))
                    s.recv(512)
                    return True
                except OSError:
                    pass
        return False

    def resolv_conf(self, directory):
        path = Path(directory) / "resolv.conf"
        path.write_text(f"nameserver {self.address}\noptions attempts:2 timeout:1\n")
        path.chmod(0o644)
        return path

    def close(self):
        tools.stop_process(self.proc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def in_namespace(mounts, argv):
    """argv run in a private mount namespace where each (source, target)
    directory or file is bind-mounted first: the MTA sees its private spool,
    run directory or resolv.conf at the path compiled into it, and nothing
    outside it changes. Children it forks (daemons) stay in the namespace."""
    script = " && ".join(f'mount --bind "{src}" "{dst}"' for src, dst in mounts)
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            (script + " && " if script else "") + 'exec "$@"', "sh", *map(str, argv)]
