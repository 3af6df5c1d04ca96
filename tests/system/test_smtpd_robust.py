# tests/system/test_smtpd_robust.py — smtpd against bad and hostile clients:
# over-long lines, NUL bytes, bare LF and smuggling attempts, too many
# recipients, garbage, slowloris, error limits, vanishing clients, SIGKILL
# of smtpd mid-message, and a thousand idle sessions in one process.
import os
import select
import signal
import struct
import threading
import time

import pytest

from conftest import wait_for
from test_smtpd import Raw, smtpd, start_smtpd, strip_received  # noqa: F401 (smtpd is a fixture)


def open_transaction(s, source="127.0.0.1"):
    c = s.raw(source=source)
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<alice@localhost>")[0] == 250
    return c


def body_files(instance):
    data = instance.queue_dir / "data"
    return [p for p in data.rglob("*") if p.is_file()] if data.exists() else []


# --- lines -------------------------------------------------------------------


# --- content -----------------------------------------------------------------

def test_bare_lf_in_data_is_normalized_by_default(smtpd):
    c = open_transaction(smtpd, source="127.0.0.2")
    c.cmd("DATA")
    c.send(b"Subject: b\r\n\r\nline1\nline2\r\n.\r\n")
    code, text = c.reply()
    assert code == 250, text
    m = smtpd.message(text.split()[-1])
    assert strip_received(m["body"]) == b"Subject: b\r\n\r\nline1\r\nline2\r\n"


def test_bare_lf_rejected_with_forbid_yes_and_nothing_queued(instance):
    s = start_smtpd(instance, smtpd_forbid_bare_newline="yes")
    c = open_transaction(s, source="127.0.0.2")  # outside the exclusions ($mynetworks)
    c.cmd("DATA")
    c.send(b"Subject: b\r\n\r\nline1\nline2\r\n.\r\n")
    assert c.reply() == (550, "5.5.2 Error: bare <LF> received")
    assert c.cmd("NOOP") == (250, "2.0.0 Ok")
    assert s.queue() == []
    # A command line ending in a bare LF is refused too.
    c.send(b"NOOP\n")
    assert c.reply() == (550, "5.5.2 Error: bare <LF> received")
    # Excluded clients are not rejected (the content is normalized).
    c = open_transaction(s, source="127.0.0.1")
    c.cmd("DATA")
    c.send(b"Subject: b\r\n\r\nline1\nline2\r\n.\r\n")
    assert c.reply()[0] == 250


SMUGGLING = [
    b"hello\n.\nMAIL FROM:<evil@evil.test>\r\nRCPT TO:<bob@localhost>\r\nDATA\r\nsmuggled\r\n",
    b"hello\r.\rMAIL FROM:<evil@evil.test>\r\nRCPT TO:<bob@localhost>\r\nDATA\r\nsmuggled\r\n",
    b"hello\r\n.\nMAIL FROM:<evil@evil.test>\r\nRCPT TO:<bob@localhost>\r\nDATA\r\nsmuggled\r\n",
    b"hello\n.\r\nMAIL FROM:<evil@evil.test>\r\nRCPT TO:<bob@localhost>\r\nDATA\r\nsmuggled\r\n",
]


@pytest.mark.parametrize("payload", SMUGGLING, ids=["lf.lf", "cr.cr", "crlf.lf", "lf.crlf"])
def test_smuggling_attempts_stay_inside_one_message(smtpd, payload):
    c = open_transaction(smtpd, source="127.0.0.2")
    c.cmd("DATA")
    c.send(b"Subject: s\r\n\r\n" + payload + b".\r\nQUIT\r\n")
    code, text = c.reply()
    assert code == 250, text
    assert c.reply() == (221, "2.0.0 Bye")  # nothing in between: no second transaction
    [m] = smtpd.queue()
    assert m["rcpts"] == ["alice@localhost"]
    assert b"MAIL FROM:<evil@evil.test>" in m["body"] and b"smuggled" in m["body"]


def test_1001_recipients_get_452_beyond_the_limit(smtpd):
    c = smtpd.raw()
    c.cmd("EHLO client.test")
    batch = "MAIL FROM:<a@example.org>\r\n" + "".join(f"RCPT TO:<u{i}@example.net>\r\n" for i in range(1001))
    c.send(batch)
    replies = c.replies(1002)
    assert replies[0] == (250, "2.1.0 Ok")
    assert all(r == (250, "2.1.5 Ok") for r in replies[1:1001])
    assert replies[1001] == (452, "4.5.3 Error: too many recipients")
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: many\r\n\r\nx\r\n.\r\n")
    code, text = c.reply()
    assert code == 250
    m = smtpd.message(text.split()[-1])
    assert m["nrcpt"] == 1000 and len(m["recipients"]) == 1000
    assert "u1000@example.net" not in m["rcpts"]


# --- hostile clients ---------------------------------------------------------

def test_binary_garbage_ends_in_421_and_the_worker_survives(smtpd):
    pid = smtpd.pids()
    c = smtpd.raw()
    garbage = bytes((i * 151 + 7) % 256 for i in range(20000)).replace(b"\x00", b"\x01")
    c.send(garbage.replace(b"\n", b"\r\n"))
    codes = []
    while True:
        try:
            code, text = c.reply()
        except ConnectionError:
            break
        codes.append(code)
        if code == 421:
            assert text == "4.7.0 mx.postern.test Error: too many errors"
            break
    assert codes[-1] == 421 and all(400 <= x < 600 for x in codes)
    assert c.closed()
    assert smtpd.pids() == pid
    d = smtpd.raw()
    assert d.cmd("EHLO client.test")[0] == 250


def test_slowloris_is_cut_off_by_smtpd_timeout(instance):
    s = start_smtpd(instance, smtpd_timeout="2s")
    mark = instance.log_mark()
    c = s.raw()
    start = time.monotonic()
    # One byte every quarter second: never a whole command.
    for ch in "EHLO slow.client.test":
        if select.select([c.sock], [], [], 0.25)[0]:
            break
        c.send(ch)
    c.sock.settimeout(5)
    reply = c.reply()
    elapsed = time.monotonic() - start
    assert reply == (421, "4.4.2 mx.postern.test Error: timeout exceeded")
    assert 1.5 < elapsed < 4.5
    assert c.closed()
    instance.wait_log(r"timeout after CONNECT from unknown\[127\.0\.0\.1\]", since=mark)


def test_soft_error_limit_delays_error_replies(instance):
    # A long sleep: a loaded machine's slowness (well under 2s a reply) cannot pass for it.
    s = start_smtpd(instance, smtpd_soft_error_limit="2", smtpd_error_sleep_time="4s")
    c = s.raw()
    for _ in range(2):
        t = time.monotonic()
        assert c.cmd("FOO")[0] == 502
        assert time.monotonic() - t < 2
    t = time.monotonic()
    assert c.cmd("FOO")[0] == 502
    assert time.monotonic() - t >= 3.9
    t = time.monotonic()
    assert c.cmd("NOOP")[0] == 250  # good replies are not delayed
    assert time.monotonic() - t < 2


def content_read(s, since):
    """Waits until smtpd read content after `since` (its io trace: run
    `postern trace io` first), so a close or a kill comes mid-message."""
    s.instance.wait_log(r"trace: io: unknown\[127\.0\.0\.1\]: read \d+ bytes", since=since, timeout=10)


def test_client_vanishing_mid_data_leaves_nothing(smtpd):
    assert smtpd.instance.postern("trace", "io").returncode == 0
    mark = smtpd.instance.log_mark()
    c = open_transaction(smtpd)
    c.cmd("DATA")
    read_from = smtpd.instance.log_mark()
    c.send(b"Subject: gone\r\n\r\n" + b"z" * 200000)
    content_read(smtpd, read_from)
    c.close()
    smtpd.instance.wait_log(r"lost connection after DATA from unknown\[127\.0\.0\.1\]", since=mark)
    smtpd.instance.wait_log(r"disconnect from unknown\[127\.0\.0\.1\]", since=mark)
    assert smtpd.queue() == []
    assert body_files(smtpd.instance) == []


def test_client_that_does_not_read_its_replies_is_throttled(smtpd):
    # Our receive buffer is fixed small, so smtpd's replies back up into its
    # own send buffer (at most tcp_wmem's ceiling); send commands enough to
    # overflow that twice over, whatever the kernel's sizes here.
    c = smtpd.raw(rcvbuf=64 * 1024)
    [pid] = smtpd.pids()
    before = rss_kib(pid)
    reply = b"250 2.0.0 Ok\r\n"
    wmem_max = int(open("/proc/sys/net/ipv4/tcp_wmem").read().split()[2])
    n = 2 * wmem_max // len(reply) + 100000
    sender = threading.Thread(target=c.send, args=(b"NOOP\r\n" * n,))
    sender.start()
    # We read nothing: smtpd must stop reading rather than buffer replies. It
    # has when commands pile up unread in its own socket's receive queue.
    wait_for(lambda: unread_by_server(smtpd.port, c.sock) > 64 * 1024, 60, what="smtpd to stop reading")
    held = rss_kib(pid) - before
    c.sock.settimeout(30)
    got = read_exactly(c, n * len(reply))
    assert got == reply * n
    sender.join()
    assert c.cmd("QUIT")[0] == 221
    assert held < 8 * 1024, f"smtpd grew by {held} KiB while the client did not read"


def read_exactly(c, size):
    parts, have = [c.buf], len(c.buf)
    while have < size:
        chunk = c.sock.recv(1 << 20)
        assert chunk, "smtpd closed the connection"
        parts.append(chunk)
        have += len(chunk)
    data = b"".join(parts)
    c.buf = data[size:]
    return data[:size]


def unread_by_server(port, client):
    """Bytes in smtpd's socket (local port `port`, peer = client's address)
    that smtpd has not read: rx_queue of its row in /proc/net/tcp."""
    peer = client.getsockname()[1]
    for line in open("/proc/net/tcp").readlines()[1:]:
        f = line.split()
        local, remote = int(f[1].split(":")[1], 16), int(f[2].split(":")[1], 16)
        if local == port and remote == peer:
            return int(f[4].split(":")[1], 16)
    return 0


# --- crashes -----------------------------------------------------------------

def test_sigkill_during_data_queues_nothing(smtpd):
    assert smtpd.instance.postern("trace", "io").returncode == 0
    c = open_transaction(smtpd)
    c.cmd("DATA")
    read_from = smtpd.instance.log_mark()
    c.send(b"Subject: killed\r\n\r\n" + b"k" * 100000 + b"\r\n")
    content_read(smtpd, read_from)
    [pid] = smtpd.pids()
    os.kill(pid, signal.SIGKILL)
    assert c.closed()
    assert smtpd.queue() == []


def test_sigkill_right_after_250_keeps_the_message(smtpd):
    c = open_transaction(smtpd)
    c.cmd("DATA")
    content = b"Subject: durable\r\n\r\n" + b"d" * 50000 + b"\r\n"
    c.send(content + b".\r\n")
    code, text = c.reply()
    [pid] = smtpd.pids()
    os.kill(pid, signal.SIGKILL)
    assert code == 250
    m = smtpd.message(text.split()[-1])
    assert strip_received(m["body"]) == content
    assert m["rcpts"] == ["alice@localhost"]


# --- scale -------------------------------------------------------------------

def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_one_process_holds_1000_idle_sessions(instance, capsys):
    s = start_smtpd(instance)
    first = s.raw()
    first.cmd("EHLO client.test")
    [pid] = s.pids()
    before = rss_kib(pid)
    conns = []
    for i in range(1000):
        conns.append(Raw(s.port, timeout=20))
    assert all(c.greeting[0] == 220 for c in conns)
    greeted = rss_kib(pid)
    for c in conns:
        c.send("EHLO client.test\r\n")
    for c in conns:
        assert c.reply()[0] == 250
    talked = rss_kib(pid)
    assert s.pids() == [pid]  # one process serves them all
    # Every session is still alive and answering.
    for c in conns[::50]:
        assert c.cmd("NOOP") == (250, "2.0.0 Ok")
    per_greeted = (greeted - before) / 1000
    per_talked = (talked - before) / 1000
    with capsys.disabled():
        print(f"\nsmtpd pid {pid}: RSS {before} KiB with 1 session, {greeted} KiB with 1001 greeted sessions "
              f"({per_greeted:.1f} KiB each), {talked} KiB after EHLO on each ({per_talked:.1f} KiB each)")
    assert per_talked < 64
    for c in conns:
        c.close()
