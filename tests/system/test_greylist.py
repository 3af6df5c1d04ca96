"""Greylisting (check_greylist) and message limits (check_message_limits) end
to end on the default LMDB policy cache: real smtpd, raw SMTP clients from
127.0.0.2/127.0.0.3 (outside mynetworks) and from 127.0.0.1 (inside), and
`postern cache list` to read the records back."""
import json
import time

from conftest import wait_for
from test_smtpd import Raw, start_smtpd

GREY = {"smtpd_recipient_restrictions": "reject_unauth_destination, check_greylist"}


def rcpt(port, rcpt="alice@mx.postern.test", sender="someone@client.test", source="127.0.0.2"):
    """One MAIL/RCPT from source: the RCPT reply (code, text)."""
    c = Raw(port, source)
    try:
        c.ehlo("client.test")
        assert c.cmd(f"MAIL FROM:<{sender}>")[0] == 250
        return c.cmd(f"RCPT TO:<{rcpt}>")
    finally:
        c.close()


def wait_until(t):
    time.sleep(max(0.0, t - time.monotonic()))


def cache_list(instance, kind):
    r = instance.postern("cache", "list", kind, "--json")
    assert r.returncode == 0, r.stderr
    return {rec["key"]: rec for rec in json.loads(r.stdout)}


def test_first_attempt_and_early_retry_get_450_a_retry_in_the_window_passes(instance):
    s = start_smtpd(instance, greylist_delay="4s", **GREY)
    first = time.monotonic()
    code, text = rcpt(s.port)
    assert code == 450 and text.startswith("4.7.1 "), text
    assert "Greylisted, please try again in" in text
    code, text = rcpt(s.port)
    assert (code, text.split()[0]) == (450, "4.7.1"), "a retry before greylist_delay is greylisted again"
    wait_until(first + 5)
    assert rcpt(s.port)[0] == 250
    instance.wait_log(r"greylist: grey:127\.0\.0\.0/24,someone@client\.test,alice@mx\.postern\.test passed after \d+s")
    recs = cache_list(instance, "grey")
    triplet = recs["grey:127.0.0.0/24,someone@client.test,alice@mx.postern.test"]
    assert triplet["value"] == "pass" and triplet["hits"] == 3
    assert triplet["expires"] > time.time() + 30 * 86400  # greylist_record_lifetime


def test_a_client_that_passed_n_times_is_whitelisted(instance):
    s = start_smtpd(instance, greylist_delay="2s", greylist_auto_whitelist_count="2", **GREY)
    for who in ("alice", "bob"):
        first = time.monotonic()
        assert rcpt(s.port, f"{who}@mx.postern.test")[0] == 450
        wait_until(first + 3)
        assert rcpt(s.port, f"{who}@mx.postern.test")[0] == 250
    # A new triplet of the same /24: no greylisting any more.
    assert rcpt(s.port, "carol@mx.postern.test", source="127.0.0.3")[0] in (250, 550)
    white = cache_list(instance, "grey")["grey:white:127.0.0.0/24"]
    assert white["hits"] == 2
    assert rcpt(s.port, "alice@mx.postern.test", sender="new@client.test")[0] == 250


def test_whitelist_table_passes_and_blacklist_table_refuses(instance):
    white = instance.config_dir / "white.cidr"  # readable by mail_owner
    white.write_text("127.0.0.2/32 OK\n")
    s = start_smtpd(instance, greylist_whitelist_maps=f"cidr:{white}",
                    greylist_blacklist_maps="inline:{ spammer@client.test=REJECT }", **GREY)
    assert rcpt(s.port, source="127.0.0.2")[0] == 250
    assert rcpt(s.port, source="127.0.0.3")[0] == 450
    code, text = rcpt(s.port, sender="spammer@client.test", source="127.0.0.3")
    assert (code, text.split()[0]) == (554, "5.7.1"), text


def test_mynetworks_is_never_greylisted(instance):
    s = start_smtpd(instance, **GREY)
    assert rcpt(s.port, source="127.0.0.1")[0] == 250
    assert rcpt(s.port, source="127.0.0.2")[0] == 450
    assert "grey:127.0.0.0/24,someone@client.test,alice@mx.postern.test" in cache_list(instance, "grey")
    assert len(cache_list(instance, "grey")) == 1  # 127.0.0.1 made no record


def test_message_limits_per_client_and_per_sender_from_a_table(instance):
    s = start_smtpd(instance, smtpd_recipient_restrictions="reject_unauth_destination, check_message_limits",
                    smtpd_client_message_limit="3", smtpd_sender_message_limit="1",
                    smtpd_sender_message_limit_maps="inline:{ big@client.test=5 }")
    assert rcpt(s.port, sender="small@client.test")[0] == 250
    code, text = rcpt(s.port, sender="small@client.test")
    assert (code, text.split()[0]) == (450, "4.7.1"), text
    assert "Sender address rejected: Too many messages (1 per 3600 seconds)" in text
    assert rcpt(s.port, sender="big@client.test")[0] == 250  # the table's 5, the client's third
    code, text = rcpt(s.port, sender="big@client.test")
    assert code == 450 and "Client host rejected: Too many messages (3 per 3600 seconds)" in text, text
    recs = cache_list(instance, "msg-limit")
    assert recs["msg-limit:client-ip:127.0.0.2"]["hits"] == 4
    assert recs["msg-limit:sender:small@client.test"]["hits"] == 2


def test_message_limit_counts_a_message_once_and_each_recipient(instance):
    s = start_smtpd(instance, smtpd_recipient_restrictions="reject_unauth_destination, check_message_limits",
                    smtpd_client_message_limit="1", smtpd_recipient_message_limit="1",
                    smtpd_message_limit_reject_code="550")
    c = Raw(s.port, "127.0.0.2")
    c.ehlo()
    assert c.cmd("MAIL FROM:<a@client.test>")[0] == 250
    assert c.cmd("RCPT TO:<alice@mx.postern.test>")[0] == 250
    assert c.cmd("RCPT TO:<bob@mx.postern.test>")[0] == 250  # one message from the client so far
    assert c.cmd("RSET")[0] == 250
    assert c.cmd("MAIL FROM:<a@client.test>")[0] == 250
    code, text = c.cmd("RCPT TO:<bob@mx.postern.test>")
    assert (code, text.split()[0]) == (550, "5.7.1"), text
    c.close()
    code, text = rcpt(s.port, "alice@mx.postern.test", source="127.0.0.3")
    assert code == 550 and "Recipient address rejected: Too many messages" in text, text


def test_an_authenticated_client_is_never_greylisted(instance):
    from test_auth import PASSWORDS, auth_smtpd, login
    s = auth_smtpd(instance, mynetworks="127.0.0.1/32", **GREY)
    c = Raw(s.port, "127.0.0.2")
    c.ehlo()
    assert login(c, "alice", PASSWORDS["alice"])[0] == 235
    assert c.cmd("MAIL FROM:<a@client.test>")[0] == 250
    assert c.cmd("RCPT TO:<alice@mx.postern.test>")[0] == 250
    c.close()
    assert rcpt(s.port, sender="a@client.test")[0] == 450  # the same triplet without AUTH
