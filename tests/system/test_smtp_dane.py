# tests/system/test_smtp_dane.py — DANE (RFC 7672) end to end with a real
# validating resolver: ldns-keygen and ldns-signzone sign the zone dane.test
# (its MX, the MX hosts' addresses and TLSA records for the test server's
# port), nsd serves it and the unsigned zone plain.test on a loopback port,
# and unbound on another loopback port validates dane.test with the zone's
# key as its trust anchor (everything else is insecure: no other anchor).
# The smtp client asks unbound (dns_servers), believes its AD bit
# (smtp_dns_support_level = dnssec) and delivers to TlsScripted on 127.0.0.2
# with the test certificate. Debian packages: unbound, nsd, ldnsutils.
import hashlib
import shutil
import socket
import subprocess
import time

import pytest

from conftest import QTOOL, _traversable_tempdir
from test_smtp_tls import TlsScripted, client, send
from test_smtp_tls_client import pubkey_fingerprint
from test_tls import pki  # noqa: F401 (pki is a fixture)

TOOLS = ("unbound", "nsd", "ldns-keygen", "ldns-signzone", "certtool")
pytestmark = pytest.mark.skipif(not (all(shutil.which(t) or shutil.which(t, path="/usr/sbin") for t in TOOLS)
                                     and QTOOL.exists()),
                                reason="unbound, nsd, ldnsutils or certtool missing (scripts/install-deps)")


def tool(name):
    return shutil.which(name) or shutil.which(name, path="/usr/sbin")


def udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def zones(port, good_key):
    """dane.test: mx1 has a matching DANE-EE record, mx2 (the MX of
    bad.dane.test) one that matches nothing. plain.test: unsigned, with a
    mismatching record that must not count."""
    wrong = hashlib.sha256(b"another key").hexdigest()
    head = "$TTL 300\n@ IN SOA ns admin 1 3600 600 86400 300\n@ IN NS ns\nns IN A 127.0.0.1\n"
    dane = (f"$ORIGIN dane.test.\n{head}@ IN MX 10 mx1\nmx1 IN A 127.0.0.2\n"
            f"_{port}._tcp.mx1 IN TLSA 3 1 1 {good_key}\n"
            f"bad IN MX 10 mx2\nmx2 IN A 127.0.0.2\n_{port}._tcp.mx2 IN TLSA 3 1 1 {wrong}\n")
    plain = (f"$ORIGIN plain.test.\n{head}@ IN MX 10 mx1\nmx1 IN A 127.0.0.2\n"
             f"_{port}._tcp.mx1 IN TLSA 3 1 1 {wrong}\n")
    return dane, plain


class SignedDns:
    """nsd with the signed and the unsigned zone, unbound validating in front."""

    def __init__(self, d, smtp_port, good_key):
        self.dir, self.procs = d, []
        dane, plain = zones(smtp_port, good_key)
        (d / "dane.test.zone").write_text(dane)
        (d / "plain.test.zone").write_text(plain)
        key = subprocess.run([tool("ldns-keygen"), "-a", "ECDSAP256SHA256", "-k", "dane.test"], cwd=d, check=True,
                             capture_output=True, text=True).stdout.strip()
        subprocess.run([tool("ldns-signzone"), "dane.test.zone", key], cwd=d, check=True, capture_output=True)
        nsd_port, self.port = udp_port(), udp_port()
        (d / "nsd.conf").write_text(
            f'server:\n  ip-address: 127.0.0.1@{nsd_port}\n  do-ip6: no\n  username: ""\n  chroot: ""\n'
            f'  zonesdir: "{d}"\n  database: ""\n  pidfile: "{d}/nsd.pid"\n  logfile: "{d}/nsd.log"\n'
            f'  xfrdfile: "{d}/xfrd.state"\n  xfrdir: "{d}"\n  zonelistfile: "{d}/zone.list"\n  server-count: 1\n'
            "remote-control:\n  control-enable: no\n"
            "zone:\n  name: dane.test\n  zonefile: dane.test.zone.signed\n"
            "zone:\n  name: plain.test\n  zonefile: plain.test.zone\n")
        stubs = "".join(f'stub-zone:\n  name: "{z}."\n  stub-addr: 127.0.0.1@{nsd_port}\n'
                        for z in ("dane.test", "plain.test"))
        (d / "unbound.conf").write_text(
            f'server:\n  interface: 127.0.0.1\n  port: {self.port}\n  do-ip6: no\n  username: ""\n  chroot: ""\n'
            f'  directory: "{d}"\n  pidfile: "{d}/unbound.pid"\n  use-syslog: no\n  logfile: "{d}/unbound.log"\n'
            "  verbosity: 1\n  val-log-level: 2\n  num-threads: 1\n  do-not-query-localhost: no\n"
            '  access-control: 127.0.0.0/8 allow\n  module-config: "validator iterator"\n'
            f'  local-zone: "test." nodefault\n  trust-anchor-file: "{d}/{key}.key"\n'
            f"{stubs}remote-control:\n  control-enable: no\n")
        self.procs.append(subprocess.Popen([tool("nsd"), "-d", "-c", str(d / "nsd.conf")],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self.procs.append(subprocess.Popen([tool("unbound"), "-d", "-c", str(d / "unbound.conf")],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self._wait_validated()

    def _wait_validated(self):
        import dns.exception
        import dns.flags
        import dns.message
        import dns.query
        end = time.monotonic() + 30
        while time.monotonic() < end:
            q = dns.message.make_query("mx1.dane.test", "A")
            q.flags |= dns.flags.AD
            try:
                r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=1)
                if r.flags & dns.flags.AD and r.answer:
                    return
            except (OSError, dns.exception.Timeout):
                pass
            time.sleep(0.2)
        log = (self.dir / "unbound.log").read_text() if (self.dir / "unbound.log").exists() else ""
        raise AssertionError("unbound did not validate mx1.dane.test: " + log[-2000:])

    def stop(self):
        for p in self.procs:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="module")
def signed(pki):
    """The MX server and the validating DNS in front of its signed zone."""
    server = TlsScripted(pki, "tls")
    d = _traversable_tempdir()
    dns_ = SignedDns(d, server.port, pubkey_fingerprint(pki))
    yield server, dns_
    dns_.stop()
    server.stop()
    shutil.rmtree(d, ignore_errors=True)


def dane_agent(instance, signed, level="dane"):
    server, dns_ = signed
    instance.set(dns_servers=f"127.0.0.1:{dns_.port}", inet_protocols="ipv4")
    return client(instance, smtp_tls_security_level=level, smtp_dns_support_level="dnssec")


def test_signed_matching_tlsa_record_is_verified(instance, signed):
    server, _ = signed
    before = len(server.messages)
    agent = dane_agent(instance, signed)
    assert send(agent, f"dane.test:{server.port}", "u@dane.test")[1]["status"] == "S"
    agent.wait_log(rf"Verified TLS connection established to mx1\.dane\.test\[127\.0\.0\.2\]:{server.port}: ")
    assert len(server.messages) == before + 1 and server.messages[-1][1] is True


def test_signed_mismatching_tlsa_record_defers(instance, signed):
    server, _ = signed
    before = len(server.messages)
    agent = dane_agent(instance, signed)
    _, r = send(agent, f"bad.dane.test:{server.port}", "u@bad.dane.test")
    assert (r["status"], r["dsn"], r["reason"]) == ("D", "4.7.5", "Server certificate not verified"), r
    agent.wait_log(rf"certificate verification failed for mx2\.dane\.test\[127\.0\.0\.2\]:{server.port}: "
                   r"no TLSA record matches the server certificate chain")
    assert len(server.messages) == before


def test_unsigned_zone_is_opportunistic(instance, signed):
    server, _ = signed
    before = len(server.messages)
    agent = dane_agent(instance, signed)
    # Its TLSA record matches nothing, but nothing in plain.test is validated: may.
    assert send(agent, f"plain.test:{server.port}", "u@plain.test")[1]["status"] == "S"
    agent.wait_log(rf"Untrusted TLS connection established to mx1\.plain\.test\[127\.0\.0\.2\]:{server.port}: ")
    assert len(server.messages) == before + 1


def test_dane_only_refuses_the_unsigned_zone(instance, signed):
    server, _ = signed
    agent = dane_agent(instance, signed, level="dane-only")
    _, r = send(agent, f"plain.test:{server.port}", "u@plain.test")
    assert (r["status"], r["dsn"]) == ("D", "4.7.5"), r
    assert r["reason"] == ("TLS is required, but the DNS records of host mx1.plain.test[127.0.0.2] are not "
                           "DNSSEC-validated (TLS security level dane-only)"), r
