"""The error(8) and discard(8) delivery agents end to end (issue 17):
master.cf's Debian lines `error ... error`, `retry ... error` and
`discard ... discard`; transport_maps entries `error:5.7.1 go away`,
`retry:4.3.2 ...` and `discard:...`, and default_transport = error: mail
submitted with smtplib bounces (error), waits in the queue (retry) or is
dropped as delivered (discard) with the next hop's status and text, as
Postfix's error(8) and discard(8). The sender's non-delivery notice lands
in a local Maildir, where the text is read back."""
import os
import re

import pytest

from conftest import free_port, submit, wait_for
from qmgr_helpers import envelopes

ROOT = os.geteuid() == 0
BODY = b"From: owner@localhost\r\nSubject: error test\r\n\r\nhello\r\n"


@pytest.fixture
def errors(instance):
    instance.root.joinpath("boxes").mkdir()
    instance.root.joinpath("boxes").chmod(0o777)  # local writes file destinations as default_privs
    box = instance.root / "boxes" / "owner"
    port = free_port()
    instance.set(minimal_backoff_time="1s", maximal_backoff_time="2s", queue_run_delay="1s",
                 transport_retry_time="1s", mydestination="localhost", local_recipient_maps="",
                 alias_maps=f"inline:{{ owner={box}/ }}", default_transport="error:5.3.0 no outbound mail here",
                 transport_maps="inline:{ { gone.test=error:5.7.1 go away }, "
                                "{ later.test=retry:4.3.2 back after maintenance }, "
                                "{ void.test=discard:dropped by policy }, { hole.test=discard: } }")
    instance.add_service("qmgr unix n - n 300 1 qmgr")
    instance.add_service("bounce unix - - n - 0 bounce")
    instance.add_service(f"127.0.0.1:{port} inet n - n - - smtpd")
    instance.add_service("local unix - n n - - local")
    instance.add_service("error     unix  -       -       y       -       -       error")  # Debian's lines
    instance.add_service("retry     unix  -       -       y       -       -       error")
    instance.add_service("discard   unix  -       -       y       -       -       discard")
    instance.start()
    instance.port, instance.box = port, box
    return instance


def line(instance, msgid, to, status, program="error"):
    m = instance.wait_log(rf"postern/{program}\[\d+\]: {msgid}: to=<{re.escape(to)}>, relay=none, delay=[\d.]+, "
                          rf"delays=[\d./]+, dsn=(\S+), status={status} \((.*)\)$", timeout=30)
    return m.groups()


def test_error_entries_bounce_with_their_status_and_text(errors):
    msgid = submit(errors, errors.port, ["x@gone.test", "z@anywhere.test"], BODY, sender="owner@localhost")
    assert line(errors, msgid, "x@gone.test", "bounced") == ("5.7.1", "go away")
    assert line(errors, msgid, "z@anywhere.test", "bounced") == ("5.3.0", "no outbound mail here")
    new = errors.box / "new"
    [notice] = wait_for(lambda: new.is_dir() and list(new.iterdir()), 30, what="the non-delivery notice")
    text = notice.read_text()
    assert "<x@gone.test>: go away" in text and "Status: 5.7.1" in text, text
    assert "<z@anywhere.test>: no outbound mail here" in text and "Status: 5.3.0" in text, text
    errors.wait_log(rf"{msgid}: removed", timeout=30)


def test_retry_entries_defer_with_their_status_and_text(errors):
    msgid = submit(errors, errors.port, ["y@later.test"], BODY, sender="owner@localhost")
    assert line(errors, msgid, "y@later.test", "deferred") == ("4.3.2", "back after maintenance")
    env = wait_for(lambda: [e for e in envelopes(errors) if e["state"] == "deferred"], 10, what="the deferred envelope")
    assert env[0]["rcpt"] == "y@later.test" and "back after maintenance" in env[0]["error"], env
    # Tried again on the next queue run, deferred again: never bounced.
    errors.wait_log(rf"postern/error\[\d+\]: {msgid}: .*status=deferred", count=2, timeout=30)
    assert not (errors.box / "new").exists()


def test_discard_entries_are_dropped_as_delivered_with_the_next_hop_as_the_reason(errors):
    msgid = submit(errors, errors.port, ["d@void.test", "e@hole.test"], BODY, sender="owner@localhost")
    assert line(errors, msgid, "d@void.test", "sent", "discard") == ("2.0.0", "dropped by policy")
    # An empty next hop is the recipient's domain, as trivial-rewrite makes it.
    assert line(errors, msgid, "e@hole.test", "sent", "discard") == ("2.0.0", "hole.test")
    errors.wait_log(rf"{msgid}: removed", timeout=30)
    assert not (errors.box / "new").exists()  # no notice: discarded mail is delivered mail
