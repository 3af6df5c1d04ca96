"""smtpd_save_rejected (Plan 9's smtpd -s): a message refused after its
content arrived is kept in the quarantine, listed by postern show quarantine,
released into the queue (delivered to an aiosmtpd sink) or removed; the
quarantine stays within quarantine_size_limit."""
import json

import pytest

from conftest import QTOOL, wait_for
from qmgr_helpers import FAST
from test_access_actions import relay_sink as sink  # noqa: F401 (a fixture)
from test_smtpd import start_smtpd

pytestmark = pytest.mark.skipif(not QTOOL.exists(), reason="test helpers not built")

SPAM = "Subject: buy now\r\nX-Spam: yes\r\n\r\ncheap pills\r\n"


def start(instance, sink, **params):
    """smtpd + qmgr + smtp; remote mail goes to the sink; header_checks
    refuse X-Spam: yes at end of data."""
    hc = instance.config_dir / "hc"
    hc.write_text("/^X-Spam: yes/ REJECT 5.7.1 Spam refused\n/^X-Drop: yes/ DISCARD dropped\n")
    instance.add_service("qmgr unix n - n 300 1 qmgr")
    instance.add_service("bounce unix - - n - 0 bounce")
    instance.add_service("smtp unix - - n - - smtp")
    p = {**FAST, "default_transport": "smtp", "relay_domains": "", "mydestination": "",
         "relayhost": f"[127.0.0.3]:{sink.port}", "header_checks": f"regexp:{hc}", "smtpd_save_rejected": "yes"}
    p.update(params)
    return start_smtpd(instance, **p)


def send(smtpd, body, rcpts=("one@remote.test", "two@remote.test")):
    with smtpd.smtp() as c:
        c.ehlo("client.test")
        assert c.mail("a@client.test")[0] == 250
        for r in rcpts:
            assert c.rcpt(r)[0] == 250
        return c.data(body)


def listing(instance, *args):
    r = instance.postern("show", "quarantine", *args)
    assert r.returncode == 0, r.stderr
    return [l for l in r.stdout.splitlines() if l]


def test_refused_message_is_listed_released_and_delivered(instance, sink):
    smtpd = start(instance, sink)
    assert send(smtpd, SPAM) == (550, b"5.7.1 Spam refused")
    instance.wait_log(r": quarantine: saved as Q[0-9a-f]{8} \(550 5\.7\.1 Spam refused\)")
    [line] = listing(instance)
    qid, _, size, client, sender, rcpts, reason = line.split("|")
    assert (client, sender, rcpts, reason) == ("unknown[127.0.0.1]", "a@client.test",
                                               "one@remote.test,two@remote.test", "550 5.7.1 Spam refused")
    [entry] = [json.loads(l) for l in listing(instance, "--json")]
    assert entry["id"] == qid and entry["helo"] == "client.test" and entry["size"] == int(size)
    assert sink.messages == []
    r = instance.postern("release", qid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{qid}: released as ")
    wait_for(lambda: sink.messages, 20, what="delivery of the released message")
    m = sink.messages[0]
    assert sorted(m["rcpts"]) == ["one@remote.test", "two@remote.test"]
    assert m["sender"] == "a@client.test"
    assert b"X-Spam: yes\r\n" in m["content"] and b"cheap pills" in m["content"]
    assert m["content"].startswith(b"Received: from client.test")
    assert listing(instance) == []


def test_discarded_message_is_kept_and_removed_on_request(instance, sink):
    smtpd = start(instance, sink)
    code, _ = send(smtpd, "Subject: x\r\nX-Drop: yes\r\n\r\nbody\r\n")
    assert code == 250
    instance.wait_log(r": quarantine: saved as (Q[0-9a-f]{8}) \(DISCARD")
    [line] = listing(instance)
    qid = line.split("|")[0]
    assert line.split("|")[6].startswith("DISCARD"), line
    r = instance.postern("remove", qid)
    assert r.returncode == 0, r.stderr
    assert listing(instance) == []
    r = instance.postern("remove", qid)
    assert r.returncode == 1 and "no such message in the quarantine" in r.stderr


def test_quarantine_stays_within_its_size_limit(instance, sink):
    smtpd = start(instance, sink, quarantine_size_limit="3000")
    filler = "x" * 70 + "\r\n"
    for i in range(6):
        assert send(smtpd, SPAM + f"number {i}\r\n" + filler * 10)[0] == 550
        instance.wait_log(rf"quarantine: saved as Q[0-9a-f]{{8}}", count=i + 1)
    kept = listing(instance)
    assert 1 <= len(kept) < 6
    total = sum(p.stat().st_size for p in (instance.queue_dir / "quarantine").iterdir())
    assert total <= 3000
    # The newest stays, the oldest went.
    newest = instance.postern("release", kept[-1].split("|")[0])
    assert newest.returncode == 0, newest.stderr
    wait_for(lambda: sink.messages, 20, what="delivery of the released message")
    assert b"number 5" in sink.messages[0]["content"]


def test_without_save_rejected_nothing_is_kept(instance, sink):
    smtpd = start(instance, sink, smtpd_save_rejected="no")
    assert send(smtpd, SPAM)[0] == 550
    instance.wait_log(r"reject: header X-Spam: yes")
    assert listing(instance) == []
    assert not (instance.queue_dir / "quarantine").exists()
