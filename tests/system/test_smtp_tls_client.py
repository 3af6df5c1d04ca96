# tests/system/test_smtp_tls_client.py — the smtp client's TLS controls beyond
# the levels of test_smtp_tls.py: the fingerprint level (certificate and
# public key digests, global and per destination), SNI (smtp_tls_servername),
# wrapper mode (port 465 against a postern smtpd in smtpd_tls_wrappermode)
# and smtp_tls_exclude_ciphers. Peers: a second postern, or TlsScripted.
import hashlib
import re
import shutil
import ssl
import subprocess

import pytest

from conftest import QTOOL, Instance, _traversable_tempdir
from test_smtp_client import dns  # noqa: F401 (a fixture)
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
def test_servername_sends_a_fixed_name(instance, pki):
    server = TlsScripted(pki, "tls")
    try:
        agent = client(instance, smtp_tls_security_level="encrypt", smtp_tls_servername="relay.sni.test")
        assert send(agent, f"[127.0.0.2]:{server.port}", "u@x.test")[1]["status"] == "S"
        assert server.server_names == ["relay.sni.test"]
    finally:
        server.stop()


def test_servername_hostname_sends_the_server_name_and_never_an_address(instance, dns, pki):
    server = TlsScripted(pki, "tls")
    try:
        agent = client(instance, smtp_tls_security_level="encrypt", smtp_tls_servername="hostname",
                       smtp_connection_cache_on_demand="no")
        assert send(agent, f"[mx1.example.test]:{server.port}", "u@x.test")[1]["status"] == "S"
        assert send(agent, f"[127.0.0.2]:{server.port}", "u@x.test")[1]["status"] == "S"
        assert server.server_names == ["mx1.example.test", None]
    finally:
        server.stop()


def test_servername_nexthop_sends_the_destination_domain(instance, dns, pki):
    server = TlsScripted(pki, "tls")
    try:
        agent = client(instance, smtp_tls_security_level="encrypt", smtp_tls_servername="nexthop")
        # example.test's best MX is mx1.example.test, 127.0.0.2.
        assert send(agent, f"example.test:{server.port}", "u@example.test")[1]["status"] == "S"
        assert server.server_names == ["example.test"]
    finally:
        server.stop()


def test_policy_servername_overrides_the_default(instance, pki):
    server = TlsScripted(pki, "tls")
    try:
        table = instance.root / "tls_policy"
        table.write_text(f"[127.0.0.2]:{server.port} encrypt servername=from.policy.test\n")
        agent = client(instance, smtp_tls_servername="from.main.cf.test", smtp_tls_policy_maps=f"texthash:{table}")
        assert send(agent, f"[127.0.0.2]:{server.port}", "u@x.test")[1]["status"] == "S"
        assert server.server_names == ["from.policy.test"]
    finally:
        server.stop()


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
