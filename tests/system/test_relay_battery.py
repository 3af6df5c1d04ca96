"""The open-relay battery (issue 14): a client outside mynetworks (127.0.0.2;
mynetworks = 127.0.0.1/32) tries every known trick to make postern relay, with
relayhost pointing at an SMTP sink that records what reaches it. Each trick is
either refused at RCPT or accepted as ours and then delivered through
local_transport (a qsink here); once qmgr has emptied the queue, the sink has
seen nothing. The instance is shared by the module: one start, one battery."""
import shutil
import socket

import pytest

from conftest import Instance, _traversable_tempdir, free_port, wait_for
from qmgr_helpers import FAST, QTOOL, Sink as QSink, envelopes, wait_empty
from test_smtp_client import Sink
from test_smtpd import Raw

pytestmark = pytest.mark.skipif(not QTOOL.exists(), reason="test helpers not built")

REFUSED, LOCAL = "refused", "local"
OUTSIDE, INSIDE = "127.0.0.2", "127.0.0.1"

# (name, what the client sends after MAIL, expected). A list of lines is sent
# in order (the last one is the RCPT); MAIL carries SMTPUTF8 when the name says so.
TRICKS = [
    # Plain remote destinations.
    ("remote", "RCPT TO:<user@other.test>", REFUSED),
    ("remote, upper case", "RCPT TO:<USER@OTHER.TEST>", REFUSED),
    ("remote, trailing dot", "RCPT TO:<user@other.test.>", REFUSED),
    ("remote, quoted local part", 'RCPT TO:<"user"@other.test>', REFUSED),
    ("remote, no brackets", "RCPT TO:user@other.test", REFUSED),
    ("remote, space after colon", "RCPT TO: <user@other.test>", REFUSED),
    ("remote, with DSN parameters naming us", "RCPT TO:<user@other.test> NOTIFY=NEVER ORCPT=rfc822;root@localhost",
     REFUSED),
    # Percent hack and bang paths through a local domain or our literal.
    ("percent hack", "RCPT TO:<user%other.test@localhost>", REFUSED),
    ("percent hack via our literal", "RCPT TO:<user%other.test@[127.0.0.1]>", REFUSED),
    ("double percent hack", "RCPT TO:<user%other.test%localhost@localhost>", REFUSED),
    ("percent hack, bare", "RCPT TO:<user%other.test>", REFUSED),
    ("bang path", "RCPT TO:<other.test!user@localhost>", REFUSED),
    ("bang path via our literal", "RCPT TO:<other.test!user@[127.0.0.1]>", REFUSED),
    ("bang path, bare", "RCPT TO:<other.test!user>", REFUSED),
    ("two-hop bang path", "RCPT TO:<a.test!other.test!user@localhost>", REFUSED),
    # Quoted local parts carrying an address.
    ("quoted address", 'RCPT TO:<"user@other.test"@localhost>', REFUSED),
    ("quoted address via our literal", 'RCPT TO:<"user@other.test"@[127.0.0.1]>', REFUSED),
    ("quoted percent hack", 'RCPT TO:<"user%other.test"@localhost>', REFUSED),
    ("quoted bang path", 'RCPT TO:<"other.test!user"@localhost>', REFUSED),
    ("quoted address, bare", 'RCPT TO:<"user@other.test">', REFUSED),
    ("escaped at sign", r"RCPT TO:<user\@other.test@localhost>", REFUSED),
    # Source routes (RFC 5321 A-d-l, dropped: the mailbox is what counts).
    ("source route via us", "RCPT TO:<@localhost:user@other.test>", REFUSED),
    ("source route via our literal", "RCPT TO:<@[127.0.0.1]:user@other.test>", REFUSED),
    ("source route, two hops", "RCPT TO:<@localhost,@mx.postern.test:user@other.test>", REFUSED),
    # Several at signs.
    ("user@a@b, remote last", "RCPT TO:<user@localhost@other.test>", REFUSED),
    ("user@a@b, us last", "RCPT TO:<user@other.test@localhost>", REFUSED),
    ("literal then remote", "RCPT TO:<user@[127.0.0.1]@other.test>", REFUSED),
    # Address literals that are not ours.
    ("foreign IPv4 literal", "RCPT TO:<user@[192.0.2.1]>", REFUSED),
    ("other loopback 127.0.0.2", "RCPT TO:<user@[127.0.0.2]>", REFUSED),
    ("other loopback 127.0.0.53", "RCPT TO:<user@[127.0.0.53]>", REFUSED),
    ("other loopback 127.1.2.3", "RCPT TO:<user@[127.1.2.3]>", REFUSED),
    ("network address 127.0.0.0", "RCPT TO:<user@[127.0.0.0]>", REFUSED),
    ("any address 0.0.0.0", "RCPT TO:<user@[0.0.0.0]>", REFUSED),
    ("IPv6 loopback (not listened on)", "RCPT TO:<user@[IPv6:::1]>", REFUSED),
    ("IPv6 documentation address", "RCPT TO:<user@[IPv6:2001:db8::1]>", REFUSED),
    ("IPv4-mapped foreign", "RCPT TO:<user@[IPv6:::ffff:192.0.2.1]>", REFUSED),
    ("IPv4-mapped other loopback", "RCPT TO:<user@[IPv6:::ffff:127.0.0.2]>", REFUSED),
    ("IPv4-mapped, long form, other loopback", "RCPT TO:<user@[IPv6:0:0:0:0:0:ffff:7f00:2]>", REFUSED),
    ("IPv4-compatible (not mapped) ::127.0.0.1", "RCPT TO:<user@[IPv6:::127.0.0.1]>", REFUSED),
    ("IPv6 without tag", "RCPT TO:<user@[::1]>", REFUSED),
    ("IPv4-mapped without tag", "RCPT TO:<user@[::ffff:127.0.0.1]>", REFUSED),
    ("IPv4 with IPv6 tag", "RCPT TO:<user@[IPv6:127.0.0.1]>", REFUSED),
    ("literal with port", "RCPT TO:<user@[127.0.0.1:25]>", REFUSED),
    ("short literal 127.1", "RCPT TO:<user@[127.1]>", REFUSED),
    ("hex literal", "RCPT TO:<user@[0x7f.0.0.1]>", REFUSED),
    ("octal literal", "RCPT TO:<user@[0177.0.0.1]>", REFUSED),
    ("zero-padded literal", "RCPT TO:<user@[127.000.000.001]>", REFUSED),
    ("decimal literal", "RCPT TO:<user@[2130706433]>", REFUSED),
    ("literal with a trailing dot inside", "RCPT TO:<user@[127.0.0.1.]>", REFUSED),
    ("literal with a space inside", "RCPT TO:<user@[ 127.0.0.1]>", REFUSED),
    ("unclosed literal", "RCPT TO:<user@[127.0.0.1>", REFUSED),
    # Numeric domains without brackets (resolve_numeric_domain = no).
    ("bare address, ours", "RCPT TO:<user@127.0.0.1>", REFUSED),
    ("bare address, foreign", "RCPT TO:<user@192.0.2.1>", REFUSED),
    ("bare decimal number", "RCPT TO:<user@2130706433>", REFUSED),
    # Look-alike, suffix/prefix and punycode domains.
    ("our name as a prefix", "RCPT TO:<user@localhost.other.test>", REFUSED),
    ("our name as a suffix label", "RCPT TO:<user@other.test.localhost>", REFUSED),
    ("our name inside a longer one", "RCPT TO:<user@mx.postern.test.other.test>", REFUSED),
    ("subdomain of our name", "RCPT TO:<user@sub.mx.postern.test>", REFUSED),
    ("hyphen look-alike", "RCPT TO:<user@mx-postern.test>", REFUSED),
    ("truncated look-alike", "RCPT TO:<user@mx.postern.tes>", REFUSED),
    ("two trailing dots", "RCPT TO:<user@localhost..>", REFUSED),
    ("leading dot", "RCPT TO:<user@.localhost>", REFUSED),
    ("punycode look-alike", "RCPT TO:<user@xn--lcalhost-9za>", REFUSED),
    ("punycode of another name", "RCPT TO:<user@xn--mnchen-3ya.test>", REFUSED),
    ("cyrillic look-alike without SMTPUTF8", "RCPT TO:<user@l\u043ecalhost>", REFUSED),
    ("cyrillic look-alike, SMTPUTF8", "RCPT TO:<user@l\u043ecalhost>", REFUSED),
    ("colon after our name", "RCPT TO:<user@localhost:other.test>", REFUSED),
    ("comma after our name", "RCPT TO:<user@localhost,other.test>", REFUSED),
    # NUL, CR and white space inside the path.
    ("NUL inside", "RCPT TO:<user@other.test\x00@localhost>", REFUSED),
    ("bare CR inside", "RCPT TO:<user@other.test\r@localhost>", REFUSED),
    ("space inside", "RCPT TO:<user@other.test @localhost>", REFUSED),
    ("tab inside", "RCPT TO:<user@other.test\t@localhost>", REFUSED),
    ("space before closing bracket", "RCPT TO:<user@other.test >", REFUSED),
    ("two paths", "RCPT TO:<user@localhost> <user@other.test>", REFUSED),
    # Claims of being someone else: postern speaks neither XCLIENT nor XFORWARD.
    ("XCLIENT ADDR from mynetworks", ["XCLIENT ADDR=127.0.0.1 NAME=localhost", "RCPT TO:<user@other.test>"],
     REFUSED),
    ("XFORWARD ADDR from mynetworks", ["XFORWARD ADDR=127.0.0.1", "RCPT TO:<user@other.test>"], REFUSED),
    ("HELO as ourselves", ["HELO mx.postern.test", "MAIL FROM:<root@mx.postern.test>", "RCPT TO:<user@other.test>"],
     REFUSED),
    # Ours: accepted, and delivered by local_transport.
    ("our own IPv4 literal", "RCPT TO:<root@[127.0.0.1]>", LOCAL),
    ("our literal, IPv4-mapped", "RCPT TO:<root@[IPv6:::ffff:127.0.0.1]>", LOCAL),
    ("our literal, IPv4-mapped, odd case", "RCPT TO:<root@[ipv6:::FFFF:127.0.0.1]>", LOCAL),
    ("our literal, IPv4-mapped, long form", "RCPT TO:<root@[IPv6:0:0:0:0:0:ffff:7f00:1]>", LOCAL),
    ("localhost", "RCPT TO:<root@localhost>", LOCAL),
    ("localhost in upper case", "RCPT TO:<root@LOCALHOST>", LOCAL),
    ("our host name, mixed case", "RCPT TO:<root@Mx.Postern.Test>", LOCAL),
    ("quoted plain local part", 'RCPT TO:<"root"@localhost>', LOCAL),
    # From outside mynetworks a bare local part must be qualified (501 5.1.3, smtpd(8)).
    ("bare local part", "RCPT TO:<root>", REFUSED),
    ("postmaster", "RCPT TO:<postmaster>", LOCAL),
]

SENDER = "MAIL FROM:<sender@mx.postern.test>"


def _ids():
    return [t[0] for t in TRICKS]


def _session(port, lines, smtputf8, source):
    """Runs one trick; returns (code, text) of the last reply, or (0, why)
    when the server closed the connection."""
    c = Raw(port, source)
    try:
        assert c.cmd("EHLO client.test")[0] == 250
        if isinstance(lines, str):
            lines = [lines]
        if not any(l.startswith("MAIL") for l in lines):
            assert c.cmd(SENDER + (" SMTPUTF8" if smtputf8 else ""))[0] == 250
        for line in lines:
            try:
                code, text = c.cmd(line)
            except (ConnectionError, OSError) as e:
                return 0, f"connection closed: {e}"
        if code == 250:
            assert c.cmd("DATA")[0] == 354
            c.send("Subject: relay battery\r\n\r\nbody\r\n.\r\n")
            assert c.reply()[0] == 250
        c.cmd("QUIT")
        return code, text
    finally:
        c.sock.close()


def _world(root):
    """An instance with smtpd on 127.0.0.1, qmgr, smtp and relay to a sink by
    relayhost, and local_transport = a qsink that records local deliveries."""
    inst = Instance(root)
    sink = Sink("127.0.0.3")
    local = QSink(inst, "localsink")
    inst.set(**{**FAST, "mydestination": "mx.postern.test, localhost", "mynetworks": "127.0.0.1/32",
                "local_recipient_maps": "", "alias_maps": "", "smtpd_error_sleep_time": "0",
                "relay_domains": "", "default_transport": "smtp", "local_transport": "localsink",
                "relayhost": f"[127.0.0.3]:{sink.port}"})
    inst.add_service("qmgr unix n - n 300 1 qmgr")
    inst.add_service("bounce unix - - n - 0 bounce")
    inst.add_service("smtp unix - - n - - smtp")
    inst.add_service("relay unix - - n - - smtp")
    port = free_port()
    inst.add_service(f"127.0.0.1:{port} inet n - n - - smtpd -o max_use=0")
    inst.start()
    wait_for(lambda: _answers(port), 10, what="smtpd greeting")
    return inst, sink, local, port


def _answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            return c.recv(512).startswith(b"220 ")
    except OSError:
        return False


@pytest.fixture(scope="module")
def battery():
    """Runs every trick once from outside mynetworks, then waits until qmgr
    has delivered everything that was accepted (the queue is empty)."""
    root = _traversable_tempdir()
    inst, sink, local, port = _world(root)
    try:
        replies = {name: _session(port, lines, "SMTPUTF8" in name, OUTSIDE) for name, lines, _ in TRICKS}
        wait_empty(inst, timeout=60)
        inst.wait_log(r"qmgr\[\d+\]: .*removed", timeout=5)
        yield dict(replies=replies, sink=sink, local=local, instance=inst)
    finally:
        sink.stop()
        inst.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def test_the_battery_has_at_least_sixty_tricks():
    assert len(TRICKS) >= 60 and len(set(_ids())) == len(TRICKS)


@pytest.mark.parametrize("name,lines,expected", TRICKS, ids=_ids())
def test_trick_from_outside_mynetworks(battery, name, lines, expected):
    code, text = battery["replies"][name]
    if expected == REFUSED:
        assert code != 250 and (code == 0 or 400 <= code < 600), (code, text)
    else:
        assert code == 250, (code, text)


def test_accepted_tricks_were_delivered_locally_and_the_relayhost_got_nothing(battery):
    accepted = [n for n, _, e in TRICKS if e == LOCAL]
    delivered = battery["local"].sent()
    # One local delivery per accepted trick, each by local_transport; nothing relayed.
    assert len(delivered) == len(accepted), delivered
    assert all(r["transport"] == "localsink" for r in battery["local"].requests())
    assert battery["sink"].messages == []
    assert envelopes(battery["instance"]) == []


def test_literals_of_our_address_are_delivered_locally_even_from_inside(tmp_path):
    """From mynetworks (where relaying is allowed) a literal of our own
    address still means us: local_transport, not the relayhost; a remote
    recipient in the same message does go to the relayhost (the sink works)."""
    root = _traversable_tempdir()
    inst, sink, local, port = _world(root)
    try:
        c = Raw(port, INSIDE)
        c.cmd("EHLO client.test")
        assert c.cmd(SENDER)[0] == 250
        for rcpt in ("root@[127.0.0.1]", "root@[IPv6:::ffff:127.0.0.1]", "user@other.test"):
            assert c.cmd(f"RCPT TO:<{rcpt}>") == (250, "2.1.5 Ok"), rcpt
        assert c.cmd("DATA")[0] == 354
        c.send("Subject: inside\r\n\r\nbody\r\n.\r\n")
        assert c.reply()[0] == 250
        c.sock.close()
        wait_for(lambda: sink.messages, 30, what="the remote recipient at the relayhost")
        wait_empty(inst, timeout=30)
        assert [m["rcpts"] for m in sink.messages] == [["user@other.test"]]
        assert sorted(r for _, r in local.sent()) == ["root@[127.0.0.1]", "root@[IPv6:::ffff:127.0.0.1]"]
    finally:
        sink.stop()
        inst.cleanup()
        shutil.rmtree(root, ignore_errors=True)
