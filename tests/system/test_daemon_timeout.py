"""daemon_timeout (issue 19): a worker whose loop makes no progress for
daemon_timeout is ended by its watchdog with Postfix's "fatal: watchdog
timeout", master logs the exit, and the service goes on; the message being
delivered stays queued and is delivered by the next worker. The wedge is a
real synchronous step: local runs a delivery command to its end (up to
command_time_limit) before its loop turns again."""
import os
import re
import signal
import time

from conftest import wait_for
from test_local import Mda, chown_tree


def test_wedged_local_worker_is_killed_and_its_message_delivered_later(instance):
    mda = Mda(instance)
    instance.set(daemon_timeout="2s", command_time_limit="120s")
    first, delivered = mda.out / "first.pid", mda.out / "delivered"
    script = mda.out / "slow.sh"
    # The first attempt hangs; the retry takes the message.
    script.write_text(f"#!/bin/sh\nif [ ! -e {first} ]; then echo $$ > {first}; exec sleep 60; fi\n"
                      f"cat > {delivered}\n")
    script.chmod(0o755)
    mda.write_aliases(f'slow: "|{script}"\n')
    mda.start()
    try:
        msgid = mda.send(["slow@localhost"], b"Subject: wedged\r\n\r\nbody\r\n")
        m = instance.wait_log(r"postern/local\[(\d+)\]: fatal: watchdog timeout", timeout=20)
        pid = m.group(1)
        instance.wait_log(rf"postern/master\[\d+\]: warning: process \S+/local pid {pid} exit status 1")
        instance.wait_log(rf"{msgid}: to=<slow@localhost>, .*status=deferred \(unknown mail transport error\)")
        # The message answered 250 is not lost: a new local worker delivers it.
        text = wait_for(lambda: delivered.exists() and delivered.read_bytes(), timeout=20,
                        what="the retried delivery")
        assert b"Subject: wedged" in text
        mda.wait(msgid, "slow@localhost")
    finally:
        if first.exists():
            try:
                os.kill(int(first.read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass


def test_an_idle_worker_outlives_many_timeouts(instance):
    """A loop with nothing to do still turns, so idling beyond daemon_timeout
    is no timeout: the worker that delivered the first message, idle for
    several timeouts, delivers the second (max_idle ends it, not the watchdog)."""
    mda = Mda(instance)
    instance.set(daemon_timeout="1s", max_idle="100s")
    box = mda.out / "box" / "Maildir"
    mda.write_aliases(f"box: {box}/\n")
    chown_tree(mda.out, mda.privs)
    mda.start()
    msgid = mda.send(["box@localhost"], b"Subject: one\r\n\r\nbody\r\n")
    pid = re.search(r"local\[(\d+)\]", mda.wait(msgid, "box@localhost").group(0)).group(1)
    time.sleep(3.5)  # three and a half timeouts of idling
    msgid = mda.send(["box@localhost"], b"Subject: two\r\n\r\nbody\r\n")
    assert f"postern/local[{pid}]:" in mda.wait(msgid, "box@localhost").group(0)
