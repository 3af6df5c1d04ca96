"""What the smtp/lmtp client puts on the wire (issue 14): long lines broken
or folded within smtp_line_length_limit, 8BITMIME mail converted to
quoted-printable for a server without 8BITMIME, SMTPUTF8 mail sent or
bounced as Postfix does, and mail too deeply nested to convert bounced.
Peers: aiosmtpd (which refuses lines over 1,000 octets) and the scripted
peer of test_smtp_client.py offering neither 8BITMIME nor SMTPUTF8."""
import email
import email.policy

from test_smtp_client import Message, Scripted, Sink, agent, deliver  # noqa: F401 (fixture)

EIGHTBIT, SMTPUTF8 = 1, 2


def unstuff(wire):
    """The scripted peer keeps the DATA lines as they came: undo dot-stuffing."""
    return b"".join(l[1:] if l.startswith(b".") else l for l in wire.splitlines(keepends=True))


def wire_lines(content):
    return content.split(b"\r\n")


def test_a_2000_octet_body_line_arrives_whole_in_short_lines(agent):
    sink = Sink("127.0.0.3")
    try:
        # The break after 990 octets puts a '.' first on the continuation line.
        long_line = b"a" * 990 + b"." + b"b" * 1009
        body = b"Subject: long body line\r\n\r\nbefore\r\n" + long_line + b"\r\nafter\r\n"
        msg = Message(agent, body, ["u@x.test"])
        r = deliver(agent, msg, f"[127.0.0.3]:{sink.port}")["u@x.test"]
        assert r["status"] == "S", r["reason"]
        got = sink.messages[0]["content"]
        assert max(len(l) for l in wire_lines(got)) <= 998
        assert b"." + b"b" * 989 in wire_lines(got)  # stuffed on the wire, unstuffed by aiosmtpd
        assert b"".join(wire_lines(got)) == b"".join(wire_lines(body))
    finally:
        sink.stop()


def test_a_1mb_header_line_arrives_folded_and_unfolds_to_the_original(agent):
    sink = Sink("127.0.0.3")
    try:
        value = bytes(ord("a") + i % 26 for i in range(1 << 20))
        body = b"Subject: big header\r\nX-Huge: " + value + b"\r\n\r\nbody\r\n"
        msg = Message(agent, body, ["u@x.test"])
        r = deliver(agent, msg, f"[127.0.0.3]:{sink.port}", timeout=60)["u@x.test"]
        assert r["status"] == "S", r["reason"]
        got = sink.messages[0]["content"]
        assert max(len(l) for l in wire_lines(got)) <= 998
        assert got.count(b"\r\n ") > 1000  # folded: each continuation starts with a space
        assert got.replace(b"\r\n ", b"") == body
    finally:
        sink.stop()


def test_smtp_line_length_limit_sets_where_lines_break(agent):
    peer = Scripted("127.0.0.3")
    try:
        agent.set(smtp_line_length_limit="500")
        agent.reload()
        body = b"Subject: x\r\n\r\n" + b"z" * 1200 + b"\r\n"
        msg = Message(agent, body, ["u@x.test"])
        assert deliver(agent, msg, f"[127.0.0.3]:{peer.port}")["u@x.test"]["status"] == "S"
        assert peer.bodies == [b"Subject: x\r\n\r\n" + b"z" * 500 + b"\r\n" + b"z" * 500 + b"\r\n" + b"z" * 200 + b"\r\n"]
    finally:
        peer.stop()


def test_lmtp_reads_its_own_line_length_limit(agent):
    path = agent.root / "lmtp.sock"
    peer = Scripted(path=path, lmtp=True)
    try:
        agent.set(lmtp_line_length_limit="100")
        agent.reload()
        body = b"Subject: x\r\n\r\n" + b"q" * 250 + b"\r\n"
        msg = Message(agent, body, ["u@x.test"])
        assert deliver(agent, msg, f"unix:{path}", transport="lmtp")["u@x.test"]["status"] == "S"
        assert peer.bodies == [b"Subject: x\r\n\r\n" + b"q" * 100 + b"\r\n" + b"q" * 100 + b"\r\n" + b"q" * 50 + b"\r\n"]
    finally:
        peer.stop()


MULTIPART_8BIT = (
    "From: a@example.org\r\nSubject: 8bit\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"sep\"\r\n\r\n"
    "preamble\r\n--sep\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    "Grüße aus Köln = schön \r\n.dot line\r\n" + "ä" * 200 + "\r\n"
    "--sep\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain ascii\r\n--sep--\r\n"
).encode()


def test_8bit_mail_is_converted_to_quoted_printable_for_a_server_without_8bitmime(agent):
    peer = Scripted("127.0.0.3", extensions=("PIPELINING", "SIZE 10000000"))
    try:
        msg = Message(agent, MULTIPART_8BIT, ["u@x.test"], args=["--8bit"])
        r = deliver(agent, msg, f"[127.0.0.3]:{peer.port}", flags=EIGHTBIT)["u@x.test"]
        assert r["status"] == "S", r["reason"]
        mail = next(l for l in peer.lines if l.startswith("MAIL"))
        assert "BODY=8BITMIME" not in mail and "SIZE=" not in mail  # Postfix announces no size it would change
        got = unstuff(peer.bodies[0])
        assert max(got) < 128, "not 7-bit clean"
        assert max(len(l) for l in got.split(b"\r\n")) <= 76
        parsed = email.message_from_bytes(got, policy=email.policy.default)
        text, plain = [p for p in parsed.iter_parts()]
        assert text["Content-Transfer-Encoding"] == "quoted-printable"
        # The CRLF before a boundary belongs to the boundary (RFC 2046).
        assert text.get_content().replace("\r\n", "\n") == "Grüße aus Köln = schön \n.dot line\n" + "ä" * 200
        assert plain.get_content().replace("\r\n", "\n") == "plain ascii"
    finally:
        peer.stop()


def test_8bit_mail_goes_unchanged_when_conversion_is_disabled(agent):
    peer = Scripted("127.0.0.3", extensions=("PIPELINING",))
    try:
        agent.set(disable_mime_output_conversion="yes")
        agent.reload()
        msg = Message(agent, MULTIPART_8BIT, ["u@x.test"], args=["--8bit"])
        assert deliver(agent, msg, f"[127.0.0.3]:{peer.port}", flags=EIGHTBIT)["u@x.test"]["status"] == "S"
        assert unstuff(peer.bodies[0]) == MULTIPART_8BIT
    finally:
        peer.stop()


def test_mime_nesting_over_the_limit_bounces_with_a_clear_reason(agent):
    peer = Scripted("127.0.0.3", extensions=("PIPELINING",))
    try:
        head, tail = b"", b""
        for i in range(101):  # one level more than mime_nesting_limit (100)
            head += b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
            tail = b"--b%d--\r\n" % i + tail
        body = head + b"Content-Transfer-Encoding: 8bit\r\n\r\n\xc3\xa9\r\n" + tail
        msg = Message(agent, body, ["u@x.test"], args=["--8bit"])
        r = deliver(agent, msg, f"[127.0.0.3]:{peer.port}", flags=EIGHTBIT)["u@x.test"]
        assert (r["status"], r["dsn"], r["reason"]) == ("B", "5.6.0", "MIME nesting exceeds safety limit")
        agent.wait_log(rf"{msg.msgid_text}: to=<u@x\.test>, .*dsn=5\.6\.0, status=bounced "
                       r"\(MIME nesting exceeds safety limit\)")
    finally:
        peer.stop()


def test_smtputf8_mail_with_ascii_envelope_and_header_goes_without_smtputf8(agent):
    sink = Sink("127.0.0.3", enable_SMTPUTF8=False)
    try:
        body = "Subject: ascii header\r\n\r\nbody with ünïcode\r\n".encode()
        msg = Message(agent, body, ["u@x.test"], args=["--smtputf8", "--8bit"])
        r = deliver(agent, msg, f"[127.0.0.3]:{sink.port}", flags=SMTPUTF8 | EIGHTBIT)["u@x.test"]
        assert r["status"] == "S", r["reason"]
        assert "SMTPUTF8" not in sink.messages[0]["mail_options"]
    finally:
        sink.stop()


def test_smtputf8_mail_with_a_utf8_sender_bounces_5_6_7(agent):
    sink = Sink("127.0.0.3", enable_SMTPUTF8=False)
    try:
        msg = Message(agent, b"Subject: ascii\r\n\r\nbody\r\n", ["u@x.test"], sender="jörg@example.org",
                      args=["--smtputf8"])
        r = deliver(agent, msg, f"[127.0.0.3]:{sink.port}", flags=SMTPUTF8)["u@x.test"]
        assert (r["status"], r["dsn"]) == ("B", "5.6.7")
        assert r["reason"] == "SMTPUTF8 is required, but was not offered by host 127.0.0.3[127.0.0.3]"
        assert sink.messages == []
    finally:
        sink.stop()
