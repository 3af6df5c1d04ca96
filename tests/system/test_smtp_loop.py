"""Self-MX detection in the smtp client (Postfix's "loops back to myself"):
MX records from dnsmasq on a loopback port point at this host's own address
(inet_interfaces = 127.0.0.1, as every test instance has), mail goes through
qmgr and the real smtp workers; best_mx_transport hands such mail to another
transport (a qsink here, standing in for local)."""
import pytest

from conftest import common_free_port, wait_for
from qmgr_helpers import FAST, QTOOL, Sink as QSink, trigger, wait_empty
from test_smtp_client import BODY, Dnsmasq, Message, Sink

pytestmark = pytest.mark.skipif(not QTOOL.exists(), reason="test helpers not built")


@pytest.fixture
def port():
    """The SMTP port of this test's world (smtp_tcp_port), free on 127.0.0.1 and .3."""
    return common_free_port("127.0.0.1", "127.0.0.3")


@pytest.fixture
def world(instance, port):
    """self.test: MX on us; backup.test: a primary on 127.0.0.3, us as backup;
    lame.test: a primary without address, us as backup."""
    d = Dnsmasq([
        "--mx-host=self.test,mx.self.test,10",
        "--mx-host=self.test,far.test,20",
        "--host-record=mx.self.test,127.0.0.1",
        "--host-record=far.test,127.0.0.3",
        "--mx-host=backup.test,primary.backup.test,10",
        "--mx-host=backup.test,mx.self.test,20",
        "--host-record=primary.backup.test,127.0.0.3",
        "--mx-host=lame.test,nowhere.lame.test,10",
        "--mx-host=lame.test,mx.self.test,20",
        # Also an address for the dnsmasq readiness probe.
        "--host-record=mx1.example.test,127.0.0.9",
    ])
    instance.set(**{**FAST, "default_transport": "smtp", "relay_domains": "", "smtp_tcp_port": port,
                    "dns_servers": f"127.0.0.1:{d.port}"})
    instance.add_service("qmgr unix n - n 300 1 qmgr")
    instance.add_service("bounce unix - - n - 0 bounce")
    instance.add_service("smtp unix - - n - - smtp")
    yield instance
    d.stop()


def send(instance, *rcpts):
    # ";1": NOTIFY=NEVER, so no notice goes to the sender's (unserved) domain.
    msg = Message(instance, BODY, [r + ";1" for r in rcpts])
    trigger(instance)
    return msg


def test_best_mx_on_our_own_address_bounces_with_5_4_6(world, port):
    far = Sink("127.0.0.3", port)  # the worse MX: must not get it either
    try:
        world.start()
        msg = send(world, "u@self.test")
        world.wait_log(rf"smtp\[\d+\]: {msg.msgid_text}: to=<u@self\.test>, relay=none, .*dsn=5\.4\.6, "
                       r"status=bounced \(mail for self\.test loops back to myself\)", timeout=20)
        world.wait_log(rf"{msg.msgid_text}: removed")
        wait_empty(world)
        assert far.messages == []
    finally:
        far.stop()


def test_as_backup_mx_the_mail_goes_to_the_better_mx(world, port):
    primary = Sink("127.0.0.3", port)
    try:
        world.start()
        msg = send(world, "u@backup.test")
        wait_for(lambda: primary.messages, 20, what="delivery to the primary MX")
        world.wait_log(rf"{msg.msgid_text}: to=<u@backup\.test>, relay=primary\.backup\.test\[127\.0\.0\.3\]:{port}, "
                       r".*status=sent")
        wait_empty(world)
    finally:
        primary.stop()


def test_backup_mx_without_a_reachable_primary_defers_4_4_4(world):
    world.start()
    msg = send(world, "u@lame.test")
    world.wait_log(rf"{msg.msgid_text}: to=<u@lame\.test>, relay=none, .*dsn=4\.4\.4, "
                   r"status=deferred \(unable to find primary relay for lame\.test\)", timeout=20)


def test_best_mx_transport_delivers_mail_for_which_we_are_the_best_mx(world):
    local = QSink(world, "bestmx")
    world.set(best_mx_transport="bestmx")
    world.start()
    msg = send(world, "u@self.test")
    world.wait_log(rf"smtp\[\d+\]: {msg.msgid_text}: passing <self\.test> to transport=bestmx", timeout=20)
    wait_for(lambda: local.sent(), 20, what="delivery through best_mx_transport")
    assert local.sent() == [(msg.msgid_text, "u@self.test")]
    [req] = local.requests()
    assert (req["transport"], req["nexthop"]) == ("bestmx", "self.test")
    world.wait_log(rf"{msg.msgid_text}: removed")
    assert "loops back to myself" not in world.log()


def test_relayhost_on_our_own_address_is_a_configuration_problem_not_a_bounce(world):
    world.set(relayhost="[127.0.0.1]")  # smtp_tcp_port: the standard port, so loop detection applies
    world.start()
    msg = send(world, "u@elsewhere.test")
    world.wait_log(r"warning: relayhost configuration problem", timeout=20)
    world.wait_log(rf"{msg.msgid_text}: to=<u@elsewhere\.test>, relay=none, .*dsn=4\.3\.5, "
                   r"status=deferred \(mail for 127\.0\.0\.1 loops back to myself\)")


def test_a_server_on_our_address_at_another_port_is_not_a_loop(world):
    # A content filter or sink on 127.0.0.1:other-port: Postfix checks only the standard port.
    sink = Sink("127.0.0.1")
    try:
        world.set(relayhost=f"[127.0.0.1]:{sink.port}")
        world.start()
        msg = send(world, "u@elsewhere.test")
        wait_for(lambda: sink.messages, 20, what="delivery to the filter port")
        world.wait_log(rf"{msg.msgid_text}: to=<u@elsewhere\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:{sink.port}, "
                       r".*status=sent")
    finally:
        sink.stop()
