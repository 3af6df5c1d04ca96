# tests/system/test_postconf.py — the real postconf binary ($POSTERN_BIN/postconf)
# against temporary configuration directories: reports, edits, warnings, errors.
import os
import pathlib
import re
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("POSTERN_BIN", REPO / "build" / "release" / "bin"))

MAIN_CF = """\
# main.cf for the postconf tests
# (this comment must survive every edit)
myhostname = old.example

mydomain = example.test
myorigin = $mydomain
mydestination = $myhostname,
    localhost.$mydomain
# a comment between parameters
relayhost = [gw.example.test]
"""

MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
smtp      inet  n       -       n       -       -       smtpd
submission inet n       -       n       -       -       smtpd
  -o syslog_name=postern/submission
  -o smtpd_tls_security_level=encrypt
# the queue manager
qmgr      unix  n       -       n       300?    1       qmgr
"""


@pytest.fixture
def confdir(tmp_path):
    (tmp_path / "main.cf").write_text(MAIN_CF)
    (tmp_path / "master.cf").write_text(MASTER_CF)
    return tmp_path


def postconf(confdir, *args, env=None):
    cmd = [str(BIN / "postconf")]
    if confdir is not None:
        cmd += ["-c", str(confdir)]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=30, env=env)


def ok(confdir, *args):
    r = postconf(confdir, *args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def read(path):
    return path.read_text()


# --- showing main.cf ---------------------------------------------------------

def test_defaults_list_every_registry_parameter(tmp_path):
    r = postconf(tmp_path, "-d")  # no main.cf at all: -d needs none
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) >= 60
    assert all(re.fullmatch(r"[a-z0-9_]+ =( .*)?", l.replace("_CA", "_ca")) for l in lines)  # Postfix: smtp_tls_CAfile
    names = [l.split(" =")[0] for l in lines]
    assert names == sorted(names)
    assert "myorigin = $myhostname" in lines
    # computed defaults are shown as their value
    host = next(l for l in lines if l.startswith("myhostname = "))
    assert host != "myhostname = "


def test_all_parameters_with_main_cf_values_applied(confdir):
    lines = ok(confdir).splitlines()
    assert "myhostname = old.example" in lines
    assert "message_size_limit = 10240000" in lines
    assert len(lines) >= 60


def test_n_shows_only_what_main_cf_sets(confdir):
    assert ok(confdir, "-n").splitlines() == [
        "mydestination = $myhostname, localhost.$mydomain",
        "mydomain = example.test",
        "myhostname = old.example",
        "myorigin = $mydomain",
        "relayhost = [gw.example.test]",
    ]


def test_x_expands_values(confdir):
    assert ok(confdir, "-x", "myorigin") == "myorigin = example.test\n"
    assert ok(confdir, "-x", "mydestination") == \
        "mydestination = old.example, localhost.example.test\n"


def test_h_values_only_and_H_names_only(confdir):
    assert ok(confdir, "-h", "myhostname") == "old.example\n"
    assert ok(confdir, "-H", "myhostname", "relayhost") == "myhostname\nrelayhost\n"


def test_names_select_in_command_line_order(confdir):
    assert ok(confdir, "relayhost", "mydomain") == \
        "relayhost = [gw.example.test]\nmydomain = example.test\n"


def test_o_overrides_for_this_run_only(confdir):
    assert ok(confdir, "-o", "mydomain=other.test", "-x", "myorigin") == "myorigin = other.test\n"
    assert "mydomain = example.test" in read(confdir / "main.cf")


def test_empty_value_prints_without_trailing_space(confdir):
    assert ok(confdir, "-d", "relayhost") == "relayhost =\n"


def test_config_dir_from_environment(confdir):
    env = dict(os.environ, POSTERN_CONFIG_DIR=str(confdir))
    r = postconf(None, "-h", "myhostname", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "old.example\n"


def test_unknown_parameter_warns_and_exits_zero(confdir):
    r = postconf(confdir, "no_such_parameter", "myhostname")
    assert r.returncode == 0
    assert r.stdout == "myhostname = old.example\n"
    assert "postconf: warning: no_such_parameter: unknown parameter" in r.stderr


def test_unused_main_cf_parameter_warns(confdir):
    with open(confdir / "main.cf", "a") as f:
        f.write("foo = bar\nused = 1\nmyorigin = $used\n")
    r = postconf(confdir, "-n")
    assert r.returncode == 0
    assert f"postconf: warning: {confdir}/main.cf: unused parameter: foo=bar" in r.stderr
    assert "used = 1" in r.stdout.splitlines()  # referenced, so a parameter
    assert "unused parameter: used=" not in r.stderr


def test_missing_main_cf_is_fatal(tmp_path):
    r = postconf(tmp_path, "-n")
    assert r.returncode == 1
    assert r.stderr.strip() == f"postconf: fatal: open {tmp_path}/main.cf: No such file or directory"


def test_f_folds_long_lines(confdir):
    value = " ".join(f"item{i:02d}" for i in range(30))
    ok(confdir, f"mynetworks={value}")
    out = ok(confdir, "-f", "mynetworks")
    lines = out.splitlines()
    assert len(lines) > 1
    assert all(len(l) <= 80 for l in lines)
    assert all(l.startswith(" ") for l in lines[1:])
    assert " ".join(l.strip() for l in lines) == "mynetworks = " + value


# --- editing main.cf ---------------------------------------------------------

def test_e_edits_in_place_and_keeps_comments(confdir):
    ok(confdir, "-e", "myhostname=mx.example.test")
    assert "myhostname = mx.example.test" in ok(confdir, "-n").splitlines()
    assert read(confdir / "main.cf") == MAIN_CF.replace("old.example", "mx.example.test")


def test_e_replaces_continuation_lines_and_appends_new_names(confdir):
    ok(confdir, "-e", "mydestination=localhost", "smtpd_banner=$myhostname ESMTP")
    text = read(confdir / "main.cf")
    assert "    localhost.$mydomain" not in text
    assert text.endswith("relayhost = [gw.example.test]\nsmtpd_banner = $myhostname ESMTP\n")
    assert "mydestination = localhost\n# a comment between parameters\n" in text


def test_bare_name_value_arguments_edit(confdir):
    ok(confdir, "relayhost=[other.example]")
    assert ok(confdir, "-h", "relayhost") == "[other.example]\n"


def test_edit_leaves_no_temporary_file_and_keeps_mode(confdir):
    os.chmod(confdir / "main.cf", 0o640)
    ok(confdir, "-e", "mydomain=new.test")
    assert sorted(p.name for p in confdir.iterdir()) == ["main.cf", "master.cf"]
    assert (confdir / "main.cf").stat().st_mode & 0o777 == 0o640


def test_X_deletes_a_parameter(confdir):
    ok(confdir, "-X", "mydestination")
    text = read(confdir / "main.cf")
    assert "mydestination" not in text and "localhost.$mydomain" not in text
    assert "# a comment between parameters" in text


def test_comment_out_a_parameter(confdir):
    ok(confdir, "-#", "relayhost", "mydestination")
    text = read(confdir / "main.cf")
    assert "#relayhost = [gw.example.test]\n" in text
    assert "#mydestination = $myhostname,\n#    localhost.$mydomain\n" in text
    assert "relayhost" not in ok(confdir, "-n")


def test_edit_errors(confdir):
    r = postconf(confdir, "-e", "bad-name=1")
    assert r.returncode == 1 and 'bad parameter name: "bad-name"' in r.stderr
    r = postconf(confdir, "-X", "relayhost=1")
    assert r.returncode == 1 and "specify one of -e, -X" in r.stderr
    r = postconf(confdir, "-e")
    assert r.returncode == 1 and "-e requires name=value argument" in r.stderr
    assert read(confdir / "main.cf") == MAIN_CF


# --- master.cf ---------------------------------------------------------------

def test_M_lists_entries_in_aligned_columns(confdir):
    assert ok(confdir, "-M").splitlines() == [
        "smtp       inet  n       -       n       -       -       smtpd",
        "submission inet  n       -       n       -       -       smtpd"
        " -o syslog_name=postern/submission -o smtpd_tls_security_level=encrypt",
        "qmgr       unix  n       -       n       300?    1       qmgr",
    ]


def test_Mf_folds_and_selection(confdir):
    assert ok(confdir, "-Mf", "submission/inet") == (
        "submission inet  n       -       n       -       -       smtpd\n"
        "  -o syslog_name=postern/submission\n"
        "  -o smtpd_tls_security_level=encrypt\n")
    assert ok(confdir, "-M", "qmgr").startswith("qmgr ")
    assert ok(confdir, "-M", "*/unix").splitlines()[0].startswith("qmgr ")


def test_M_adds_and_replaces_entries(confdir):
    ok(confdir, "-M", "127.0.0.1:2525/inet=127.0.0.1:2525 inet n - n - - smtpd")
    ok(confdir, "-M", "qmgr/unix=qmgr unix n - n 60 1 qmgr")
    text = read(confdir / "master.cf")
    assert text.startswith("# service type  private unpriv")
    assert "# the queue manager\nqmgr       unix  n       -       n       60      1       qmgr\n" in text
    assert text.endswith("127.0.0.1:2525 inet  n       -       n       -       -       smtpd\n")


def test_MX_deletes_and_M_hash_comments_out(confdir):
    ok(confdir, "-MX", "submission/inet")
    ok(confdir, "-M#", "qmgr/unix")
    text = read(confdir / "master.cf")
    assert "submission" not in text and "syslog_name" not in text
    assert "#qmgr      unix  n       -       n       300?    1       qmgr\n" in text
    assert ok(confdir, "-M").splitlines() == [
        "smtp       inet  n       -       n       -       -       smtpd"]


def test_F_shows_and_edits_fields(confdir):
    assert ok(confdir, "-F", "qmgr/unix") == (
        "qmgr/unix/service = qmgr\nqmgr/unix/type = unix\nqmgr/unix/private = n\n"
        "qmgr/unix/unprivileged = -\nqmgr/unix/chroot = n\nqmgr/unix/wakeup = 300?\n"
        "qmgr/unix/process_limit = 1\nqmgr/unix/command = qmgr\n")
    assert ok(confdir, "-F", "*/*/chroot", "-h") == "n\nn\nn\n"
    ok(confdir, "-F", "smtp/inet/process_limit=20")
    assert ok(confdir, "-F", "smtp/inet/process_limit") == "smtp/inet/process_limit = 20\n"
    assert read(confdir / "master.cf").startswith("# service type")


def test_P_shows_sets_and_deletes_overrides(confdir):
    assert ok(confdir, "-P") == (
        "submission/inet/syslog_name = postern/submission\n"
        "submission/inet/smtpd_tls_security_level = encrypt\n")
    ok(confdir, "-P", "submission/inet/smtpd_tls_security_level=may",
       "smtp/inet/smtpd_banner=$myhostname test")
    ok(confdir, "-PX", "submission/inet/syslog_name")
    assert ok(confdir, "-P") == (
        "smtp/inet/smtpd_banner = $myhostname test\n"
        "submission/inet/smtpd_tls_security_level = may\n")
    assert ok(confdir, "-Px", "smtp/inet/smtpd_banner") == "smtp/inet/smtpd_banner = old.example test\n"
    assert "# the queue manager" in read(confdir / "master.cf")


def test_master_edit_errors_change_nothing(confdir):
    r = postconf(confdir, "-F", "smtp/inet/chroot=maybe")
    assert r.returncode == 1 and "bad chroot field" in r.stderr
    r = postconf(confdir, "-M", "smtp/inet=smtp unix n - n - - smtpd")
    assert r.returncode == 1 and "the entry is for smtp/unix" in r.stderr
    r = postconf(confdir, "-MX", "nosuch/unix")
    assert r.returncode == 0 and 'postconf: warning: unmatched request: "nosuch/unix"' in r.stderr
    assert read(confdir / "master.cf") == MASTER_CF


def test_missing_master_cf_is_fatal(tmp_path):
    (tmp_path / "main.cf").write_text("")
    r = postconf(tmp_path, "-M")
    assert r.returncode == 1
    assert r.stderr.strip() == f"postconf: fatal: open {tmp_path}/master.cf: No such file or directory"


# --- usage -------------------------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["-z"], "usage: postconf"),
    (["-c"], "usage: postconf"),
    (["-n", "-d"], "specify one of -d, -n"),
    (["-h", "-H"], "specify one of -h, -H"),
    (["-M", "-F"], "specify one of -F, -M"),
    (["-M", "-n"], "with option -M, do not specify -n"),
    (["-F", "-X", "smtp/inet/chroot"], "with option -F, do not specify -X"),
    (["-d", "-o", "a=b"], "specify one of -d, -o"),
])
def test_bad_options_print_usage_and_exit_1(confdir, args, message):
    r = postconf(confdir, *args)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.startswith("postconf: fatal: ")
    assert message in r.stderr
    assert len(r.stderr.splitlines()) == 1


# --- what this build supports (issue 19) ------------------------------------

def test_m_lists_the_table_types_postern_opens(confdir):
    types = ok(confdir, "-m").splitlines()
    assert types == sorted(types)
    assert {"lmdb", "hash", "btree", "dbm", "texthash", "cidr", "inline", "pcre", "regexp", "static",
            "unix"} <= set(types)
    assert not {"mysql", "ldap", "proxy"} & set(types)


def test_l_lists_the_mailbox_locks_local_takes(confdir):
    assert ok(confdir, "-l").splitlines() == ["flock", "fcntl", "dotlock"]


def test_a_lists_the_smtpd_sasl_types_and_A_none(confdir):
    # smtpd_sasl_type: Dovecot's auth server or postern's own tables; the
    # clients log in by themselves (PLAIN/LOGIN): no client plug-in types.
    r = postconf(confdir, "-a")
    assert (r.returncode, r.stdout, r.stderr) == (0, "dovecot\npostern\n", "")
    r = postconf(confdir, "-A")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_T_reports_the_tls_library(confdir):
    compiled = ok(confdir, "-T", "compile-version").strip()
    running = ok(confdir, "-T", "run-version").strip()
    assert re.fullmatch(r"GnuTLS \d+\.\d+\.\d+", compiled) and re.fullmatch(r"GnuTLS \d+\.\d+\.\d+", running)
    algorithms = ok(confdir, "-T", "public-key-algorithms").splitlines()
    assert "RSA" in algorithms and len(algorithms) == len(set(algorithms))
    r = postconf(confdir, "-T", "kem-algorithms")
    assert r.returncode == 1 and 'invalid -T argument "kem-algorithms"' in r.stderr


def test_info_modes_take_no_main_cf_options(confdir):
    r = postconf(confdir, "-m", "-n")
    assert r.returncode == 1 and "with option -m, do not specify -n" in r.stderr
    r = postconf(confdir, "-m", "-l")
    assert r.returncode == 1 and "specify one of" in r.stderr


def test_mail_version_is_the_build_version_and_read_only(confdir):
    project = re.search(r"project\(postern VERSION (\S+)", (REPO / "CMakeLists.txt").read_text()).group(1)
    assert ok(confdir, "-d", "mail_version") == f"mail_version = {project}\n"
    (confdir / "main.cf").write_text(MAIN_CF + "mail_version = 99\n")
    r = postconf(confdir, "-h", "mail_version")
    assert r.stdout == f"{project}\n" and "mail_version is read-only" in r.stderr
    v = subprocess.run([str(BIN / "postern"), "-c", str(confdir), "version"], capture_output=True, text=True,
                       timeout=30)
    assert (v.returncode, v.stdout) == (0, f"postern {project}\n"), v.stderr
