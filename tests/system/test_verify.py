"""Address verification end to end: smtpd's reject_unverified_recipient and
reject_unverified_sender ask verify(8), which probes through the smtp client
(MAIL, RCPT, then RSET: no DATA) to aiosmtpd servers that accept, refuse or
answer slowly, and keeps the results in the policy cache (`postern cache`)."""
import asyncio
import os
import subprocess

import pytest

from conftest import BIN, wait_for
from test_smtp_client import Sink
from test_smtpd import start_smtpd


class ProbeSink(Sink):
    """test_smtp_client's Sink on 127.0.0.3 that also counts the commands it
    gets; RCPT answers by rules after `rcpt_delay` seconds."""

    def __init__(self, rules=None, rcpt_delay=0.0):
        self.rcpt_delay = rcpt_delay
        self.counts = {"MAIL": 0, "RCPT": 0, "DATA": 0, "RSET": 0}
        self.senders = []
        super().__init__("127.0.0.3", rules=rules)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.counts["MAIL"] += 1
        self.senders.append(address)
        envelope.mail_from = address
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.counts["RCPT"] += 1
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):
        self.counts["DATA"] += 1
        return await super().handle_DATA(server, session, envelope)

    async def handle_RSET(self, server, session, envelope):
        self.counts["RSET"] += 1
        return "250 2.0.0 Ok"


@pytest.fixture
def sink():
    s = ProbeSink(rules={"bad@": "550 5.1.1 <bad@remote.test>: no such user"})
    yield s
    s.stop()


def start(instance, sink, **params):
    """smtpd, verify and the smtp client; remote mail goes to the sink."""
    instance.add_service("verify unix - - n - 1 verify")
    instance.add_service("smtp unix - - n - - smtp")
    p = {"relayhost": f"[127.0.0.3]:{sink.port}", "mydestination": "", "relay_domains": "",
         "smtpd_recipient_restrictions": "reject_unverified_recipient, permit_mynetworks, reject",
         # Up to 20 s for a fresh probe on a loaded machine: the first RCPT waits for it.
         "address_verify_poll_count": "21", "address_verify_poll_delay": "1s"}
    p.update(params)
    return start_smtpd(instance, **p)


def cache_get(instance, key):
    r = instance.postern("cache", "get", key)
    return r.stdout.strip() if r.returncode == 0 else None


def rcpt(smtpd, address, sender="a@client.test"):
    with smtpd.smtp() as c:
        c.ehlo("client.test")
        assert c.mail(sender)[0] == 250
        code, text = c.rcpt(address)
        return code, text.decode()


def test_deliverable_recipient_is_probed_once_without_data_and_cached(instance, sink):
    smtpd = start(instance, sink)
    assert rcpt(smtpd, "good@remote.test") == (250, "2.1.5 Ok")
    value = cache_get(instance, "rcpt:good@remote.test")
    assert value.startswith("2 host 127.0.0.3[127.0.0.3] said: 250 2.1.5 Ok (in reply to RCPT TO command)"), value
    wait_for(lambda: sink.counts["RSET"] >= 1 or sink.counts["MAIL"] == 1, 10, what="the probe's end")
    assert sink.counts["MAIL"] == 1 and sink.counts["RCPT"] == 1 and sink.counts["DATA"] == 0, sink.counts
    assert sink.senders == ["double-bounce@mx.postern.test"]
    instance.wait_log(r"smtp\[\d+\]: 00000000: to=<good@remote\.test>, relay=127\.0\.0\.3\[127\.0\.0\.3\]:\d+, "
                      r".*status=deliverable")
    # The second time the cache answers: no new probe.
    assert rcpt(smtpd, "good@remote.test") == (250, "2.1.5 Ok")
    assert sink.counts["RCPT"] == 1


def test_undeliverable_recipient_gets_450_with_the_remote_reply_and_is_cached(instance, sink):
    smtpd = start(instance, sink)
    code, text = rcpt(smtpd, "bad@remote.test")
    assert code == 450, text
    assert text == ("4.1.1 <bad@remote.test>: Recipient address rejected: undeliverable address: host "
                    "127.0.0.3[127.0.0.3] said: 550 5.1.1 <bad@remote.test>: no such user (in reply to RCPT TO command)")
    assert cache_get(instance, "rcpt:bad@remote.test").startswith("5 host 127.0.0.3")
    instance.wait_log(r"NOQUEUE: reject: RCPT from .*450 4\.1\.1 <bad@remote\.test>: Recipient address rejected: "
                      r"undeliverable address")
    # Cached negative result: refused again without asking the server.
    assert rcpt(smtpd, "bad@remote.test")[0] == 450
    assert sink.counts["RCPT"] == 1 and sink.counts["DATA"] == 0


def test_reject_code_and_reason_are_configurable(instance, sink):
    smtpd = start(instance, sink, unverified_recipient_reject_code="550",
                  unverified_recipient_reject_reason="Address lookup failed")
    assert rcpt(smtpd, "bad@remote.test") == (
        550, "5.1.1 <bad@remote.test>: Recipient address rejected: Address lookup failed")


def test_probe_in_flight_answers_450_then_the_result_is_used(instance):
    slow = ProbeSink(rcpt_delay=4.0)
    try:
        smtpd = start(instance, slow, address_verify_poll_count="1")  # no waiting: Postfix's greylisting
        code, text = rcpt(smtpd, "new@remote.test")
        assert (code, text) == (450, "4.1.1 <new@remote.test>: Recipient address rejected: unverified address: "
                                     "Address verification in progress")
        wait_for(lambda: cache_get(instance, "rcpt:new@remote.test"), 30, interval=0.2, what="the probe's result")
        assert rcpt(smtpd, "new@remote.test") == (250, "2.1.5 Ok")
        assert slow.counts["RCPT"] == 1 and slow.counts["DATA"] == 0
    finally:
        slow.stop()


def test_unverified_sender_is_refused_and_its_domain_cached(instance, sink):
    smtpd = start(instance, sink, smtpd_recipient_restrictions="permit_mynetworks, reject",
                  smtpd_sender_restrictions="reject_unverified_sender")
    code, text = rcpt(smtpd, "someone@remote.test", sender="bad@remote.test")
    assert code == 450 and text.startswith("4.1.7 <bad@remote.test>: Sender address rejected: undeliverable "
                                           "address: host 127.0.0.3"), text
    assert cache_get(instance, "sav:bad@remote.test").startswith("5 ")
    # The domain's server answered RCPT: the domain itself works.
    assert cache_get(instance, "sav:remote.test").startswith("2 ")
    assert rcpt(smtpd, "someone@remote.test", sender="good@remote.test") == (250, "2.1.5 Ok")


def test_a_cached_domain_failure_refuses_other_senders_of_that_domain(instance, sink):
    smtpd = start(instance, sink, smtpd_recipient_restrictions="permit_mynetworks, reject",
                  smtpd_sender_restrictions="reject_unverified_sender")
    r = instance.postern("cache", "put", "sav:dead.test", "5 Host or domain name not found", "1h")
    assert r.returncode == 0, r.stderr
    code, text = rcpt(smtpd, "someone@remote.test", sender="anyone@dead.test")
    assert code == 450 and text.endswith("undeliverable address: Host or domain name not found"), text
    assert sink.counts["MAIL"] == 0


def test_verify_service_down_answers_451(instance, sink):
    smtpd = start(instance, sink, address_verify_service_name="noverify")
    code, text = rcpt(smtpd, "good@remote.test")
    assert (code, text) == (451, "4.3.0 <good@remote.test>: Temporary lookup failure")
    instance.wait_log(r"warning: address verification service .*/private/noverify: ")


def test_postern_verify_and_sendmail_bv_print_the_result_and_reply(instance, sink):
    start(instance, sink)
    r = instance.postern("verify", "good@remote.test", "bad@remote.test", timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "good@remote.test: deliverable: host 127.0.0.3[127.0.0.3] said: 250 2.1.5 Ok (in reply to RCPT TO command)",
        "bad@remote.test: undeliverable: host 127.0.0.3[127.0.0.3] said: 550 5.1.1 <bad@remote.test>: no such user "
        "(in reply to RCPT TO command)",
    ]
    # A fresh probe each time, even with the result cached.
    env = dict(os.environ, POSTERN_CONFIG_DIR=str(instance.config_dir))
    r = subprocess.run([str(BIN / "sendmail"), "-bv", "good@remote.test"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("good@remote.test: deliverable: host 127.0.0.3")
    assert sink.counts["RCPT"] == 3 and sink.counts["DATA"] == 0
