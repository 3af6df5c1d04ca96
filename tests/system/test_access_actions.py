"""access(5) actions end to end: a check_*_access table in smtpd, the message
through qmgr and the smtp client to aiosmtpd sinks; HOLD, DISCARD, REDIRECT,
BCC, PREPEND and FILTER are judged on what reaches a sink or the queue."""
import pytest

from conftest import QTOOL, wait_for
from qmgr_helpers import FAST, wait_empty
from test_smtp_client import Sink
from test_smtpd import start_smtpd

pytestmark = pytest.mark.skipif(not QTOOL.exists(), reason="test helpers not built")

BODY = "Subject: access actions\r\n\r\nhello\r\n"


@pytest.fixture
def relay_sink():
    s = Sink("127.0.0.3")
    yield s
    s.stop()


@pytest.fixture
def filter_sink():
    s = Sink("127.0.0.4")
    yield s
    s.stop()


def start(instance, relay_sink, table, restriction="check_recipient_access", stage="recipient"):
    """smtpd + qmgr + smtp; remote mail goes to relay_sink; `table` is the
    inline: access table of one check_*_access entry."""
    instance.add_service("qmgr unix n - n 300 1 qmgr")
    instance.add_service("bounce unix - - n - 0 bounce")
    instance.add_service("smtp unix - - n - - smtp")
    instance.add_service("relay unix - - n - - smtp")
    params = {**FAST, "default_transport": "smtp", "relay_domains": "",
              "relayhost": f"[127.0.0.3]:{relay_sink.port}", "mydestination": ""}
    params[f"smtpd_{stage}_restrictions"] = (f"{restriction} inline:{{ {table} }}"
                                            + (", permit_mynetworks, reject" if stage == "recipient" else ""))
    return start_smtpd(instance, **params)


def send(smtpd, rcpts, sender="a@client.test", body=BODY):
    with smtpd.smtp() as c:
        c.ehlo("client.test")
        assert c.mail(sender)[0] == 250
        for r in rcpts:
            assert c.rcpt(r)[0] == 250, r
        code, text = c.data(body)
        assert code == 250, text
        return text.decode().split()[-1]


def test_hold_keeps_the_message_held_until_resumed(instance, relay_sink):
    smtpd = start(instance, relay_sink, "{held@remote.test=HOLD}")
    msgid = send(smtpd, ["held@remote.test"])
    instance.wait_log(rf"NOQUEUE: hold: RCPT from .*<held@remote\.test>: Recipient address triggers HOLD action")
    r = instance.postern("show", "queue")
    assert r.returncode == 0, r.stderr
    [line] = [l for l in r.stdout.splitlines() if l]
    fields = line.split("|")
    assert fields[0].startswith(msgid) and fields[11] == "held", line
    assert relay_sink.messages == []
    r = instance.postern("resume", "envelope", fields[0])
    assert r.returncode == 0, r.stderr
    wait_for(lambda: relay_sink.messages, 15, what="delivery after resume")
    assert relay_sink.messages[0]["rcpts"] == ["held@remote.test"]


def test_discard_answers_250_and_nothing_is_delivered(instance, relay_sink):
    smtpd = start(instance, relay_sink, "{gone@remote.test=DISCARD}")
    send(smtpd, ["gone@remote.test"])
    instance.wait_log(r"discard: END-OF-MESSAGE from .*message discarded by an access action")
    send(smtpd, ["kept@remote.test"])  # a later message passes: the sink sees only it
    wait_for(lambda: relay_sink.messages, 15, what="the second message")
    assert [m["rcpts"] for m in relay_sink.messages] == [["kept@remote.test"]]
    wait_empty(instance)


def test_redirect_replaces_every_recipient(instance, relay_sink):
    smtpd = start(instance, relay_sink, "{a@client.test=REDIRECT boss@elsewhere.test}",
                  restriction="check_sender_access", stage="sender")
    send(smtpd, ["one@remote.test", "two@remote.test"])
    wait_for(lambda: relay_sink.messages, 15, what="the redirected message")
    assert [m["rcpts"] for m in relay_sink.messages] == [["boss@elsewhere.test"]]
    instance.wait_log(r"redirect: RCPT from .*<a@client\.test>: Sender address triggers REDIRECT boss@elsewhere\.test")


def test_bcc_adds_one_recipient(instance, relay_sink):
    smtpd = start(instance, relay_sink, "{127.0.0.1=BCC archive@keep.test}",
                  restriction="check_client_access", stage="client")
    send(smtpd, ["to@remote.test"])
    wait_for(lambda: sum(len(m["rcpts"]) for m in relay_sink.messages) == 2, 15, what="both copies")
    assert sorted(r for m in relay_sink.messages for r in m["rcpts"]) == ["archive@keep.test", "to@remote.test"]


def test_prepend_adds_the_header_above_received(instance, relay_sink):
    smtpd = start(instance, relay_sink, "{client.test=PREPEND X-Access: seen by postern}",
                  restriction="check_helo_access", stage="helo")
    send(smtpd, ["to@remote.test"])
    wait_for(lambda: relay_sink.messages, 15, what="the message")
    content = relay_sink.messages[0]["content"]
    assert content.startswith(b"X-Access: seen by postern\r\nReceived: from client.test"), content[:200]


def test_filter_routes_the_message_to_its_transport_and_destination(instance, relay_sink, filter_sink):
    smtpd = start(instance, relay_sink, f"{{filtered@remote.test=FILTER smtp:[127.0.0.4]:{filter_sink.port}}}")
    send(smtpd, ["filtered@remote.test", "plain@remote.test"])
    wait_for(lambda: filter_sink.messages, 15, what="the filter's copy")
    # FILTER is a message action: every recipient goes to the filter.
    assert sorted(filter_sink.messages[0]["rcpts"]) == ["filtered@remote.test", "plain@remote.test"]
    wait_empty(instance)
    assert relay_sink.messages == []


def test_header_checks_filter_routes_and_wins_over_an_access_filter(instance, relay_sink, filter_sink):
    # cleanup applies header_checks' FILTER at commit, after smtpd's access
    # FILTER (to the relay sink here): the later one wins, as in Postfix.
    hc = instance.config_dir / "hc"
    hc.write_text(f"/^X-Scan: yes/ FILTER smtp:[127.0.0.4]:{filter_sink.port}\n")
    instance.set(header_checks=f"regexp:{hc}")
    smtpd = start(instance, relay_sink, f"{{a@client.test=FILTER relay:[127.0.0.3]:{relay_sink.port}}}",
                  restriction="check_sender_access", stage="sender")
    send(smtpd, ["one@remote.test", "two@remote.test"], body="X-Scan: yes\r\n" + BODY)
    wait_for(lambda: filter_sink.messages, 15, what="the header_checks filter's copy")
    assert sorted(filter_sink.messages[0]["rcpts"]) == ["one@remote.test", "two@remote.test"]
    instance.wait_log(r"filter: header X-Scan: yes from .*: smtp:\[127\.0\.0\.4\]")
    # Without the header, the access FILTER routes it.
    send(smtpd, ["three@remote.test"])
    wait_for(lambda: relay_sink.messages, 15, what="the access filter's copy")
    assert relay_sink.messages[0]["rcpts"] == ["three@remote.test"]
    assert len(filter_sink.messages) == 1
