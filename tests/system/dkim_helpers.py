# tests/system/dkim_helpers.py — a real OpenDKIM (Debian's opendkim) for the
# system tests: a generated signing key and private opendkim daemons on
# loopback ports, configured by the test (test_milter, test_dovecot_acceptance).
import socket
import subprocess

from conftest import free_port, wait_for


def wait_port(port, proc, what, timeout=60):
    def up():
        assert proc.poll() is None, f"{what} exited: {proc.stdout.read() if proc.stdout else ''}"
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0
    wait_for(up, timeout=timeout, what=what)


class OpenDkim:
    """A private opendkim on a loopback port, from a config the test writes."""

    def __init__(self, root, name, **settings):
        self.port = free_port()
        self.name = f"inet:127.0.0.1:{self.port}"
        conf = root / f"{name}.conf"
        lines = {"Socket": f"inet:{self.port}@127.0.0.1", "PidFile": str(root / f"{name}.pid"),
                 "Syslog": "no", "RequireSafeKeys": "false", "UMask": "007", **settings}
        conf.write_text("".join(f"{k} {v}\n" for k, v in lines.items()))
        self.proc = subprocess.Popen(["/usr/sbin/opendkim", "-f", "-x", str(conf)], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        wait_port(self.port, self.proc, f"opendkim {name}")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def signing_key(d, domains, selector="sel"):
    """Generates `selector`'s key under directory d; returns (private key
    file, TestPublicKeys file): the public key as DNS would give it for
    each domain, the TXT record's strings joined."""
    d.mkdir(exist_ok=True)
    subprocess.run(["/usr/sbin/opendkim-genkey", "-D", str(d), "-d", domains[0], "-s", selector], check=True)
    txt = (d / f"{selector}.txt").read_text()
    record = "".join(part for i, part in enumerate(txt.split('"')) if i % 2 == 1)
    (d / "keys").write_text("".join(f"{selector}._domainkey.{dom} {record}\n" for dom in domains))
    return d / f"{selector}.private", d / "keys"
