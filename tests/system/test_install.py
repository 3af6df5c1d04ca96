# tests/system/test_install.py — `make install PREFIX=DIR` gives a tree that can
# deliver local mail at once (etc/aliases and its database), and `postern check` says when that database is missing.
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import BIN

BUILD = BIN.parent


@pytest.fixture(scope="module")
def prefix():
    top = Path(tempfile.mkdtemp(prefix="postern-install-"))
    r = subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(top)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    yield top
    shutil.rmtree(top, ignore_errors=True)


def run(prefix, *args):
    env = {k: v for k, v in os.environ.items() if k != "POSTERN_CONFIG_DIR"}  # the install's own etc/postern
    return subprocess.run([str(prefix / "sbin" / args[0]), *args[1:]], capture_output=True, text=True, env=env,
                          timeout=60)


def test_install_puts_the_system_aliases_in_its_etc_and_builds_them(prefix):
    aliases = prefix / "etc" / "aliases"
    assert "postmaster:\troot" in aliases.read_text().splitlines()
    assert (prefix / "etc" / "aliases.lmdb").exists()
    for name, target in (("postmaster", "root"), ("MAILER-DAEMON", "postmaster"), ("abuse", "postmaster")):
        r = run(prefix, "postalias", "-q", name, f"lmdb:{aliases}")
        assert (r.returncode, r.stdout.strip()) == (0, target), r.stderr
    # The installed main.cf names them: local and smtpd look them up there.
    r = run(prefix, "postconf", "-h", "alias_maps", "alias_database")
    assert r.stdout.split() == [f"lmdb:{aliases}"] * 2, r.stderr


def test_check_names_the_command_that_builds_a_missing_alias_database(prefix):
    db = prefix / "etc" / "aliases.lmdb"
    assert "alias database" not in run(prefix, "postern", "check").stderr
    db.unlink()
    try:
        r = run(prefix, "postern", "check")
        assert r.returncode == 0, r.stderr  # a warning: the instance runs, local mail waits
        assert (f"warning: alias_maps: lmdb:{prefix}/etc/aliases: alias database {db} does not exist; mail to "
                f"local recipients is deferred (451 4.3.0) until it does: run \"newaliases\"") in r.stderr
        # ... and that command fixes it.
        assert run(prefix, "newaliases").returncode == 0
        assert db.exists()
        assert "alias database" not in run(prefix, "postern", "check").stderr
    finally:
        if not db.exists():
            run(prefix, "postalias", f"lmdb:{prefix}/etc/aliases")


def test_install_gives_the_postfix_command_names(prefix):
    for name in ("postfix", "postqueue", "postsuper", "postcat", "qshape"):
        link = prefix / "sbin" / name
        assert link.is_symlink() and os.readlink(link) == "postern", name
    r = run(prefix, "postfix", "status")
    assert (r.returncode, r.stderr) == (1, "postfix/postfix-script: the Postfix mail system is not running\n")
