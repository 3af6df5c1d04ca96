"""The queue file gives space back after a backlog (issue 20): LMDB keeps the
pages a drained backlog freed inside queue.lmdb, `postern show status` shows
how little of the file is in use, and master compacts the file at the next
start, before any worker opens it; the compacted queue works as before."""
import os
import re

import pytest

from conftest import wait_for
from qmgr_helpers import QTOOL, Sink, configure, inject, wait_empty

pytestmark = pytest.mark.skipif(not QTOOL.exists(), reason="qtool not built")


def queue_line(instance):
    r = instance.postern("show", "status")
    assert r.returncode == 0, r.stderr
    m = re.search(r"^QUEUE file (\d+) bytes, (\d+) bytes in use, map (\d+) bytes \((\d+\.\d)% full\)$", r.stdout, re.M)
    assert m, r.stdout
    return [int(m.group(i)) for i in (1, 2, 3)]


def test_a_drained_backlog_is_compacted_at_the_next_start(instance):
    configure(instance)
    sink = Sink(instance)
    instance.start()
    # A backlog: 16 KiB bodies live inside the queue file, 500 of them ~10 MB.
    assert instance.postern("pause", "mta").returncode == 0
    ids = inject(instance, "u@example.test", count=500, size=16 * 1024)
    assert instance.postern("resume", "mta").returncode == 0
    wait_for(lambda: len(sink.sent()) == len(ids), timeout=180, interval=0.2, what="500 deliveries")
    wait_empty(instance, timeout=60)
    path = instance.queue_dir / "queue.lmdb"
    file_bytes, used, mapsize = queue_line(instance)
    assert file_bytes == os.stat(path).st_size > 8 << 20
    assert used * 4 < file_bytes  # the backlog's pages are free, still in the file
    instance.stop()

    mark = instance.log_mark()
    instance.start()
    m = instance.wait_log(r"master\[\d+\]: queue file \S+ compacted: (\d+) -> (\d+) bytes", since=mark, timeout=60)
    assert int(m.group(1)) == file_bytes
    assert int(m.group(2)) == os.stat(path).st_size < file_bytes // 4
    (msgid,) = inject(instance, "v@example.test")
    wait_for(lambda: (msgid, "v@example.test") in sink.sent(), timeout=30, what="delivery after compaction")
    wait_empty(instance)
    assert queue_line(instance)[0] == os.stat(path).st_size

