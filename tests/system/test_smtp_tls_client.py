# tests/system/test_smtp_tls_client.py — the smtp client's TLS controls beyond
# the levels of test_smtp_tls.py: the fingerprint level (certificate and
# public key digests, global and per destination), SNI (smtp_tls_servername),
# wrapper mode (port 465 against a postern smtpd in smtpd_tls_wrappermode),
# smtp_tls_exclude_ciphers, session resumption through
# smtp_tls_session_cache_database, and DANE (TLSA records from a DNS stand-in
# that sets the AD bit as a validating resolver would). Peers: a second
# postern, or TlsScripted.
import hashlib
import re
import shutil
import socket
import ssl
import subprocess
import threading

import pytest

from conftest import BIN, QTOOL, Instance, _traversable_tempdir, wait_for
from test_smtp_client import Sink, dns  # noqa: F401 (dns is a fixture)
from test_smtp_tls import CIPHER, TlsScripted, client, receiver, send  # noqa: F401 (receiver is a fixture)
from test_tls import pki, start_tls_smtpd  # noqa: F401 (pki is a fixture)

pytestmark = pytest.mark.skipif(not (shutil.which("certtool") and QTOOL.exists()),
                                reason="certtool or test helpers missing")


def cert_fingerprint(pki):
    der = ssl.PEM_cert_to_DER_cert(pki["cert"].read_text())
    return hashlib.sha256(der).hexdigest()


def pubkey_fingerprint(pki):
    der = subprocess.run(["certtool", "--pubkey-info", "--load-certificate", str(pki["cert"]), "--outder"],
                         check=True, capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


def colons(hexdigest):
    return ":".join(hexdigest[i:i + 2] for i in range(0, len(hexdigest), 2)).upper()


# --- fingerprint ---------------------------------------------------------------
def test_fingerprint_level_accepts_the_certificate_digest_without_a_ca(instance, receiver, pki):
    agent = client(instance, smtp_tls_security_level="fingerprint",
                   smtp_tls_fingerprint_cert_match=f"00:11:22, {cert_fingerprint(pki)}")
    msg, r = send(agent, f"[127.0.0.1]:{receiver.port}")
    assert r["status"] == "S", r
    agent.wait_log(rf"Verified TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:{receiver.port}: {CIPHER}")
    assert len(receiver.queue()) == 1


def test_fingerprint_policy_entry_accepts_the_public_key_digest(instance, receiver, pki):
    table = instance.root / "tls_policy"
    table.write_text(f"[127.0.0.1]:{receiver.port} fingerprint match=00:11:22|{colons(pubkey_fingerprint(pki))}\n")
    agent = client(instance, smtp_tls_policy_maps=f"texthash:{table}")
    assert send(agent, f"[127.0.0.1]:{receiver.port}")[1]["status"] == "S"
    agent.wait_log(rf"Verified TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:{receiver.port}")


def test_fingerprint_mismatch_defers_as_not_verified(instance, receiver, pki):
    wrong = hashlib.sha256(b"another certificate").hexdigest()
    agent = client(instance, smtp_tls_security_level="fingerprint", smtp_tls_fingerprint_cert_match=wrong)
    _, r = send(agent, f"[127.0.0.1]:{receiver.port}")
    assert (r["status"], r["dsn"], r["reason"]) == ("D", "4.7.5", "Server certificate not verified"), r
    agent.wait_log(rf"certificate verification failed for 127\.0\.0\.1\[127\.0\.0\.1\]:{receiver.port}: "
                   rf"no fingerprint match: certificate sha256 {colons(cert_fingerprint(pki))}, public key sha256 "
                   rf"{colons(pubkey_fingerprint(pki))}")
    assert not receiver.queue()


# --- SNI -------------------------------------------------------------------------
@pytest.fixture
def tls_peer(pki):
    """TlsScripted on 127.0.0.2 with plain STARTTLS, recording SNI names."""
    server = TlsScripted(pki, "tls")
    yield server
    server.stop()


def test_servername_sends_a_fixed_name(instance, tls_peer):
    agent = client(instance, smtp_tls_security_level="encrypt", smtp_tls_servername="relay.sni.test")
    assert send(agent, f"[127.0.0.2]:{tls_peer.port}", "u@x.test")[1]["status"] == "S"
    assert tls_peer.server_names == ["relay.sni.test"]


def test_servername_hostname_sends_the_server_name_and_never_an_address(instance, dns, tls_peer):
    agent = client(instance, smtp_tls_security_level="encrypt", smtp_tls_servername="hostname",
                   smtp_connection_cache_on_demand="no")
    assert send(agent, f"[mx1.example.test]:{tls_peer.port}", "u@x.test")[1]["status"] == "S"
    assert send(agent, f"[127.0.0.2]:{tls_peer.port}", "u@x.test")[1]["status"] == "S"
    assert tls_peer.server_names == ["mx1.example.test", None]


def test_servername_nexthop_sends_the_destination_domain(instance, dns, tls_peer):
    agent = client(instance, smtp_tls_security_level="encrypt", smtp_tls_servername="nexthop")
    # example.test's best MX is mx1.example.test, 127.0.0.2.
    assert send(agent, f"example.test:{tls_peer.port}", "u@example.test")[1]["status"] == "S"
    assert tls_peer.server_names == ["example.test"]


def test_policy_servername_overrides_the_default(instance, tls_peer):
    table = instance.root / "tls_policy"
    table.write_text(f"[127.0.0.2]:{tls_peer.port} encrypt servername=from.policy.test\n")
    agent = client(instance, smtp_tls_servername="from.main.cf.test", smtp_tls_policy_maps=f"texthash:{table}")
    assert send(agent, f"[127.0.0.2]:{tls_peer.port}", "u@x.test")[1]["status"] == "S"
    assert tls_peer.server_names == ["from.policy.test"]


# --- wrapper mode and ciphers ------------------------------------------------------
def test_wrappermode_delivers_to_an_smtps_port(instance, pki):
    inst = Instance(_traversable_tempdir())
    try:
        smtps = start_tls_smtpd(inst, pki, master_opts="-o smtpd_tls_wrappermode=yes")
        # The level stays at its default (none): wrapper mode raises it to encrypt.
        agent = client(instance, smtp_tls_wrappermode="yes")
        assert send(agent, f"[127.0.0.1]:{smtps.port}")[1]["status"] == "S"
        agent.wait_log(r'smtp_tls_wrappermode requires "smtp_tls_security_level = encrypt" \(or stronger\)')
        agent.wait_log(rf"Untrusted TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:{smtps.port}: {CIPHER}")
        [m] = smtps.queue()
        assert re.search(rb"with ESMTPS id", m["body"]), m["body"][:400]
    finally:
        inst.cleanup()
        shutil.rmtree(inst.root, ignore_errors=True)


def test_exclude_ciphers_leaves_what_remains(instance, receiver, pki):
    agent = client(instance, smtp_tls_security_level="encrypt", smtp_tls_exclude_ciphers="AES256, CHACHA20")
    assert send(agent, f"[127.0.0.1]:{receiver.port}")[1]["status"] == "S"
    agent.wait_log(r"TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: "
                   r"TLSv1\.3 with cipher TLS_AES_128_GCM_SHA256 \(128/128 bits\)")


def test_mandatory_exclude_ciphers_apply_where_tls_is_required(instance, receiver, pki):
    table = instance.root / "tls_policy"
    table.write_text(f"[127.0.0.1]:{receiver.port} encrypt exclude=AES128\n")
    agent = client(instance, smtp_tls_mandatory_exclude_ciphers="AES256", smtp_tls_policy_maps=f"texthash:{table}")
    assert send(agent, f"[127.0.0.1]:{receiver.port}")[1]["status"] == "S"
    agent.wait_log(r"TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: "
                   r"TLSv1\.3 with cipher TLS_CHACHA20_POLY1305_SHA256 \(256/256 bits\)")


# --- session resumption --------------------------------------------------------------
def test_session_cache_resumes_in_another_smtp_process(instance, receiver, pki):
    """Each request gets a fresh smtp process (max_use=1) and a fresh
    connection: the second resumes the session the first saved in the
    shared LMDB cache, and the certificate is still verified."""
    instance.set(smtp_tls_loglevel="2", smtp_tls_security_level="verify", smtp_tls_CAfile=str(pki["ca"]),
                 smtp_connection_cache_on_demand="no",
                 smtp_tls_session_cache_database=f"btree:{instance.queue_dir}/smtp_scache")
    instance.add_service("smtp unix - - n - - smtp -o max_use=1")
    instance.start()
    wait_for(lambda: (instance.queue_dir / "private" / "smtp").exists(), what="private/smtp")
    nexthop = f"[127.0.0.1]:{receiver.port}"
    assert send(instance, nexthop)[1]["status"] == "S"
    assert send(instance, nexthop)[1]["status"] == "S"
    relay = rf"127\.0\.0\.1\[127\.0\.0\.1\]:{receiver.port}"
    first = instance.wait_log(rf"smtp\[(\d+)\]: Verified TLS connection established to {relay}")
    reused = instance.wait_log(rf"smtp\[(\d+)\]: {relay}: Reusing old session")
    instance.wait_log(rf"Verified TLS connection established to {relay}", count=2)
    assert first.group(1) != reused.group(1), "both deliveries ran in one smtp process"
    assert len(re.findall(r"Reusing old session", instance.log())) == 1
    receiver.instance.wait_log(r"Anonymous TLS connection established from \S+: .* \(session resumed\)")
    assert (instance.queue_dir / "smtp_scache.lmdb").exists()
    assert len(receiver.queue()) == 2


# --- DANE ------------------------------------------------------------------------------
class ValidatingDns:
    """A stand-in for a validating resolver on 127.0.0.1: answers from
    `records` ({(name, type): [rdata text]}) and sets the AD bit when `ad`,
    as a resolver does for what it validated, except on the answers named in
    `insecure` ({(name, type)}). Unknown names: NXDOMAIN."""

    def __init__(self, records, ad=True, insecure=()):
        import dns.flags
        import dns.message
        import dns.rcode
        import dns.rdatatype
        import dns.rrset
        self.records, self.ad = records, ad
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        names = {name for name, _ in records}

        def serve():
            while True:
                try:
                    data, peer = self.sock.recvfrom(4096)
                except OSError:
                    return
                q = dns.message.from_wire(data)
                r = dns.message.make_response(q)
                question = q.question[0]
                name = question.name.to_text().lower()
                found = records.get((name, dns.rdatatype.to_text(question.rdtype)))
                if found:
                    r.answer.append(dns.rrset.from_text_list(question.name, 300, "IN", question.rdtype, found))
                elif name not in names:
                    r.set_rcode(dns.rcode.NXDOMAIN)
                if self.ad and (name, dns.rdatatype.to_text(question.rdtype)) not in insecure:
                    r.flags |= dns.flags.AD
                self.sock.sendto(r.to_wire(), peer)

        threading.Thread(target=serve, daemon=True).start()

    def stop(self):
        self.sock.close()


@pytest.fixture
def dane_peer(instance, tls_peer):
    """TlsScripted on 127.0.0.2 as mx1.example.test, the MX of example.test,
    and a function that starts the DNS stand-in with the given TLSA records."""
    server = tls_peer
    started = []

    def zone(tlsa, ad=True, insecure=()):
        d = ValidatingDns({
            ("example.test.", "MX"): ["10 mx1.example.test."],
            ("mx1.example.test.", "A"): ["127.0.0.2"],
            **({(f"_{server.port}._tcp.mx1.example.test.", "TLSA"): tlsa} if tlsa else {}),
        }, ad=ad, insecure=insecure)
        started.append(d)
        instance.set(dns_servers=f"127.0.0.1:{d.port}", inet_protocols="ipv4")
        return d

    yield server, zone
    for d in started:
        d.stop()


def dane_client(instance, level="dane", **params):
    return client(instance, smtp_tls_security_level=level, smtp_dns_support_level="dnssec", **params)


def test_dane_ee_record_authenticates_the_server(instance, pki, dane_peer):
    server, zone = dane_peer
    zone([f"3 1 1 {pubkey_fingerprint(pki)}"])
    agent = dane_client(instance)
    assert send(agent, f"example.test:{server.port}", "u@example.test")[1]["status"] == "S"
    agent.wait_log(rf"Verified TLS connection established to mx1\.example\.test\[127\.0\.0\.2\]:{server.port}: ")
    assert server.server_names == ["mx1.example.test"]  # SNI: the TLSA base domain
    assert server.messages and server.messages[0][1] is True


def test_dane_record_that_does_not_match_defers(instance, pki, dane_peer):
    server, zone = dane_peer
    zone([f"3 1 1 {hashlib.sha256(b'another key').hexdigest()}"])
    agent = dane_client(instance)
    _, r = send(agent, f"example.test:{server.port}", "u@example.test")
    assert (r["status"], r["dsn"], r["reason"]) == ("D", "4.7.5", "Server certificate not verified"), r
    agent.wait_log(rf"certificate verification failed for mx1\.example\.test\[127\.0\.0\.2\]:{server.port}: "
                   r"no TLSA record matches the server certificate chain")
    assert not server.messages


def test_dane_without_validated_answers_falls_back_to_may(instance, pki, dane_peer):
    server, zone = dane_peer
    zone([f"3 1 1 {hashlib.sha256(b'another key').hexdigest()}"], ad=False)
    agent = dane_client(instance)
    # The mismatching record was not validated: it is not believed, and TLS is opportunistic.
    assert send(agent, f"example.test:{server.port}", "u@example.test")[1]["status"] == "S"
    agent.wait_log(rf"Untrusted TLS connection established to mx1\.example\.test\[127\.0\.0\.2\]:{server.port}: ")


def test_dane_only_without_tlsa_records_defers(instance, pki, dane_peer):
    server, zone = dane_peer
    zone([])
    agent = dane_client(instance, level="dane-only")
    _, r = send(agent, f"example.test:{server.port}", "u@example.test")
    assert (r["status"], r["dsn"]) == ("D", "4.7.5"), r
    assert r["reason"] == ("TLS is required, but no DNSSEC-validated TLSA records were found for host "
                           "mx1.example.test[127.0.0.2] (TLS security level dane-only)"), r
    assert not server.messages


def test_dane_needs_dnssec_support_level(instance):
    sink = Sink("127.0.0.2")
    try:
        table = instance.root / "tls_policy"
        table.write_text(f"[127.0.0.2]:{sink.port} dane\n")
        agent = client(instance, smtp_tls_policy_maps=f"texthash:{table}")
        assert send(agent, f"[127.0.0.2]:{sink.port}", "u@x.test")[1]["status"] == "S"
        agent.wait_log(r"warning: TLS security level dane for 127\.0\.0\.2 requires smtp_dns_support_level = dnssec; "
                       r"using may")
    finally:
        sink.stop()


# --- smtp_tls_dane_insecure_mx_policy ---------------------------------------------------
INSECURE_MX = {("example.test.", "MX")}  # the MX answer is not validated; address and TLSA records are


def expanded(instance, name):
    """The parameter's value as postconf -x shows it (main.cf, else the default)."""
    return subprocess.run([str(BIN / "postconf"), "-c", str(instance.config_dir), "-x", "-h", name],
                          check=True, capture_output=True, text=True).stdout.strip()


def test_insecure_mx_default_policy_dane_authenticates_but_says_trusted(instance, pki, dane_peer):
    server, zone = dane_peer
    zone([f"3 1 1 {pubkey_fingerprint(pki)}"], insecure=INSECURE_MX)
    agent = dane_client(instance)  # level dane in main.cf: the default policy is dane
    assert expanded(agent, "smtp_tls_dane_insecure_mx_policy") == "dane"
    assert send(agent, f"example.test:{server.port}", "u@example.test")[1]["status"] == "S"
    agent.wait_log(rf"Trusted TLS connection established to mx1\.example\.test\[127\.0\.0\.2\]:{server.port}: ")
    assert "Verified TLS connection" not in agent.log()


def test_insecure_mx_policy_dane_defers_a_mismatch(instance, pki, dane_peer):
    server, zone = dane_peer
    zone([f"3 1 1 {hashlib.sha256(b'another key').hexdigest()}"], insecure=INSECURE_MX)
    agent = dane_client(instance, smtp_tls_dane_insecure_mx_policy="dane")
    _, r = send(agent, f"example.test:{server.port}", "u@example.test")
    assert (r["status"], r["dsn"], r["reason"]) == ("D", "4.7.5", "Server certificate not verified"), r
    assert not server.messages


def test_insecure_mx_policy_encrypt_requires_tls_without_authentication(instance, pki, dane_peer):
    server, zone = dane_peer
    zone([f"3 1 1 {hashlib.sha256(b'another key').hexdigest()}"], insecure=INSECURE_MX)
    agent = dane_client(instance, smtp_tls_dane_insecure_mx_policy="encrypt", smtp_tls_loglevel="2")
    assert send(agent, f"example.test:{server.port}", "u@example.test")[1]["status"] == "S"
    agent.wait_log(r"MX record of example\.test not DNSSEC-validated: TLSA records require encryption, "
                   r"not authentication")
    agent.wait_log(rf"Untrusted TLS connection established to mx1\.example\.test\[127\.0\.0\.2\]:{server.port}: ")
    assert server.messages and server.messages[0][1] is True


def test_insecure_mx_policy_encrypt_defers_a_server_without_starttls(instance, pki):
    sink = Sink("127.0.0.2")
    d = ValidatingDns({
        ("example.test.", "MX"): ["10 mx1.example.test."],
        ("mx1.example.test.", "A"): ["127.0.0.2"],
        (f"_{sink.port}._tcp.mx1.example.test.", "TLSA"): ["3 1 1 " + "00" * 32],
    }, insecure=INSECURE_MX)
    try:
        instance.set(dns_servers=f"127.0.0.1:{d.port}", inet_protocols="ipv4")
        agent = dane_client(instance, smtp_tls_dane_insecure_mx_policy="encrypt")
        _, r = send(agent, f"example.test:{sink.port}", "u@example.test")
        assert (r["status"], r["dsn"], r["reason"]) == (
            "D", "4.7.4", "TLS is required, but was not offered by host mx1.example.test[127.0.0.2]"), r
        assert not sink.messages
    finally:
        d.stop()
        sink.stop()


def test_insecure_mx_policy_may_ignores_the_tlsa_records(instance, pki, dane_peer):
    server, zone = dane_peer
    zone([f"3 1 1 {hashlib.sha256(b'another key').hexdigest()}"], insecure=INSECURE_MX)
    # A dane entry in a policy table with main.cf's level may: the default policy is may.
    table = instance.root / "tls_policy"
    table.write_text("example.test dane\n")
    agent = client(instance, smtp_dns_support_level="dnssec", smtp_tls_policy_maps=f"texthash:{table}",
                   smtp_tls_loglevel="2")
    assert expanded(agent, "smtp_tls_dane_insecure_mx_policy") == "may"
    assert send(agent, f"example.test:{server.port}", "u@example.test")[1]["status"] == "S"
    agent.wait_log(r"MX record of example\.test not DNSSEC-validated: TLSA records ignored")
    agent.wait_log(rf"Untrusted TLS connection established to mx1\.example\.test\[127\.0\.0\.2\]:{server.port}: ")
