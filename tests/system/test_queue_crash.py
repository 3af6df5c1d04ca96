"""Queue durability with real processes (issue 4): SIGKILL at random moments
loses no acknowledged message and leaves nothing partial; several processes
enqueue at once while another iterates. Drives qtool on a bare queue directory."""
import os
import random
import signal
import subprocess
import time

import pytest

from conftest import QTOOL, qtool, qtool_command

pytestmark = pytest.mark.skipif(not QTOOL.exists(), reason="qtool not built")


def complete_ids(stdout):
    """Ids the child printed in full: a line cut by the kill does not count."""
    text = stdout.decode()
    lines = text.split("\n")
    return [l for l in lines[:-1] if len(l) == 8]


def verify(qdir, ids, *extra):
    idfile = os.path.join(qdir, "..", "printed.txt")
    with open(idfile, "w") as f:
        f.write("\n".join(ids) + "\n")
    r = qtool("-q", qdir, "--recover", "verify", *extra, idfile, timeout=300, check=False)
    assert r.returncode == 0, r.stderr + r.stdout
    return r.stdout


def test_sigkill_at_random_moments_loses_no_acknowledged_message(tmp_path):
    qdir = str(tmp_path / "queue")
    rng = random.Random(4)
    printed = []
    kills = 0
    while kills < 60:
        # Some kills land inside start-up recovery.
        recover = ["--recover"] if kills % 3 == 0 else []
        args = qtool_command("-q", qdir, *recover, "flood", "--async", rng.choice([1, 4, 16]))
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.01, 0.3))
        p.send_signal(signal.SIGKILL)
        out, err = p.communicate(timeout=30)
        assert p.returncode == -signal.SIGKILL, err.decode()
        printed += complete_ids(out)
        kills += 1
    assert len(printed) >= 20, "the child should commit messages between kills"
    summary = verify(qdir, printed)
    assert "problems=0" in summary


def test_four_writers_and_a_reader_keep_every_message_and_the_counters(tmp_path):
    qdir = str(tmp_path / "queue")
    # Create the environment once so that the writers race only on enqueueing.
    qtool("-q", qdir, "remove", "0", timeout=30)
    writers = [subprocess.Popen(qtool_command("-q", qdir, "flood", "--async", 8, "--size", 512, 2500),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    reader = subprocess.Popen(qtool_command("-q", qdir, "scan", 8), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    printed = []
    for w in writers:
        out, err = w.communicate(timeout=300)
        assert w.returncode == 0, err.decode()
        printed += complete_ids(out)
    out, err = reader.communicate(timeout=300)
    assert reader.returncode == 0, err.decode()
    assert "passes=" in out.decode()
    assert len(printed) == 10000
    assert len(set(printed)) == 10000, "message ids must be unique in the queue"
    summary = verify(qdir, printed, "--size", "512")
    assert "messages=10000 " in summary
