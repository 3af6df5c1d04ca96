# tests/system/test_install.py — `make install PREFIX=DIR` gives a tree that can
# deliver local mail at once (etc/aliases and its database), and `postern check` says when that database is missing.
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import BIN, free_port, wait_for
from test_smtpd import _greets

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


def install(prefix, destdir=None, timeout=300):
    env = {k: v for k, v in os.environ.items() if k != "DESTDIR"}
    if destdir:
        env["DESTDIR"] = str(destdir)
    r = subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(prefix)], capture_output=True, text=True,
                       env=env, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def test_prefix_usr_puts_the_configuration_in_etc_postern_where_the_programs_read_it():
    stage = Path(tempfile.mkdtemp(prefix="postern-destdir-"))
    try:
        install("/usr", destdir=stage)
        assert (stage / "etc/postern/main.cf").is_file() and (stage / "etc/postern/master.cf").is_file()
        assert not (stage / "usr/etc").exists()
        assert (stage / "usr/sbin/postern").is_file() and (stage / "usr/libexec/postern/master").is_file()
        assert (stage / "etc/aliases.lmdb").exists()
        unit = (stage / "usr/lib/systemd/system/postern.service").read_text()
        for line in ("Type=forking", "PIDFile=/var/spool/postern/pid/master.pid",
                     "ExecStart=/usr/sbin/postern -c /etc/postern start",
                     "ExecReload=/usr/sbin/postern -c /etc/postern reload",
                     "ExecStop=/usr/sbin/postern -c /etc/postern stop"):
            assert line in unit.splitlines(), (line, unit)
        rotate = (stage / "etc/logrotate.d/postern").read_text()
        assert rotate.startswith("# /etc/logrotate.d/postern") and "/var/log/postern.log {" in rotate
        assert "/usr/sbin/postern -c /etc/postern reload" in rotate
        # A second install keeps the administrator's main.cf.
        (stage / "etc/postern/main.cf").write_text("myhostname = kept.example\n")
        install("/usr", destdir=stage)
        assert (stage / "etc/postern/main.cf").read_text() == "myhostname = kept.example\n"
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def test_systemd_unit_passes_systemd_analyze_verify(prefix):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is missing (scripts/install-deps installs systemd)")
    unit = prefix / "lib/systemd/system/postern.service"
    assert f"ExecStart={prefix}/sbin/postern -c {prefix}/etc/postern start" in unit.read_text().splitlines()
    env = dict(os.environ, MANPATH=f"{prefix}/share/man:")  # Documentation=man:postern(1) man:master(8)
    r = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "postern.service" not in r.stdout + r.stderr, r.stdout + r.stderr
    # A broken unit does fail: the check is not a formality.
    bad = prefix / "bad.service"
    bad.write_text(unit.read_text().replace(f"{prefix}/sbin/postern", f"{prefix}/sbin/no-such-postern"))
    r = subprocess.run([analyze, "verify", str(bad)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode != 0 and "no-such-postern" in r.stdout + r.stderr, r.stdout + r.stderr


def test_logrotate_rotates_maillog_file_and_postern_writes_the_new_one():
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not os.access(logrotate, os.X_OK):
        pytest.skip("logrotate is missing (scripts/install-deps installs it)")
    top = Path(tempfile.mkdtemp(prefix="postern-rotate-"))
    top.chmod(0o755)  # workers run as mail_owner when the tests run as root
    conf, log, port = top / "etc/postern", top / "maillog", free_port()
    conf.mkdir(parents=True)
    # Written before the install, so kept: the stanza and the unit follow them.
    (conf / "main.cf").write_text(f"queue_directory = {top}/queue\nmaillog_file = {log}\ninet_interfaces = 127.0.0.1\n"
                                  f"inet_protocols = ipv4\nalias_maps =\nstop_grace_time = 5s\n")
    (conf / "master.cf").write_text(f"127.0.0.1:{port} inet n - n - - smtpd\n")
    try:
        install(top)
        stanza = top / "etc/logrotate.d/postern"
        assert stanza.read_text().splitlines()[3] == f"{log} {{"
        unit = (top / "lib/systemd/system/postern.service").read_text()
        assert f"PIDFile={top}/queue/pid/master.pid" in unit.splitlines()
        assert run(top, "postern", "-c", str(conf), "start").returncode == 0
        assert (top / "queue/pid/master.pid").exists()  # where the unit's PIDFile= looks
        wait_for(lambda: "daemon started" in log.read_text(), timeout=15, what="master's first line")
        r = subprocess.run([logrotate, "-f", "-s", str(top / "logrotate.state"), str(stanza)], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "daemon started" in (top / "maillog.1").read_text()
        # postrotate reloaded postern: master and the new workers write the new file.
        wait_for(lambda: log.exists() and "reload -- version" in log.read_text(), timeout=15, what="reload line")
        wait_for(lambda: _greets(port), timeout=15, what="smtpd greeting")
        wait_for(lambda: "connect from" in log.read_text(), timeout=15, what="smtpd's line in the new maillog")
        assert "connect from" not in (top / "maillog.1").read_text()
    finally:
        run(top, "postern", "-c", str(conf), "abort")
        shutil.rmtree(top, ignore_errors=True)
