# tests/system/test_smtp_mta_sts.py — MTA-STS (RFC 8461) in the smtp client:
# "sts:" in smtp_tls_policy_maps. dnsmasq serves example.test's MX
# (mx1.example.test, 127.0.0.2), the `_mta-sts` TXT record and
# mta-sts.example.test (127.0.0.4); a Python HTTPS server there serves the
# policy with a certificate of a test CA (mta_sts_CAfile, mta_sts_port point
# the client at it); TlsScripted on 127.0.0.2 is the MX with a certificate
# for mx1.example.test (or, for the bad-certificate case, for localhost).
import http.server
import shutil
import ssl
import threading

import pytest

from conftest import QTOOL, _traversable_tempdir, free_port
from test_smtp_client import Dnsmasq
from test_smtp_tls import TlsScripted, client, send
from test_tls import _certtool, _make_ca

pytestmark = pytest.mark.skipif(not (shutil.which("certtool") and QTOOL.exists()),
                                reason="certtool or test helpers missing")

ENFORCE = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmx: *.backup.test\r\nmax_age: 86400\r\n"
POLICY_LOG = r"MTA-STS policy of example\.test \(id {id}, {source}\): mode {mode}, mx {mx}, max_age 86400: "


def _cert(d, ca_key, ca, name):
    key, cert, tmpl = d / f"{name}.key", d / f"{name}.pem", d / f"{name}.tmpl"
    tmpl.write_text(f'cn = "{name}"\ndns_name = "{name}"\ntls_www_server\nsigning_key\nencryption_key\n'
                    "expiration_days = 2\n")
    _certtool("--generate-privkey", "--key-type=ecdsa", "--outfile", str(key))
    _certtool("--generate-certificate", "--load-privkey", str(key), "--load-ca-privkey", str(ca_key),
              "--load-ca-certificate", str(ca), "--template", str(tmpl), "--outfile", str(cert))
    return dict(key=key, cert=cert)


@pytest.fixture(scope="module")
def sts_pki():
    d = _traversable_tempdir()
    ca_key, ca = _make_ca(d, "STS Test CA")
    certs = {name: _cert(d, ca_key, ca, name) for name in ("mx1.example.test", "mta-sts.example.test", "localhost")}
    for f in d.iterdir():
        f.chmod(0o644)  # workers run as mail_owner under root (test keys only)
    yield dict(ca=ca, **certs)
    shutil.rmtree(d, ignore_errors=True)


class PolicyServer:
    """HTTPS on 127.0.0.4 serving `policy` at /.well-known/mta-sts.txt as
    text/plain; counts the requests for it."""

    def __init__(self, cert):
        self.policy, self.requests = ENFORCE, 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/.well-known/mta-sts.txt":
                    self.send_error(404)
                    return
                server.requests += 1
                body = server.policy.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.port = free_port("127.0.0.4")
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.4", self.port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert["cert"]), str(cert["key"]))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def policy_server(sts_pki):
    s = PolicyServer(sts_pki["mta-sts.example.test"])
    yield s
    s.stop()


@pytest.fixture
def mx(sts_pki):
    """The MX, mx1.example.test on 127.0.0.2, with a certificate for its name."""
    server = TlsScripted(sts_pki["mx1.example.test"], "tls")
    yield server
    server.stop()


def zone(instance, txt_id="1"):
    d = Dnsmasq([
        "--mx-host=example.test,mx1.example.test,10",
        "--host-record=mx1.example.test,127.0.0.2",
        "--host-record=mta-sts.example.test,127.0.0.4",
        *([f"--txt-record=_mta-sts.example.test,v=STSv1; id={txt_id}"] if txt_id else []),
    ])
    instance.set(dns_servers=f"127.0.0.1:{d.port}", inet_protocols="ipv4")
    return d


@pytest.fixture
def sts_dns(instance):
    started = []

    def start(txt_id="1"):
        started.append(zone(instance, txt_id))
        return started[-1]

    yield start
    for d in started:
        d.stop()


def sts_client(instance, sts_pki, policy_server, **params):
    return client(instance, smtp_tls_policy_maps="sts:", smtp_tls_CAfile=str(sts_pki["ca"]),
                  mta_sts_CAfile=str(sts_pki["ca"]), mta_sts_port=str(policy_server.port), **params)


def test_enforce_with_a_matching_mx_delivers_over_verified_tls(instance, sts_pki, policy_server, mx, sts_dns):
    sts_dns()
    agent = sts_client(instance, sts_pki, policy_server)
    _, r = send(agent, f"example.test:{mx.port}", "u@example.test")
    assert r["status"] == "S", r
    agent.wait_log(POLICY_LOG.format(id=1, source="fetched", mode="enforce", mx=r"mx1\.example\.test \*\.backup\.test")
                   + r"TLS policy secure match=mx1\.example\.test:\.backup\.test servername=hostname")
    agent.wait_log(rf"Verified TLS connection established to mx1\.example\.test\[127\.0\.0\.2\]:{mx.port}: ")
    assert mx.server_names == ["mx1.example.test"]
    assert mx.messages and mx.messages[0][1] is True  # over TLS
    assert agent.postern("cache", "get", "sts:example.test").stdout.startswith("id: 1\n")


def test_enforce_with_an_mx_outside_the_policy_defers(instance, sts_pki, policy_server, mx, sts_dns):
    policy_server.policy = ENFORCE.replace("mx: mx1.example.test", "mx: mx9.example.test")
    sts_dns()
    agent = sts_client(instance, sts_pki, policy_server)
    _, r = send(agent, f"example.test:{mx.port}", "u@example.test")
    assert (r["status"], r["dsn"]) == ("D", "4.7.5"), r
    assert r["reason"] == "MX host mx1.example.test does not match the MTA-STS policy of example.test", r
    assert mx.connections == 0 and not mx.messages


def test_enforce_with_a_certificate_for_another_name_defers(instance, sts_pki, policy_server, sts_dns):
    sts_dns()
    wrong = TlsScripted(sts_pki["localhost"], "tls")
    try:
        agent = sts_client(instance, sts_pki, policy_server)
        _, r = send(agent, f"example.test:{wrong.port}", "u@example.test")
        assert (r["status"], r["dsn"], r["reason"]) == ("D", "4.7.5", "Server certificate not verified"), r
        agent.wait_log(rf"server certificate verification failed for mx1\.example\.test\[127\.0\.0\.2\]:{wrong.port}: "
                       r"certificate does not match mx1\.example\.test, \.backup\.test")
        assert not wrong.messages
    finally:
        wrong.stop()


def test_testing_mode_delivers_and_logs_the_policy(instance, sts_pki, policy_server, mx, sts_dns):
    policy_server.policy = ENFORCE.replace("mode: enforce", "mode: testing").replace("mx1.example", "mx9.example")
    sts_dns()
    agent = sts_client(instance, sts_pki, policy_server, smtp_tls_security_level="may")
    _, r = send(agent, f"example.test:{mx.port}", "u@example.test")
    assert r["status"] == "S", r
    agent.wait_log(POLICY_LOG.format(id=1, source="fetched", mode="testing", mx=r"mx9\.example\.test \*\.backup\.test")
                   + "not enforced")
    agent.wait_log(r"MX host mx1\.example\.test does not match the MTA-STS policy of example\.test "
                   r"\(mode testing: tried all the same\)")
    # may, not secure: the certificate was checked against the CA only.
    agent.wait_log(rf"Trusted TLS connection established to mx1\.example\.test\[127\.0\.0\.2\]:{mx.port}: ")


def test_no_txt_record_means_no_policy(instance, sts_pki, policy_server, sts_dns):
    sts_dns(txt_id=None)
    wrong = TlsScripted(sts_pki["localhost"], "tls")  # enforce would refuse this certificate
    try:
        agent = sts_client(instance, sts_pki, policy_server, smtp_tls_security_level="may")
        _, r = send(agent, f"example.test:{wrong.port}", "u@example.test")
        assert r["status"] == "S", r
        agent.wait_log(rf"Trusted TLS connection established to mx1\.example\.test\[127\.0\.0\.2\]:{wrong.port}: ")
        assert policy_server.requests == 0
        assert "MTA-STS policy of" not in agent.log()
    finally:
        wrong.stop()


def test_a_cached_policy_outlives_a_failed_fetch_and_a_new_id_refetches(instance, sts_pki, policy_server, mx,
                                                                       sts_dns):
    sts_dns()
    agent = sts_client(instance, sts_pki, policy_server, smtp_connection_cache_on_demand="no")
    assert send(agent, f"example.test:{mx.port}", "u@example.test")[1]["status"] == "S"
    assert policy_server.requests == 1
    # The same id: the cached policy, no fetch.
    assert send(agent, f"example.test:{mx.port}", "u@example.test")[1]["status"] == "S"
    agent.wait_log(POLICY_LOG.format(id=1, source="cached", mode="enforce", mx=r"\S+ \S+"))
    assert policy_server.requests == 1
    # A new id while the policy server is down: the cached policy still holds (enforced).
    policy_server.stop()
    sts_dns(txt_id="2")
    agent.reload()
    _, r = send(agent, f"example.test:{mx.port}", "u@example.test")
    assert r["status"] == "S", r
    agent.wait_log(r"warning: MTA-STS: policy fetch for example\.test failed: connect to "
                   rf"mta-sts\.example\.test\[127\.0\.0\.4\]:{policy_server.port}: Connection refused")
    agent.wait_log(POLICY_LOG.format(id=1, source="cached; fetch failed", mode="enforce", mx=r"\S+ \S+") + "TLS policy")
    agent.wait_log(rf"Verified TLS connection established to mx1\.example\.test\[127\.0\.0\.2\]:{mx.port}: ", count=3)


def test_an_explicit_policy_before_sts_wins(instance, sts_pki, policy_server, sts_dns):
    sts_dns()
    wrong = TlsScripted(sts_pki["localhost"], "tls")
    try:
        table = instance.root / "tls_policy"
        table.write_text("example.test may\n")
        agent = sts_client(instance, sts_pki, policy_server)
        agent.set(smtp_tls_policy_maps=f"texthash:{table}, sts:")
        agent.reload()
        assert send(agent, f"example.test:{wrong.port}", "u@example.test")[1]["status"] == "S"
        assert policy_server.requests == 0
    finally:
        wrong.stop()
