# tests/system/test_smtp_debug_peer.py — debug_peer_list in the smtp client:
# the whole dialogue with a listed server (by address, or by name and its
# parent domains) is logged at info level; other servers' is not.
import pytest

from test_smtp_client import BODY, Message, Sink, agent, deliver, dns, port  # noqa: F401 (fixtures)


@pytest.fixture
def listed_by_address(instance, request):
    instance.set(debug_peer_list="127.0.0.3")
    return request.getfixturevalue("agent")


@pytest.fixture
def listed_by_name(instance, request):
    request.getfixturevalue("dns")
    instance.set(debug_peer_list="example.test", smtp_tcp_port=request.getfixturevalue("port"))
    return request.getfixturevalue("agent")


def test_dialogue_of_a_listed_server_is_logged(listed_by_address):
    instance = listed_by_address
    listed, other = Sink("127.0.0.3"), Sink("127.0.0.2")
    try:
        msg = Message(instance, BODY, ["u@x.test"])
        assert deliver(instance, msg, f"[127.0.0.3]:{listed.port}")["u@x.test"]["status"] == "S"
        peer = rf"127\.0\.0\.3\[127\.0\.0\.3\]:{listed.port}"
        instance.wait_log(rf"smtp\[\d+\]: < {peer}: 220 ")
        instance.wait_log(rf"smtp\[\d+\]: > {peer}: EHLO mx\.postern\.test")
        instance.wait_log(rf"smtp\[\d+\]: < {peer}: 250-")
        instance.wait_log(rf"smtp\[\d+\]: > {peer}: MAIL FROM:<sender@example\.org>")
        instance.wait_log(rf"smtp\[\d+\]: < {peer}: 250 .*queued as SINK1")
        msg = Message(instance, BODY, ["v@x.test"])
        assert deliver(instance, msg, f"[127.0.0.2]:{other.port}")["v@x.test"]["status"] == "S"
        instance.wait_log(rf"{msg.msgid_text}: to=<v@x\.test>, relay=127\.0\.0\.2\[127\.0\.0\.2\]:{other.port}, .*status=sent")
        assert "127.0.0.2[127.0.0.2]:%d: EHLO" % other.port not in instance.log()
        assert "trace: transfer" not in instance.log()
    finally:
        listed.stop()
        other.stop()


def test_a_listed_domain_covers_its_mx_hosts(listed_by_name, port):
    instance = listed_by_name
    sink = Sink("127.0.0.2", port)
    try:
        msg = Message(instance, BODY, ["u@example.test"])
        assert deliver(instance, msg, "example.test")["u@example.test"]["status"] == "S"
        instance.wait_log(rf"> mx1\.example\.test\[127\.0\.0\.2\]:{port}: RCPT TO:<u@example\.test>")
    finally:
        sink.stop()
