# tests/system/test_run_instance.py — `make run` (scripts/run-instance) from a
# checkout that other users cannot reach: it greets and delivers, as root and as an ordinary user.
import os
import pwd
import shutil
import signal
import smtplib
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import BIN, free_port, wait_for

REPO = Path(__file__).resolve().parents[2]


def private_checkout(owner=None):
    """The parts of a checkout that run-instance uses, inside a 0700 directory
    (as a clone under /root or in a mktemp directory is); with `owner`, the
    build's programs too and all of it owned by that user."""
    top = Path(tempfile.mkdtemp(prefix="postern-private-"))
    checkout = top / "checkout"
    shutil.copytree(REPO / "scripts", checkout / "scripts")
    shutil.copytree(REPO / "conf", checkout / "conf")
    bin_dir = BIN
    if owner:
        bin_dir = checkout / "bin"
        shutil.copytree(BIN, bin_dir, ignore=shutil.ignore_patterns("*_test", "*_bench", "*_fuzz"))
        for p in [top, *top.rglob("*")]:
            os.chown(p, owner.pw_uid, owner.pw_gid, follow_symlinks=False)
    assert top.stat().st_mode & 0o777 == 0o700
    return top, checkout, bin_dir


def run_instance(checkout, bin_dir, tmp_path, user=None):
    """Starts run-instance in the foreground (in its own process group); returns
    the process, the SMTP port and the file its output goes to."""
    port = free_port()
    env = dict(os.environ, SMTP_PORT=str(port), SUBMISSION_PORT=str(free_port()))
    cmd = [str(checkout / "scripts" / "run-instance"), str(bin_dir), str(checkout / "run")]
    if user:
        cmd = ["runuser", "-u", user, "--"] + cmd
    out = tmp_path / "run-instance.out"
    with open(out, "wb") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd="/", start_new_session=True)
    return proc, port, out


def greets_and_delivers(proc, port, out, mail_dir):
    def greeting():
        assert proc.poll() is None, out.read_text()
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
                return c.sendmail("a@example.org", ["demo@localhost"], b"Subject: first run\r\n\r\nhi\r\n") == {}
        except (ConnectionRefusedError, smtplib.SMTPServerDisconnected):
            return False
    wait_for(greeting, timeout=60, interval=0.2, what="the instance to greet and accept mail")
    wait_for(lambda: list(mail_dir.glob("demo/new/*")), timeout=60, interval=0.2, what="delivery to demo's Maildir")


def stop(proc, top):
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
    try:
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        queue = top / "checkout" / "run" / "queue"
        elsewhere = Path(os.readlink(queue)).parent if queue.is_symlink() else None
        shutil.rmtree(top, ignore_errors=True)
        if elsewhere and elsewhere.name.startswith("postern-run."):
            shutil.rmtree(elsewhere, ignore_errors=True)


def test_make_run_from_a_private_checkout_greets_and_delivers(tmp_path):
    # As root, the workers (mail_owner) cannot reach the checkout: the
    # instance's tree moves where they can; as an ordinary user it stays put.
    top, checkout, bin_dir = private_checkout()
    proc, port, out = run_instance(checkout, bin_dir, tmp_path)
    try:
        greets_and_delivers(proc, port, out, checkout / "run" / "mail")
        assert (checkout / "run" / "queue").is_symlink() == (os.geteuid() == 0)
    finally:
        stop(proc, top)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_make_run_as_an_ordinary_user_from_a_private_checkout(tmp_path):
    nobody = pwd.getpwnam("nobody")
    top, checkout, bin_dir = private_checkout(owner=nobody)
    proc, port, out = run_instance(checkout, bin_dir, tmp_path, user="nobody")
    try:
        greets_and_delivers(proc, port, out, checkout / "run" / "mail")
        assert not (checkout / "run" / "queue").is_symlink()
        assert (checkout / "run" / "queue").stat().st_uid == nobody.pw_uid
    finally:
        stop(proc, top)
