# tests/system/test_dovecot_acceptance.py — the acceptance configuration
# (data/debian-dovecot-main.cf + master.cf: Postfix + Dovecot + OpenDKIM +
# postgrey as Debian/Ubuntu servers run it): `postern check` has nothing to
# say but Debian's stock pipe accounts; mail from the Internet is greylisted
# by a real postgrey, then lands in a real Dovecot's Maildir over LMTP; a
# submission client logs in through Dovecot's auth socket over TLS, and what
# it sends out is signed by a real OpenDKIM, whose signature the same
# OpenDKIM (Debian's default mode sv) verifies when it comes back in.
import re
import smtplib
import ssl
from pathlib import Path

import pytest

from conftest import free_port, wait_for
from corpus_helpers import build_table, classify, rewrite, rewrites
from dkim_helpers import OpenDkim, signing_key
from dovecot_helpers import Dovecot
from test_dovecot import stopped_after
from test_auth import make_certificate
from test_access_actions import relay_sink  # noqa: F401 (a fixture: aiosmtpd on 127.0.0.3)
from test_policy_service import postgrey  # noqa: F401 (a fixture)
from test_smtpd import _greets

DATA = Path(__file__).resolve().parent / "data"
USERS = {"alice@example.org": "alice's secret", "bob@example.net": "b0b"}


@pytest.fixture
def opendkim(instance):
    """Debian's opendkim as its opendkim.conf sets it up (mode sv, relaxed/simple,
    From oversigned), signing both domains; the public key from a file, not DNS."""
    d = instance.root / "dkim"
    key, keys = signing_key(d, ["example.org", "example.net"])
    o = OpenDkim(d, "opendkim", Domain="example.org,example.net", Selector="sel", KeyFile=str(key),
                 Canonicalization="relaxed/simple", OversignHeaders="From", TestPublicKeys=str(keys),
                 AuthservID="mail.example.org")
    yield o
    o.stop()


def lay_out(instance, postgrey_port, opendkim_port, relay_port):
    """main.cf and master.cf as shipped, paths moved into the test's
    directory, smtp and submission on free ports, postgrey's and OpenDKIM's
    ports, outbound mail to the sink; returns {service: port}."""
    root, cfg = instance.root, instance.config_dir
    make_certificate(root)
    (root / "mailname").write_text("example.org\n")
    (root / "aliases").write_text("postmaster: root\nroot: alice@example.org\n")
    pairs = rewrites(instance) + [("inet:127.0.0.1:10023", f"inet:127.0.0.1:{postgrey_port}"),
                                  ("inet:localhost:8891", f"inet:localhost:{opendkim_port}"),
                                  ("\nrelayhost =\n", f"\nrelayhost = [127.0.0.3]:{relay_port}\n")]
    ports = {}

    def listen(m):
        ports[m.group(1)] = free_port()
        return f"127.0.0.1:{ports[m.group(1)]}{m.group(2)}inet"

    master = re.sub(r"^(smtp|submission)(\s+)inet", listen, (DATA / "debian-dovecot-master.cf").read_text(), flags=re.M)
    (cfg / "master.cf").write_text(master)
    ours = {k: v for k, v in instance.params.items() if k != "myhostname"}
    # 127.0.0.1 is this host; 127.0.0.5 stands for the Internet.
    ours.update(mynetworks="127.0.0.1/32", minimal_backoff_time="1s", maximal_backoff_time="2s",
                queue_run_delay="1s", smtp_connection_cache_on_demand="no")
    main = (DATA / "debian-dovecot-main.cf").read_text()
    assert all(old in main for old, _ in pairs[-3:])
    main = rewrite(main, pairs)
    main += "\n# --- appended by test_dovecot_acceptance.py ---\n" + "".join(f"{k} = {v}\n" for k, v in ours.items())
    (cfg / "main.cf").write_text(main)
    for table in ("vmailbox", "virtual"):
        (cfg / table).write_text((DATA / f"debian-dovecot-{table}").read_text())
        build_table(instance, cfg / table)
    build_table(instance, root / "aliases", alias=True)
    return ports


def test_debian_dovecot_configuration_checks_clean_and_mail_flows(instance, postgrey, opendkim, relay_sink):
    ports = lay_out(instance, postgrey, opendkim.port, relay_sink.port)
    r = instance.postern("check")
    assert r.returncode == 0, r.stderr
    for line in filter(str.strip, r.stderr.splitlines()):
        kind = classify(line)
        assert kind in ("ignored", "other") or re.search(
            r"service (maildrop|uucp|ifmail|bsmtp|scalemail-backend|mailman)/unix", line), line

    with stopped_after(instance, Dovecot(instance.root, instance.queue_dir, USERS).start()) as dovecot:
        instance.start()
        for port in ports.values():
            wait_for(lambda: (_greets(port) or b"").startswith(b"220 "), timeout=15, what="greeting")
        body = greylisted_then_delivered(instance, ports["smtp"], dovecot, "someone@remote.test",
                                         b"Subject: through postgrey\r\n\r\nfrom the Internet\r\n")
        assert b"from the Internet" in body and b"X-Greylist: delayed " in body, body[:400]
        assert b"DKIM-Signature:" not in body  # not ours to sign
        signed = submitted_signed_and_relayed(instance, ports["submission"], dovecot, relay_sink)
        verified_when_it_comes_back(instance, ports["smtp"], dovecot, signed)


def from_the_internet(port, sender, rcpt, content):
    """(code, text) of RCPT's answer, or DATA's when RCPT was taken."""
    with smtplib.SMTP("127.0.0.1", port, timeout=15, source_address=("127.0.0.5", 0)) as c:
        c.ehlo("sender.remote.test")
        c.mail(sender)
        code, text = c.rcpt(rcpt)
        if code != 250:
            return code, text.decode()
        code, text = c.data(content)
        return code, text.decode()


def greylisted_then_delivered(instance, port, dovecot, sender, content, rcpt="alice@example.org"):
    """Sends until postgrey lets it through; the Maildir copy's bytes."""
    before = set(dovecot.maildir_messages(rcpt))
    code, text = from_the_internet(port, sender, rcpt, content)
    assert code == 450 and "Greylisted" in text, (code, text)
    wait_for(lambda: from_the_internet(port, sender, rcpt, content)[0] == 250, timeout=30, interval=0.5,
             what="postgrey's delay to pass")
    return delivered(dovecot, rcpt, before)


def delivered(dovecot, rcpt, before):
    [msg] = wait_for(lambda: [m for m in dovecot.maildir_messages(rcpt) if m not in before], timeout=60,
                     what=f"a new message in {rcpt}'s Maildir")
    return msg.read_bytes()


def submitted_signed_and_relayed(instance, port, dovecot, outside):
    """bob logs in over TLS and writes to his own alias and to the Internet;
    both copies carry OpenDKIM's signature. Returns the sink's copy."""
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    msg = (b"From: Bob <bob@example.net>\r\nTo: carol@remote.test\r\nSubject: submitted\r\n"
           b"Date: Mon, 07 Dec 2026 15:00:00 +0000\r\nMessage-ID: <submitted@example.net>\r\n\r\n"
           b"by bob, signed on the way out.\r\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=15, source_address=("127.0.0.5", 0)) as c:
        c.ehlo("laptop.example.org")
        assert not c.has_extn("auth")  # smtpd_tls_auth_only, and noplaintext before TLS
        c.starttls(context=ctx)
        c.ehlo("laptop.example.org")
        assert c.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]  # as Dovecot reports them
        c.login("bob@example.net", USERS["bob@example.net"])
        # info@example.net is a virtual alias of bob@example.net.
        c.sendmail("bob@example.net", ["info@example.net", "carol@remote.test"], msg)
    instance.wait_log(r"sasl_method=(PLAIN|LOGIN), sasl_username=bob@example\.net")
    instance.wait_log(r"to=<bob@example\.net>, relay=\S*dovecot-lmtp.*status=sent", timeout=60)
    instance.wait_log(rf"to=<carol@remote\.test>, relay=\S+\[127\.0\.0\.3\]:{outside.port}, .*status=sent",
                      timeout=60)
    [out] = [m["content"] for m in outside.messages]
    copy = delivered(dovecot, "bob@example.net", set())
    for m in (out, copy):
        assert re.search(rb"(?:^|\r?\n)DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; d=example\.net; s=sel;", m), \
            m[:800]
    return out


def verified_when_it_comes_back(instance, port, dovecot, signed):
    """The relayed copy, sent back in from the Internet, passes OpenDKIM's
    verification; the same bytes with the body changed fail it."""
    tampered = signed.replace(b"signed on the way out.", b"signed on the way OUT.")
    assert tampered != signed
    body = greylisted_then_delivered(instance, port, dovecot, "bob@example.net", signed)
    assert re.search(rb"\nAuthentication-Results: mail\.example\.org;\s+dkim=pass [^\r\n]*header\.d=example\.net",
                     body), body[:1200]
    before = set(dovecot.maildir_messages("alice@example.org"))
    assert from_the_internet(port, "bob@example.net", "alice@example.org", tampered)[0] == 250  # triplet passed
    body = delivered(dovecot, "alice@example.org", before)
    assert re.search(rb"\nAuthentication-Results: mail\.example\.org;\s+dkim=fail", body), body[:1200]
