"""Queue storage limits (issue 4): a full file system, a full LMDB map and
queue_minfree each give "insufficient storage" (exit 3 from qtool), lose
nothing already committed, leave no partial message, and enqueueing works
again once space is freed."""
import os
import subprocess
import uuid

import pytest

from conftest import QTOOL, qtool

INSUFFICIENT = 3

pytestmark = pytest.mark.skipif(not QTOOL.exists(), reason="qtool not built")


def run(qdir, *command, opts=(), timeout=120):
    """qtool on the bare queue qdir; opts: the queue's options (--map-limit ...)."""
    return qtool("-q", qdir, *opts, *command, timeout=timeout, check=False)


def ids_of(r):
    return [l for l in r.stdout.split("\n") if len(l) == 8]


def verify(qdir, ids, size=(), opts=()):
    idfile = os.path.join(os.path.dirname(qdir), "printed-%s.txt" % uuid.uuid4().hex)
    with open(idfile, "w") as f:
        f.write("\n".join(ids) + "\n")
    r = run(qdir, "verify", *size, idfile, opts=("--recover", *opts))
    os.unlink(idfile)
    assert r.returncode == 0, r.stderr + r.stdout


def removed_ids(r):
    assert r.returncode == 0, r.stderr
    return {l[1:] for l in r.stdout.split("\n") if l.startswith("-")}


def fill_until_refused(qdir, *flood, opts=()):
    r = run(qdir, "flood", *flood, "100000", opts=opts)
    assert r.returncode == INSUFFICIENT, r.stderr
    assert "insufficient" not in r.stdout
    return ids_of(r)


@pytest.fixture
def small_fs(tmp_path):
    """A 6 MiB tmpfs, when we may mount one (root); else the test is skipped
    and test_queue_minfree_* covers the same path through queue_minfree."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount tmpfs: " + r.stderr.decode())
    yield str(mnt)
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_is_insufficient_storage_and_loses_nothing(small_fs):
    qdir = os.path.join(small_fs, "queue")
    size = ["--size", "65536"]
    ids = fill_until_refused(qdir, *size)
    assert len(ids) > 10
    verify(qdir, ids, size)                  # every acknowledged message whole, no orphan body
    gone = removed_ids(run(qdir, "remove", "20"))
    assert len(gone) == 20
    r = run(qdir, "flood", *size, "5")  # space freed: accepted again
    assert r.returncode == 0, r.stderr
    survivors = [i for i in ids if i not in gone] + ids_of(r)
    verify(qdir, survivors, size)


def test_full_disk_with_group_commit_refuses_the_batch_cleanly(small_fs):
    qdir = os.path.join(small_fs, "queue")
    size = ["--size", "65536"]
    ids = fill_until_refused(qdir, "--async", "8", *size)
    verify(qdir, ids, size)


def test_full_map_is_insufficient_storage_and_loses_nothing(tmp_path):
    qdir = str(tmp_path / "queue")
    limit, size = ["--initial-map", "262144", "--map-limit", "1048576"], ["--size", "100"]
    ids = fill_until_refused(qdir, "--async", "16", *size, opts=limit)
    assert len(ids) > 100
    verify(qdir, ids, size, limit)
    # Removing works on a full map (it may use the reserve above queue_map_size).
    gone = removed_ids(run(qdir, "remove", "60", opts=limit))
    assert len(gone) == 60
    r = run(qdir, "flood", *size, "20", opts=limit)
    assert r.returncode == 0, r.stderr
    verify(qdir, [i for i in ids if i not in gone] + ids_of(r), size, limit)


def test_queue_minfree_refuses_and_accepts_again_when_lowered(tmp_path):
    qdir = str(tmp_path / "queue")
    ok = run(qdir, "flood", "3")
    assert ok.returncode == 0
    refused = run(qdir, "flood", "3", opts=("--min-free", str(1 << 62)))
    assert refused.returncode == INSUFFICIENT
    assert ids_of(refused) == []
    again = run(qdir, "flood", "3", opts=("--min-free", "1048576"))
    assert again.returncode == 0, again.stderr
    verify(qdir, ids_of(ok) + ids_of(again))
