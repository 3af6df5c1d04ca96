"""qmgr's start-up recovery (issue 18): a restart in the same boot (reload,
kill -9) reads no message body, however big the queue; after a system restart
every body is checked and one lost to the crash makes its message corrupt; a
body file left by a receiver killed mid-message is removed."""
import os
import signal
import subprocess

import pytest

from conftest import LineClient, free_port, wait_for
from qmgr_helpers import Sink, configure, envelopes, inject, trigger

CHECKED = r"queue recovery: (\d+) of (\d+) message bodies checked \((\w+)"


def body_file(instance, msgid):
    return instance.queue_dir / "data" / msgid[6:] / msgid


def checked(instance, since, timeout=20.0):
    m = instance.wait_log(CHECKED, since=since, timeout=timeout)
    return int(m.group(1)), int(m.group(2)), m.group(3)


def deferring_instance(instance):
    configure(instance)
    Sink(instance).rules("* defer 451 later\n")
    return instance


def forget_boot_check(instance):
    """What the queue holds after the OS restarted: its last body check
    belongs to another boot id (written as a system crash leaves it)."""
    r = subprocess.run(["mdb_load", "-n", "-T", "-s", "count", str(instance.queue_dir / "queue.lmdb")],
                       input=b"body_check_boot_id\n00000000-0000-0000-0000-000000000000\n", capture_output=True)
    assert r.returncode == 0, r.stderr


NO_BOOT_ID = not os.path.exists("/proc/sys/kernel/random/boot_id")


@pytest.mark.skipif(NO_BOOT_ID, reason="no boot id: every start checks every body")
def test_qmgr_restarts_in_the_same_boot_read_no_body(instance):
    deferring_instance(instance)
    inject(instance, "u@example.test", count=300, trigger=False)
    instance.start()
    # The first start on this queue in this boot checks every body.
    assert checked(instance, 0) == (300, 300, "all")
    mark = instance.log_mark()
    instance.reload()
    assert checked(instance, mark) == (0, 300, "none")
    # The old qmgr may still be recording its last results: the one left.
    (qmgr_pid,) = wait_for(lambda: len(instance.workers("qmgr")) == 1 and instance.workers("qmgr"),
                           what="the new qmgr alone")
    mark = instance.log_mark()
    os.kill(qmgr_pid, signal.SIGKILL)
    wait_for(lambda: not instance.workers("qmgr"), what="qmgr gone")
    trigger(instance)  # master starts a new qmgr
    assert checked(instance, mark) == (0, 300, "none")


def test_a_body_lost_to_a_system_crash_makes_its_message_corrupt(instance):
    deferring_instance(instance)
    ids = inject(instance, "u@example.test", count=5, size=40000, trigger=False)  # bodies in files
    instance.start()
    assert checked(instance, 0) == (5, 5, "all")
    instance.stop()
    # The crash took the last writes of two bodies, and the system booted again.
    os.truncate(body_file(instance, ids[1]), 100)
    body_file(instance, ids[3]).unlink()
    forget_boot_check(instance)
    mark = instance.log_mark()
    instance.start()
    assert checked(instance, mark) == (5, 5, "all")
    instance.wait_log(r"queue recovery: 0 orphaned bodies removed, 2 messages corrupt", since=mark)
    states = {e["id"][:8]: e["state"] for e in envelopes(instance)}
    assert states[ids[1]] == states[ids[3]] == "corrupt"
    assert all(states[i] != "corrupt" for i in (ids[0], ids[2], ids[4]))


def body_files(instance):
    return [p for p in (instance.queue_dir / "data").glob("*/*") if p.is_file()]


def test_a_body_left_by_a_receiver_killed_mid_message_is_removed(instance):
    deferring_instance(instance)
    port = free_port()
    instance.add_service(f"127.0.0.1:{port} inet n - n - - smtpd")
    instance.start()
    checked(instance, 0)
    c = LineClient(port)
    line = c.command("EHLO client.test")
    while line[3:4] == "-":
        line = c.readline()
    for line in ("MAIL FROM:<a@client.test>", "RCPT TO:<u@example.test>", "DATA"):
        assert c.command(line)[:3] in ("250", "354"), line
    # More than an inline body holds, in more than one 64 KiB write of
    # cleanup's: the receiver writes it to a file before the end of DATA.
    c.send("Subject: cut short\r\n\r\n" + ("x" * 70 + "\r\n") * 2000)
    (partial,) = wait_for(lambda: body_files(instance), timeout=20, what="the body file being written")
    (smtpd_pid,) = instance.workers("smtpd")
    os.kill(smtpd_pid, signal.SIGKILL)
    wait_for(lambda: not instance.workers("smtpd"), what="smtpd gone")
    c.close()
    mark = instance.log_mark()
    instance.reload()
    instance.wait_log(rf"{partial.name}: removed orphaned queue file", since=mark, timeout=20)
    assert not partial.exists()
    assert envelopes(instance) == []  # never acknowledged, never queued
