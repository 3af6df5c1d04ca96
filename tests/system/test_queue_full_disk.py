"""A full queue file system (issue 20): smtpd refuses with 452 4.3.1 before
the disk is full, qmgr backs off with one warning per interval instead of
retrying in a tight loop, the space reserve lets the queue drain on a full
disk once the next hop is back, and nothing acknowledged is lost. The queue
lives on a small tmpfs (root only), filled by SMTP clients and then by an
other file, as a growing log would."""
import os
import re
import smtplib
import subprocess
import time

import pytest
from aiosmtpd.controller import Controller

from conftest import BIN, free_port, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")

RCPTS = 20            # recipients per message: many envelopes whose deferral grows the queue file
BODY = 64 * 1024      # over 32 KiB: each body is a file of its own


@pytest.fixture
def small_fs(instance):
    """The instance's queue directory on a 16 MiB tmpfs."""
    qdir = instance.queue_dir
    qdir.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(qdir)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount tmpfs: " + r.stderr.decode())
    yield qdir
    instance.cleanup()
    subprocess.run(["umount", "-l", str(qdir)], check=False)


class Recorder:
    def __init__(self):
        self.rcpts = set()

    async def handle_DATA(self, server, session, envelope):
        self.rcpts.update(envelope.rcpt_tos)
        return "250 2.0.0 Ok"


def configure(instance, hop, **params):
    """smtpd refuses below 3 MiB free (1.5 x message_size_limit), above the reserve, as by default."""
    instance.set(relayhost=f"[127.0.0.1]:{hop}", minimal_backoff_time="1s", maximal_backoff_time="2s",
                 queue_run_delay="1s", transport_retry_time="1s", service_throttle_time="1s",
                 mynetworks="127.0.0.0/8", message_size_limit="2m", **params)
    instance.add_service("qmgr unix n - n 300 1 qmgr")
    instance.add_service("bounce unix - - n - 0 bounce")
    instance.add_service("smtp unix - - n - - smtp")
    port = free_port()
    instance.add_service(f"127.0.0.1:{port} inet n - n - - smtpd")
    return port


def send_one(port, i):
    """(code, text, rcpts): the reply that ended the transaction."""
    rcpts = [f"m{i}r{j}@example.net" for j in range(RCPTS)]
    body = (f"Subject: {i}\r\n\r\n" + "x" * 76 + "\r\n") * (BODY // 78)
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as c:
        c.ehlo("client.test")
        code, text = c.mail(f"s{i}@example.org")
        if code != 250:
            return code, text.decode(), rcpts
        for r in rcpts:
            code, text = c.rcpt(r)
            assert code == 250, (code, text)
        code, text = c.data(body.encode())
        return code, text.decode(), rcpts


def fill_by_clients(port):
    """Sends until the queue refuses three times in a row: (accepted rcpts, refusals)."""
    accepted, refused = [], []
    for i in range(2000):
        code, text, rcpts = send_one(port, i)
        if code == 250:
            accepted += rcpts
            refused.clear()
            continue
        refused.append((code, text))
        if len(refused) == 3:
            return accepted, refused
    raise AssertionError("the queue never refused")


def write_until_full(path, chunk):
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass


def fill_rest(directory):
    """Another writer takes what the queue left: the file system is full."""
    write_until_full(os.path.join(directory, "filler"), b"\0" * 65536)
    write_until_full(os.path.join(directory, "filler2"), b"\0" * 512)  # the last pieces
    st = os.statvfs(directory)
    assert st.f_bavail * st.f_frsize < 64 * 1024


def lines_since(instance, mark):
    return instance.log()[mark:].splitlines()


def fill_while_paused(instance, port, small_fs):
    """Mail queued and taken into qmgr's active set with delivery paused, the
    file system then filled; returns the accepted recipients."""
    assert instance.postern("pause", "mta").returncode == 0
    accepted, refused = fill_by_clients(port)
    assert len(accepted) >= 20 * RCPTS
    assert all(code == 452 and text.startswith("4.3.1 Insufficient system storage") for code, text in refused), refused
    instance.wait_log(r"NOQUEUE: reject: MAIL from \S+: 452 4.3.1 Insufficient system storage;")
    fill_rest(small_fs)
    return accepted


def test_full_disk_drains_when_the_next_hop_returns_without_freeing_space(instance, small_fs):
    hop = free_port()
    port = configure(instance, hop, queue_reserve_size="2m")
    instance.start()
    reserve = small_fs / "queue.reserve"
    wait_for(lambda: reserve.exists() and reserve.stat().st_size == 2 << 20, timeout=30, what="the reserve")
    accepted = fill_while_paused(instance, port, small_fs)
    mark = instance.log_mark()
    # The next hop is still down: every recipient is deferred, each deferral
    # a queue commit that grows the file (the error text is new), on a full disk.
    assert instance.postern("resume", "mta").returncode == 0
    instance.wait_log(r"qmgr\[\d+\]: warning: queue file system full: 2097152 bytes of reserve \(\S+\) released",
                      since=mark, timeout=120)
    instance.wait_log(r"status=deferred", since=mark, count=len(accepted), timeout=120)
    code, text, _ = send_one(port, 9999)  # the reserve is not for new mail
    assert (code, text[:5]) == (452, "4.3.1")
    recorder = Recorder()
    sink = Controller(recorder, hostname="127.0.0.1", port=hop)
    sink.start()
    try:
        assert instance.postern("flush").returncode == 0
        wait_for(lambda: recorder.rcpts >= set(accepted), timeout=300, interval=0.5,
                 what=f"{len(accepted)} recipients delivered (got {len(recorder.rcpts)})")
        wait_for(lambda: not [p for p in (small_fs / "data").rglob("*") if p.is_file()], timeout=60,
                 what="every body file removed")
    finally:
        sink.stop()
    assert (small_fs / "filler").exists()  # no space was freed for the drain
    assert recorder.rcpts == set(accepted)  # and nothing refused was delivered
    r = instance.postern("show", "status")
    assert r.returncode == 0, r.stderr
    m = re.search(r"^QUEUE file (\d+) bytes, (\d+) bytes in use, map (\d+) bytes \((\d+\.\d)% full\)$", r.stdout, re.M)
    assert m, r.stdout
    file_bytes, used, mapsize = (int(m.group(i)) for i in (1, 2, 3))
    assert file_bytes == os.stat(small_fs / "queue.lmdb").st_size
    assert 0 < used <= file_bytes < mapsize


def test_failing_queue_commits_back_off_with_one_warning_per_interval(instance, small_fs):
    hop = free_port()
    port = configure(instance, hop, queue_reserve_size="0")
    instance.start()
    accepted = fill_while_paused(instance, port, small_fs)
    mark = instance.log_mark()
    assert instance.postern("resume", "mta").returncode == 0
    instance.wait_log(r"qmgr\[\d+\]: warning: .*; queue changes retried in \d+s", since=mark, timeout=120)
    # Each recipient's deferral is logged once; their commits wait for the backoff.
    instance.wait_log(r"status=deferred", since=mark, count=len(accepted), timeout=120)
    start_mark, t0 = instance.log_mark(), time.monotonic()
    # The condition lasts: count what is written over ten seconds of it.
    wait_for(lambda: time.monotonic() - t0 >= 10, timeout=15, what="ten seconds")
    quiet = lines_since(instance, start_mark)
    assert len(quiet) <= 20, "%d lines in 10 s:\n%s" % (len(quiet), "\n".join(quiet[:50]))
    # Space back and the next hop up: the retried changes go through and the queue drains.
    os.unlink(small_fs / "filler")
    recorder = Recorder()
    sink = Controller(recorder, hostname="127.0.0.1", port=hop)
    sink.start()
    try:
        instance.wait_log(r"qmgr\[\d+\]: queue changes work again", since=mark, timeout=60)
        wait_for(lambda: recorder.rcpts >= set(accepted), timeout=300, interval=0.5,
                 what=f"{len(accepted)} recipients delivered (got {len(recorder.rcpts)})")
    finally:
        sink.stop()
