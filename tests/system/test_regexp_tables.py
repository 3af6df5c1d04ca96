# tests/system/test_regexp_tables.py — regexp: (POSIX) and pcre: (PCRE2)
# tables end to end: postmap -q/-fq, refusal to build, warnings naming
# file:line, smtpd access checks with $1 in the reply, reload after an edit,
# and a PCRE2 match limit answering 451 4.3.0.
import os
import pathlib
import subprocess

from conftest import wait_for
from test_smtpd import start_smtpd

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("POSTERN_BIN", REPO / "build" / "release" / "bin"))

ACCESS = """\
# spam traps; the tag goes into the reply
/^trap\\+(\\w+)@/          550 5.7.1 trap $1 is closed
if /@localhost$/
!/^(alice|bob|trap)/      REJECT only alice and bob here
endif
"""


def postmap(work, *args):
    (work / "main.cf").touch()
    return subprocess.run([str(BIN / "postmap"), "-c", str(work), *map(str, args)],
                          capture_output=True, text=True, timeout=30, cwd=work)


def test_postmap_queries_regexp_table_with_substitution(tmp_path):
    t = tmp_path / "r"
    t.write_text("/^(.*)@Example\\.COM$/ user ${1} at example\n/^([[:alpha:]]+)[0-9]+$/ word $1$$\n")
    r = postmap(tmp_path, "-q", "Joe@example.com", f"regexp:{t}")
    assert (r.returncode, r.stdout, r.stderr) == (0, "user Joe at example\n", "")
    assert postmap(tmp_path, "-q", "abc123", f"regexp:{t}").stdout == "word abc$\n"
    # -f changes nothing for pattern tables: case is the pattern's i flag
    assert postmap(tmp_path, "-fq", "Joe@example.com", f"regexp:{t}").stdout == "user Joe at example\n"
    assert postmap(tmp_path, "-q", "nothing", f"regexp:{t}").returncode == 1


def test_postmap_queries_pcre_table_and_flags(tmp_path):
    t = tmp_path / "p"
    t.write_text("/^Mixed\\d+$/i exact-case\n/^mixed(\\d+)$/ any-case $1\n")
    assert postmap(tmp_path, "-q", "Mixed42", f"pcre:{t}").stdout == "exact-case\n"
    assert postmap(tmp_path, "-fq", "MIXED7", f"pcre:{t}").stdout == "any-case 7\n"
    r = subprocess.run([str(BIN / "postmap"), "-c", str(tmp_path), "-q", "-", f"pcre:{t}"],
                       input="mixed1\nnone\nMixed2\n", capture_output=True, text=True, timeout=30)
    assert r.stdout == "mixed1\tany-case 1\nMixed2\texact-case\n"


def test_postmap_reports_bad_rules_by_file_and_line(tmp_path):
    t = tmp_path / "bad"
    t.write_text("/ok/ 1\n/a(/ x\n/\\d/ y\nif /z/\n/q/ 2\n")
    r = postmap(tmp_path, "-q", "ok", f"pcre:{t}")
    assert r.returncode == 0 and r.stdout == "1\n"
    assert f"pcre map {t}, line 2: error in regex at offset" in r.stderr
    assert f"pcre map {t}, line 4: IF has no matching ENDIF" in r.stderr
    assert "line 3" not in r.stderr  # \d is fine in PCRE
    r = postmap(tmp_path, "-q", "ok", f"regexp:{t}")
    assert f"regexp map {t}, line 2: " in r.stderr and "skipping this rule" in r.stderr


def test_postmap_refuses_to_build_pattern_tables(tmp_path):
    t = tmp_path / "r"
    t.write_text("/a/ b\n")
    for kind in ("regexp", "pcre"):
        r = postmap(tmp_path, f"{kind}:{t}")
        assert r.returncode == 1 and f"{kind}: is not a buildable table type" in r.stderr, r.stderr
    assert not (tmp_path / "r.lmdb").exists()


def test_postconf_lists_both_types(tmp_path):
    (tmp_path / "main.cf").touch()
    r = subprocess.run([str(BIN / "postconf"), "-c", str(tmp_path), "-m"], capture_output=True, text=True, timeout=30)
    assert {"regexp", "pcre"} <= set(r.stdout.split())


def rcpt(s, address, sender="a@example.org"):
    c = s.raw()
    assert c.cmd("EHLO client.test")[0] == 250
    assert c.cmd(f"MAIL FROM:<{sender}>")[0] == 250
    return c.cmd(f"RCPT TO:<{address}>")


def test_smtpd_recipient_access_pcre_rejects_with_group_in_reply(instance):
    table = instance.root / "access.pcre"
    table.write_text(ACCESS)
    s = start_smtpd(instance, local_recipient_maps="",
                    smtpd_recipient_restrictions=f"check_recipient_access pcre:{table}")
    assert rcpt(s, "trap+spam@localhost") == (550, "5.7.1 <trap+spam@localhost>: Recipient address rejected: "
                                                   "trap spam is closed")
    assert rcpt(s, "carol@localhost") == (554, "5.7.1 <carol@localhost>: Recipient address rejected: "
                                               "only alice and bob here")
    assert rcpt(s, "alice@localhost") == (250, "2.1.5 Ok")


def test_smtpd_sender_access_regexp(instance):
    table = instance.root / "senders.regexp"
    table.write_text("/^(.+)@spam\\.test$/ 550 5.7.0 no mail from $1\n")
    s = start_smtpd(instance, local_recipient_maps="",
                    smtpd_sender_restrictions=f"check_sender_access regexp:{table}")
    assert rcpt(s, "alice@localhost", sender="eve@spam.test") == (
        550, "5.7.0 <eve@spam.test>: Sender address rejected: no mail from eve")
    # a pattern table is asked about the whole address and its domain, not parents
    assert rcpt(s, "alice@localhost", sender="eve@sub.spam.test") == (250, "2.1.5 Ok")


def test_smtpd_rereads_edited_pattern_table(instance):
    table = instance.root / "access.regexp"
    table.write_text("/^alice@/ REJECT first version\n")
    s = start_smtpd(instance, local_recipient_maps="",
                    smtpd_recipient_restrictions=f"check_recipient_access regexp:{table}")
    assert rcpt(s, "alice@localhost")[1].endswith("first version")
    table.write_text("/^alice@/ REJECT the edited version\n")
    wait_for(lambda: rcpt(s, "alice@localhost")[1].endswith("the edited version"), timeout=30,
             what="the edited table in use")


def test_pcre_match_limit_answers_temporary_failure(instance):
    table = instance.root / "slow.pcre"
    table.write_text("/^(a+)+$/ REJECT never\n")
    s = start_smtpd(instance, local_recipient_maps="",
                    smtpd_recipient_restrictions=f"check_recipient_access pcre:{table}")
    mark = instance.log_mark()
    assert rcpt(s, "a" * 40 + "@localhost") == (451, "4.3.0 <" + "a" * 40 + "@localhost>: Temporary lookup failure")
    instance.wait_log(rf"pcre map {table}, line 1: matching error", since=mark, timeout=30)
    assert rcpt(s, "bob@localhost") == (250, "2.1.5 Ok")


def test_postern_check_reports_bad_pattern_rules(instance):
    table = instance.root / "bad.regexp"
    table.write_text("/^ok/ OK\n/a(/ REJECT\nif /x/\n")
    instance.set(smtpd_recipient_restrictions=f"check_recipient_access regexp:{table}",
                 virtual_alias_maps=f"pcre:{instance.root}/missing.pcre")
    r = instance.postern("check")
    out = r.stdout + r.stderr
    assert f"regexp map {table}, line 2: " in out, out
    assert f"regexp map {table}, line 3: IF has no matching ENDIF" in out, out
    assert f"virtual_alias_maps: pcre:{instance.root}/missing.pcre: open " in out, out
    assert r.returncode != 0  # the unreadable table is an error
