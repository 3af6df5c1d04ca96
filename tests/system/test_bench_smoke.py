"""bench/run --smoke: the side-by-side harness of `make bench` still drives
postern and a private Postfix through every scenario (tiny counts), so it
cannot rot between benchmark runs. Skipped when Postfix's Debian package
cannot be downloaded (no network, no apt)."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import BIN, REPO

pytestmark = [
    pytest.mark.skipif(not (BIN / "smtpd").exists() or not (BIN / "smtp").exists(),
                       reason="smtpd or smtp not built"),
    pytest.mark.skipif(os.geteuid() != 0, reason="a private Postfix starts only as root"),
    pytest.mark.skipif(not shutil.which("apt-get") or not shutil.which("dpkg-deb"),
                       reason="no apt-get/dpkg-deb to fetch Postfix"),
]


def test_smoke_run_measures_every_scenario_for_both_mtas(tmp_path):
    out = tmp_path / "smoke.json"
    r = subprocess.run([str(REPO / "bench" / "run"), str(BIN), "--smoke", "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    if r.returncode == 2 and "apt-get download" in r.stderr:
        pytest.skip(f"Postfix package not downloadable: {r.stderr.strip()[-200:]}")
    assert r.returncode == 0, f"stdout:\n{r.stdout[-3000:]}\nstderr:\n{r.stderr[-3000:]}"
    result = json.loads(out.read_text())
    figures = result["figures"]
    for name in ("delivered_msgs_per_s", "eod_to_250_p99_ms", "ceiling_msgs_per_s",
                 "idle20_total_rss_mb", "queue_drain_s"):
        for mta in ("postern", "postfix"):
            assert figures[name][mta]["median"] > 0, (name, mta, figures[name])
    # Every message of the latency run reached the sink, for both.
    assert figures["latency_delivered"]["postern"]["median"] == result["run"]["sizes"]["latency_messages"]
    assert figures["latency_delivered"]["postfix"]["median"] == result["run"]["sizes"]["latency_messages"]
    assert "postern/Postfix" in r.stdout  # the table was printed
