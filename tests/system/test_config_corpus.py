# tests/system/test_config_corpus.py — real-world-shaped Postfix
# configurations (tests/system/data/corpus/NAME: Debian stock, Debian +
# Dovecot + OpenDKIM, submission-only relay, backup MX, smarthost client,
# null client, virtual mailbox host, Mailman list host): for each, `postern
# check` gives exactly the verdicts of NAME/expected, `postern start` serves
# SMTP, and mail flows where postern has the features; what it lacks is
# refused or deferred, never accepted and lost.
import os
import pwd
import smtplib
import ssl

import pytest

from conftest import wait_for
from corpus_helpers import CORPUS, build_table, classify, expected_verdicts, lay_out
from test_auth import make_certificate, smarthost  # noqa: F401 (a fixture)
from test_local import ROOT, chown_tree, one_maildir_message
from test_smtp_client import Dnsmasq, Scripted
from test_smtpd import _greets

NAMES = sorted(d.name for d in CORPUS.iterdir() if d.is_dir())
PRIVS = "postern" if ROOT else pwd.getpwuid(os.geteuid()).pw_name


class Corpus:
    """One corpus configuration laid into `instance`, with the peers its
    flows need: dnsmasq for MX and host records, a sink on 127.0.0.2."""

    def __init__(self, instance, name, replace=(), extra=None, dns_records=()):
        self.i, self.name = instance, name
        self.sink = Scripted(host="127.0.0.2")
        self.dns = Dnsmasq(["--mx-host=example.com,mail.example.com,10", "--host-record=mail.example.com,127.0.0.2",
                            "--mx-host=example.com,backup.example.com,20", "--host-record=backup.example.com,127.0.0.1",
                            "--mx-host=remote.test,mx.remote.test,10", "--host-record=mx.remote.test,127.0.0.2",
                            *dns_records])
        root = instance.root
        self.mail = root / "mailboxes"
        self.mail.mkdir()
        self.mail.chmod(0o777)
        (root / "mailname").write_text(f"{name}.example\n")
        (root / "aliases").write_text(f"# the system's aliases (Debian's /etc/aliases)\npostmaster: {self.mail}/postmaster/\n"
                                      f"root: {self.mail}/postmaster/\n")
        # mynetworks: only 127.0.0.1, so that 127.0.0.5 stands for the Internet.
        params = {"mynetworks": "127.0.0.1/32", "dns_servers": f"127.0.0.1:{self.dns.port}", "smtp_tcp_port": str(self.sink.port),
                  "default_privs": PRIVS, "alias_database": f"hash:{root}/aliases",
                  "minimal_backoff_time": "1s", "maximal_backoff_time": "2s", "queue_run_delay": "1s",
                  "smtp_connection_cache_on_demand": "no", **(extra or {})}
        if "alias_maps" not in (CORPUS / name / "main.cf").read_text():
            params["alias_maps"] = f"hash:{root}/aliases"  # Postfix's default, the machine's /etc/aliases
        self.ports, tables = lay_out(instance, name, params, replace)
        build_table(instance, root / "aliases", alias=True)
        for t in tables:
            build_table(instance, instance.config_dir / t, alias="aliases" in t)
        chown_tree(self.mail, PRIVS)

    def check(self):
        r = self.i.postern("check")
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        want = expected_verdicts(self.name)
        root = str(self.i.root)
        for kind, rx in want:
            hits = [l for l in lines if classify(l) == kind and __import__("re").search(rx, l.replace(root, "ROOT"))]
            assert len(hits) == 1, (kind, rx, lines)
        for l in lines:
            kind = classify(l)
            assert any(k == kind and __import__("re").search(rx, l.replace(root, "ROOT")) for k, rx in want), \
                f"{self.name}/expected does not list: {l}"
        assert r.returncode == (1 if any(k == "error" for k, _ in want) else 0), r.stderr

    def start(self):
        self.i.start()
        for service, port in self.ports.items():
            greeting = wait_for(lambda: _greets(port), timeout=15, what=f"{service} greeting")
            assert greeting.startswith(b"220 "), greeting
            with smtplib.SMTP("127.0.0.1", port, timeout=15) as c:
                assert c.ehlo("client.test")[0] == 250

    def smtp(self, service="smtp", source="127.0.0.1", tls=False):
        c = smtplib.SMTP("127.0.0.1", self.ports[service], timeout=15, source_address=(source, 0))
        c.ehlo("client.test")
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            c.starttls(context=ctx)
            c.ehlo("client.test")
        return c

    def send(self, rcpt, service="smtp", source="127.0.0.1", tls=False, sender="sender@client.test"):
        """One message to `rcpt`; returns the RCPT reply (code, text)."""
        with self.smtp(service, source, tls) as c:
            c.mail(sender)
            reply = c.rcpt(rcpt)
            if reply[0] == 250:
                assert c.data(f"Subject: to {rcpt}\r\n\r\nfrom the {self.name} corpus test\r\n".encode())[0] == 250
            return reply[0], reply[1].decode()

    def delivered_locally(self, rcpt):
        assert self.send(rcpt)[0] == 250
        self.i.wait_log(rf"/local\[\d+\]: \w+: to=<{rcpt}>, relay=local, .*status=sent \(delivered to maildir\)",
                        timeout=30)
        body = one_maildir_message(self.mail / "postmaster")
        assert f"from the {self.name} corpus test".encode() in body

    def relayed_to_sink(self, rcpt, **kw):
        assert self.send(rcpt, **kw)[0] == 250
        wait_for(lambda: any(f"RCPT TO:<{rcpt}>" in l for l in self.sink.lines), timeout=60, what=f"{rcpt} at the sink")
        self.i.wait_log(rf"\w+: to=<{rcpt}>, relay=\S+\[127\.0\.0\.2\]:{self.sink.port}, .*status=sent", timeout=30)

    def close(self):
        self.sink.stop()
        self.dns.stop()


# --- the flows of each configuration ------------------------------------------

def flow_debian(c, smarthost):
    c.delivered_locally("postmaster@debian.example")
    assert c.send("x@elsewhere.test", source="127.0.0.5")[0] == 454  # defer_unauth_destination


def flow_dovecot_opendkim(c, smarthost):
    c.delivered_locally("root@mail.example.org")
    # Its virtual mailbox domains go to Dovecot over LMTP; there is no Dovecot
    # here (test_dovecot_acceptance has one): taken, then deferred, never bounced.
    # From outside, its reject_unknown_recipient_domain looks example.org up:
    # this test's DNS does not know it, so Postfix's 450 4.1.2.
    code, text = c.send("alice@example.org", source="127.0.0.5")
    assert (code, text) == (450, "4.1.2 <alice@example.org>: Recipient address rejected: Domain not found"), text
    assert c.send("alice@example.org") == (250, "2.1.5 Ok")
    c.i.wait_log(r"to=<alice@example\.org>, relay=none, .*status=deferred \(connect to .*dovecot-lmtp", timeout=60)
    assert c.send("carol@example.org") == (
        550, "5.1.1 <carol@example.org>: Recipient address rejected: User unknown in virtual mailbox table")
    # Submission demands TLS first; Dovecot's auth socket is not there, so no AUTH yet.
    with c.smtp("submission") as s:
        assert s.mail("alice@example.org")[0] == 530  # Must issue a STARTTLS command first
    with c.smtp("submission", tls=True) as s:
        assert not s.has_extn("auth")


def flow_submission_relay(c, smarthost):
    assert "smtp" not in c.ports  # no port 25 listener at all
    with c.smtp("submission") as s:
        assert s.mail("alice@office.example")[0] == 530
    # The office LAN (mynetworks) sends without AUTH, after STARTTLS.
    c.relayed_to_sink("far@remote.test", service="submission", tls=True, sender="alice@office.example")
    # Anyone else: the client restrictions say no (no Cyrus SASL to log in with).
    code, _ = c.send("far@remote.test", service="submission", source="127.0.0.5", tls=True)
    assert code == 554


def flow_backup_mx(c, smarthost):
    # From anywhere: listed recipients of example.com are taken and passed on
    # to the primary MX (mail.example.com, MX 10); others are refused at once.
    c.relayed_to_sink("alice@example.com", source="127.0.0.5")
    assert c.send("bob@example.com", source="127.0.0.5") == (
        550, "5.1.1 <bob@example.com>: Recipient address rejected: User unknown in relay recipient table")
    assert c.send("x@elsewhere.test", source="127.0.0.5")[0] == 554  # reject_unauth_destination
    c.delivered_locally("postmaster@backup.example.net")


def flow_smarthost(c, smarthost):
    # Everything non-local goes through the ISP's smarthost over TLS with SASL.
    assert c.send("far@remote.test")[0] == 250
    c.i.wait_log(rf"to=<far@remote\.test>, relay=smtp\.isp\.test\[127\.0\.0\.1\]:{smarthost.port}, .*status=sent",
                 timeout=60)
    [m] = smarthost.queue()
    assert m["rcpts"] == ["far@remote.test"]
    smarthost.instance.wait_log(r"sasl_method=PLAIN, sasl_username=relayuser")
    assert not c.sink.lines  # nothing went direct
    c.delivered_locally("postmaster@home.example.org")


def flow_null_client(c, smarthost):
    # Everything to the hub: relayhost = $mydomain, the MX of example.com.
    c.relayed_to_sink("someone@elsewhere.test")
    c.relayed_to_sink("root@web1.example.com")  # mydestination is empty: nothing is local


def flow_virtual_mailbox(c, smarthost):
    c.delivered_locally("postmaster@mx.hosting.example")
    # The hosted domains: virtual(8) writes under virtual_mailbox_base as
    # virtual_uid_maps' uid 5000 (as root), a Maildir and an mbox.
    vhosts = c.i.root / "mail" / "vhosts"
    for rcpt, what in (("info@example.com", "maildir"), ("info@example.net", "mailbox")):
        assert c.send(rcpt, source="127.0.0.5")[0] == 250, rcpt
        c.i.wait_log(rf"/virtual\[\d+\]: \w+: to=<{rcpt}>, relay=virtual, .*status=sent \(delivered to {what}\)",
                     timeout=30)
    body = one_maildir_message(vhosts / "example.com" / "info")
    assert b"from the virtual-mailbox corpus test" in body and b"Delivered-To: info@example.com" in body
    assert b"from the virtual-mailbox corpus test" in (vhosts / "example.net" / "info").read_bytes()
    if ROOT:
        assert os.stat(vhosts / "example.net" / "info").st_uid == 5000
    assert c.send("nobody@example.com", source="127.0.0.5") == (
        550, "5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table")


def flow_mailman(c, smarthost):
    # Local list addresses: Mailman's generated aliases pipe to its wrapper.
    assert c.send("announce@lists.example.org")[0] == 250
    posted = c.i.root / "mailman" / "posted"
    text = wait_for(lambda: posted.exists() and posted.read_text(), timeout=30, what="the wrapper's output")
    assert text.startswith("post announce\n") and f"from the mailman corpus test" in text, text
    # The list domain goes to master.cf's mailman pipe(8) service, whose
    # postfix-to-mailman.py gets ${nexthop} ${user} and the message.
    assert c.send("announce@lists.example.net", source="127.0.0.5")[0] == 250
    piped = c.i.root / "mailman" / "piped"
    text = wait_for(lambda: piped.exists() and piped.read_text(), timeout=30, what="postfix-to-mailman's output")
    assert text.startswith("lists.example.net announce\n") and "from the mailman corpus test" in text, text
    c.i.wait_log(r"to=<announce@lists\.example\.net>, relay=mailman, .*status=sent", timeout=30)


FLOWS = {"debian": flow_debian, "dovecot-opendkim": flow_dovecot_opendkim,
         "submission-relay": flow_submission_relay, "backup-mx": flow_backup_mx, "smarthost": flow_smarthost,
         "null-client": flow_null_client, "virtual-mailbox": flow_virtual_mailbox, "mailman": flow_mailman}


def lay_corpus(instance, name, smarthost_factory):
    replace, extra, records, host = [], {}, [], None
    if name in ("dovecot-opendkim", "submission-relay"):
        make_certificate(instance.root)
    if name == "smarthost":
        cert, key = make_certificate(instance.root)
        host = smarthost_factory("ispsecret", smtpd_tls_security_level="may", smtpd_tls_cert_file=str(cert),
                                 smtpd_tls_key_file=str(key))
        replace = [("[smtp.isp.test]:587", f"[smtp.isp.test]:{host.port}"),
                   ("/etc/ssl/certs/ca-certificates.crt", str(cert))]
        records = ["--host-record=smtp.isp.test,127.0.0.1"]
    if name == "mailman":
        wrapper = instance.root / "mailman" / "mail" / "mailman"
        wrapper.parent.mkdir(parents=True)
        wrapper.write_text(f"#!/bin/sh\n# Mailman's mail wrapper, standing in: what a post would hand it.\n"
                           f"{{ echo \"$*\"; cat; }} > {instance.root}/mailman/post.tmp\n"
                           f"mv {instance.root}/mailman/post.tmp {instance.root}/mailman/posted\n")
        wrapper.chmod(0o755)
        to_mailman = instance.root / "mailman" / "postfix-to-mailman.py"
        to_mailman.write_text(f"#!/bin/sh\n# Debian's postfix-to-mailman.py, standing in: list domain, list name.\n"
                              f"{{ echo \"$*\"; cat; }} > {instance.root}/mailman/pipe.tmp\n"
                              f"mv {instance.root}/mailman/pipe.tmp {instance.root}/mailman/piped\n")
        to_mailman.chmod(0o755)
        (instance.root / "mailman").chmod(0o777)
        replace = [("/usr/lib/mailman/bin/postfix-to-mailman.py", str(to_mailman))]
        if not ROOT:  # pipe runs commands as user=, which only root can become
            replace.append(("user=list ", f"user={PRIVS} "))
    if name == "submission-relay":
        records = []
    if name == "virtual-mailbox":
        # The mailbox tree an administrator lays out for virtual(8): the base
        # and each domain's directory, owned by virtual_uid_maps' 5000.
        for d in ("", "example.com", "example.net"):
            (instance.root / "mail" / "vhosts" / d).mkdir(parents=True, exist_ok=True)
            if ROOT:
                os.chown(instance.root / "mail" / "vhosts" / d, 5000, 5000)
        (instance.root / "mail").chmod(0o755)
    return Corpus(instance, name, replace, extra, records), host


@pytest.mark.parametrize("name", NAMES)
def test_corpus_configuration_checks_starts_and_flows(instance, smarthost, name):
    c, host = lay_corpus(instance, name, smarthost)
    try:
        c.check()
        c.start()
        FLOWS[name](c, host)
    finally:
        c.close()
