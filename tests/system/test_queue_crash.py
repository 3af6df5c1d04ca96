"""Queue durability with real processes (issue 4): SIGKILL at random moments
loses no acknowledged message and leaves nothing partial; several processes
enqueue at once while another iterates. Drives bin/queue_tool."""
import os
import random
import signal
import subprocess
import time

import pytest

BIN = os.environ.get("POSTERN_BIN", os.path.join(os.path.dirname(__file__), "../../build/release/bin"))
TOOL = os.path.join(BIN, "queue_tool")

pytestmark = pytest.mark.skipif(not os.path.exists(TOOL), reason="queue_tool not built")


def complete_ids(stdout):
    """Ids the child printed in full: a line cut by the kill does not count."""
    text = stdout.decode()
    lines = text.split("\n")
    return [l for l in lines[:-1] if len(l) == 8]


def verify(qdir, ids, *extra):
    idfile = os.path.join(qdir, "..", "printed.txt")
    with open(idfile, "w") as f:
        f.write("\n".join(ids) + "\n")
    r = subprocess.run([TOOL, "--recover", *extra, "verify", qdir, idfile],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()
    return r.stdout.decode()


def test_sigkill_at_random_moments_loses_no_acknowledged_message(tmp_path):
    qdir = str(tmp_path / "queue")
    rng = random.Random(4)
    printed = []
    kills = 0
    while kills < 60:
        args = [TOOL, "--async", str(rng.choice([1, 4, 16])), "enqueue", qdir]
        if kills % 3 == 0:
            args.insert(1, "--recover")  # some kills land inside start-up recovery
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
    subprocess.run([TOOL, "remove", qdir, "0"], check=True, capture_output=True, timeout=30)
    writers = [subprocess.Popen([TOOL, "--async", "8", "--size", "512", "enqueue", qdir, "2500"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    reader = subprocess.Popen([TOOL, "scan", qdir, "8"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
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
