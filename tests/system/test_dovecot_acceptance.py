# tests/system/test_dovecot_acceptance.py — the acceptance configuration
# (data/debian-dovecot-main.cf + master.cf: Postfix + Dovecot + OpenDKIM +
# postgrey as Debian/Ubuntu servers run it): `postern check` has nothing to
# say but the milter (another piece of work) and Debian's stock pipe
# accounts; mail from the Internet is greylisted by a real postgrey, then
# lands in a real Dovecot's Maildir over LMTP; a submission client logs in
# through Dovecot's auth socket over TLS.
import re
import smtplib
import ssl
from pathlib import Path

from conftest import free_port, wait_for
from corpus_helpers import build_table, classify, rewrite, rewrites
from dovecot_helpers import Dovecot
from test_dovecot import stopped_after
from test_auth import make_certificate
from test_policy_service import postgrey  # noqa: F401 (a fixture)
from test_smtpd import _greets

DATA = Path(__file__).resolve().parent / "data"
USERS = {"alice@example.org": "alice's secret", "bob@example.net": "b0b"}


def lay_out(instance, postgrey_port):
    """main.cf and master.cf as shipped, paths moved into the test's
    directory, smtp and submission on free ports, postgrey's port; returns
    {service: port}."""
    root, cfg = instance.root, instance.config_dir
    make_certificate(root)
    (root / "mailname").write_text("example.org\n")
    (root / "aliases").write_text("postmaster: root\nroot: alice@example.org\n")
    pairs = rewrites(instance) + [("inet:127.0.0.1:10023", f"inet:127.0.0.1:{postgrey_port}")]
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
    main = rewrite((DATA / "debian-dovecot-main.cf").read_text(), pairs)
    main += "\n# --- appended by test_dovecot_acceptance.py ---\n" + "".join(f"{k} = {v}\n" for k, v in ours.items())
    (cfg / "main.cf").write_text(main)
    for table in ("vmailbox", "virtual"):
        (cfg / table).write_text((DATA / f"debian-dovecot-{table}").read_text())
        build_table(instance, cfg / table)
    build_table(instance, root / "aliases", alias=True)
    return ports


def test_debian_dovecot_configuration_checks_clean_and_mail_flows(instance, postgrey):
    ports = lay_out(instance, postgrey)
    r = instance.postern("check")
    assert r.returncode == 0, r.stderr
    for line in filter(str.strip, r.stderr.splitlines()):
        kind = classify(line)
        assert kind in ("ignored", "other") or "milter" in line or re.search(
            r"service (maildrop|uucp|ifmail|bsmtp|scalemail-backend|mailman)/unix", line), line

    with stopped_after(instance, Dovecot(instance.root, instance.queue_dir, USERS).start()) as dovecot:
        instance.start()
        for port in ports.values():
            wait_for(lambda: (_greets(port) or b"").startswith(b"220 "), timeout=15, what="greeting")
        greylisted_then_delivered(instance, ports["smtp"], dovecot)
        submission_login_over_tls(instance, ports["submission"], dovecot)


def greylisted_then_delivered(instance, port, dovecot):
    def attempt():
        with smtplib.SMTP("127.0.0.1", port, timeout=15, source_address=("127.0.0.5", 0)) as c:
            c.ehlo("sender.remote.test")
            c.mail("someone@remote.test")
            code, text = c.rcpt("alice@example.org")
            if code != 250:
                return code, text.decode()
            assert c.data(b"Subject: through postgrey\r\n\r\nfrom the Internet\r\n")[0] == 250
            return code, text.decode()

    code, text = attempt()
    assert code == 450 and "Greylisted" in text, (code, text)
    wait_for(lambda: attempt()[0] == 250, timeout=30, interval=0.5, what="postgrey's delay to pass")
    instance.wait_log(r"to=<alice@example\.org>, relay=\S*dovecot-lmtp.*, dsn=2\.0\.0, status=sent", timeout=60)
    [msg] = wait_for(lambda: dovecot.maildir_messages("alice@example.org"), timeout=10, what="alice's Maildir")
    body = msg.read_bytes()
    assert b"from the Internet" in body and b"X-Greylist: delayed " in body, body[:400]


def submission_login_over_tls(instance, port, dovecot):
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", port, timeout=15, source_address=("127.0.0.5", 0)) as c:
        c.ehlo("laptop.example.org")
        assert not c.has_extn("auth")  # smtpd_tls_auth_only, and noplaintext before TLS
        c.starttls(context=ctx)
        c.ehlo("laptop.example.org")
        assert c.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]  # as Dovecot reports them
        c.login("bob@example.net", USERS["bob@example.net"])
        # info@example.net is a virtual alias of bob@example.net.
        c.sendmail("bob@example.net", ["info@example.net"], b"Subject: submitted\r\n\r\nby bob\r\n")
    instance.wait_log(r"sasl_method=(PLAIN|LOGIN), sasl_username=bob@example\.net")
    instance.wait_log(r"to=<bob@example\.net>, relay=\S*dovecot-lmtp.*status=sent",
                      timeout=60)
    assert wait_for(lambda: dovecot.maildir_messages("bob@example.net"), timeout=10)
