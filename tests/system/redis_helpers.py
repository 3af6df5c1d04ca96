"""A private redis-server on a loopback port (Debian's redis-server: no
persistence, loopback only) for the tests of the policy cache on Redis; the
`redis` fixture in conftest.py starts one per test."""
import shutil
import socket
import subprocess

from conftest import free_port, wait_for

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def pong(port):
    """The server on port answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
            c.sendall(b"PING\r\n")
            return c.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A private redis-server that a test may stop and start again on the same port."""

    def __init__(self, tmp):
        self.port = free_port()
        self.dir = tmp
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: pong(self.port), timeout=10, what="redis-server")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
