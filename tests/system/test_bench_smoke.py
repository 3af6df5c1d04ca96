"""bench/run --smoke: the side-by-side harness of `make bench` still drives
postern and a private Postfix through every scenario, and Exim, OpenSMTPD
and chasquid through theirs (tiny counts), so it cannot rot between
benchmark runs. Skipped when a Debian package cannot be downloaded (no
network, no apt)."""
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


def _smoke(tmp_path, *args):
    out = tmp_path / "smoke.json"
    r = subprocess.run([str(REPO / "bench" / "run"), str(BIN), "--smoke", "--out", str(out), *args],
                       capture_output=True, text=True, timeout=900)
    if r.returncode == 2 and "apt-get download" in r.stderr:
        pytest.skip(f"a package is not downloadable: {r.stderr.strip()[-200:]}")
    assert r.returncode == 0, f"stdout:\n{r.stdout[-3000:]}\nstderr:\n{r.stderr[-3000:]}"
    return json.loads(out.read_text()), r.stdout


def test_smoke_run_measures_every_scenario_for_both_mtas(tmp_path):
    result, stdout = _smoke(tmp_path, "--mtas", "postern,postfix")
    figures = result["figures"]
    for name in ("delivered_msgs_per_s", "eod_to_250_p99_ms", "ceiling_msgs_per_s",
                 "idle20_total_rss_mb", "queue_drain_s", "fanout_rcpts_per_s", "tls_handshakes_per_s",
                 "tls_delivered_msgs_per_s", "large_delivered_mb_per_s", "large_peak_process_rss_mb"):
        for mta in ("postern", "postfix"):
            assert figures[name][mta]["median"] > 0, (name, mta, figures[name])
    # Every message of the latency run reached the sink, for both.
    assert figures["latency_delivered"]["postern"]["median"] == result["run"]["sizes"]["latency_messages"]
    assert figures["latency_delivered"]["postfix"]["median"] == result["run"]["sizes"]["latency_messages"]
    # Every recipient of the fan-out went through the 20 domains' sinks.
    assert figures["fanout_deliveries"]["postern"]["median"] >= result["run"]["sizes"]["fanout_messages"] * 20
    assert "postern/Postfix" in stdout  # the table was printed


def test_smoke_run_drives_each_peer_through_its_scenarios(tmp_path):
    result, stdout = _smoke(tmp_path, "--mtas", "postern,exim,opensmtpd,chasquid",
                            "--scenarios", "relay,latency,idle,fanout,tls_relay,large")
    figures = result["figures"]
    for mta in ("exim", "opensmtpd", "chasquid"):
        for name in ("delivered_msgs_per_s", "idle20_total_rss_mb", "large_delivered_mb_per_s"):
            assert figures[name][mta]["median"] > 0, (name, mta, figures[name])
        assert figures["latency_delivered"][mta]["median"] == result["run"]["sizes"]["latency_messages"]
        assert mta in result["run"]["peers"]  # the package's version is recorded
    for mta in ("exim", "chasquid"):
        assert figures["tls_delivered_msgs_per_s"][mta]["median"] > 0, (mta, figures["tls_delivered_msgs_per_s"])
    assert figures["fanout_rcpts_per_s"]["exim"]["median"] > 0
    # Scenarios a peer cannot run are left out for it, not failed.
    assert "opensmtpd" not in figures["tls_delivered_msgs_per_s"]
    assert "chasquid" not in figures["fanout_rcpts_per_s"]
    for peer in ("Exim", "OpenSMTPD", "chasquid"):
        assert f"postern/{peer}" in stdout
