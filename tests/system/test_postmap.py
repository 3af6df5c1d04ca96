# tests/system/test_postmap.py — the real postmap, postalias and newaliases
# binaries ($POSTERN_BIN) on files in temporary directories: build, query,
# delete, dump, incremental updates, warnings, errors and exit codes.
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("POSTERN_BIN", REPO / "build" / "release" / "bin"))


@pytest.fixture
def work(tmp_path):
    """A directory with an empty main.cf; commands run with -c pointing at it."""
    (tmp_path / "main.cf").write_text("")
    return tmp_path


def run(prog, work, *args, stdin=None):
    cmd = [str(BIN / prog), "-c", str(work), *map(str, args)]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=30, cwd=work)


def postmap(work, *args, stdin=None):
    return run("postmap", work, *args, stdin=stdin)


def write(path, text, mode=None):
    path.write_text(text)
    if mode is not None:
        os.chmod(path, mode)
    return path


def test_build_then_query(work):
    src = write(work / "access", "# senders\nUser@Example.COM  REJECT go away\nexample.net OK\n")
    r = postmap(work, src)
    assert r.returncode == 0 and r.stderr == ""
    assert (work / "access.lmdb").is_file()
    q = postmap(work, "-q", "user@example.com", src)
    assert (q.returncode, q.stdout) == (0, "REJECT go away\n")
    # lookups fold case like the build did
    assert postmap(work, "-q", "USER@EXAMPLE.COM", f"lmdb:{src}").stdout == "REJECT go away\n"


def test_missing_key_exits_1_silently(work):
    src = write(work / "t", "a b\n")
    postmap(work, src)
    q = postmap(work, "-q", "nothing", src)
    assert (q.returncode, q.stdout, q.stderr) == (1, "", "")


def test_dash_f_keeps_case(work):
    src = write(work / "t", "MiXed value\n")
    assert postmap(work, "-f", src).returncode == 0
    assert postmap(work, "-f", "-q", "MiXed", src).stdout == "value\n"
    assert postmap(work, "-f", "-q", "mixed", src).returncode == 1


def test_continuation_lines_and_comments(work):
    src = write(work / "t", "key first\n  second\n\tthird\n# comment\n\n  # indented comment\nother x\n")
    postmap(work, src)
    assert postmap(work, "-q", "key", src).stdout == "first second third\n"
    assert postmap(work, "-q", "other", src).stdout == "x\n"


def test_query_keys_from_stdin(work):
    src = write(work / "t", "a 1\nb 2\n")
    postmap(work, src)
    q = postmap(work, "-q", "-", src, stdin="a\nmissing\nB\n")
    assert q.returncode == 0
    assert q.stdout == "a\t1\nB\t2\n"
    none = postmap(work, "-q", "-", src, stdin="x\ny\n")
    assert (none.returncode, none.stdout) == (1, "")


def test_query_searches_maps_in_order(work):
    one = write(work / "one", "a first\n")
    two = write(work / "two", "a second\nb second\n")
    postmap(work, one, two)
    assert postmap(work, "-q", "a", one, two).stdout == "first\n"
    assert postmap(work, "-q", "b", one, two).stdout == "second\n"


def test_dump_lists_every_entry(work):
    src = write(work / "t", "b 2\na 1\nc three words\n")
    postmap(work, src)
    s = postmap(work, "-s", src)
    assert s.returncode == 0
    assert sorted(s.stdout.splitlines()) == ["a\t1", "b\t2", "c\tthree words"]


def test_delete_rewrites_the_table(work):
    src = write(work / "t", "a 1\nb 2\n")
    postmap(work, src)
    d = postmap(work, "-d", "A", src)
    assert d.returncode == 0
    assert postmap(work, "-q", "a", src).returncode == 1
    assert postmap(work, "-q", "b", src).stdout == "2\n"
    assert postmap(work, "-d", "a", src).returncode == 1  # nothing left to delete
    assert src.read_text() == "a 1\nb 2\n"  # the source file is not touched
    postmap(work, "-d", "-", src, stdin="b\n")
    assert postmap(work, "-s", src).stdout == ""


def test_delete_needs_an_existing_table(work):
    r = postmap(work, "-d", "a", work / "never")
    assert r.returncode == 1
    assert "never.lmdb" in r.stderr


def test_incremental_adds_from_stdin(work):
    src = write(work / "t", "a 1\n")
    postmap(work, src)
    r = postmap(work, "-i", src, stdin="b 2\na other\n")
    assert r.returncode == 0
    assert 'stdin, line 2: duplicate entry: "a"' in r.stderr
    assert postmap(work, "-q", "a", src).stdout == "1\n"
    assert postmap(work, "-q", "b", src).stdout == "2\n"
    assert postmap(work, "-i", "-r", src, stdin="a replaced\n").stderr == ""
    assert postmap(work, "-q", "a", src).stdout == "replaced\n"
    # -i creates a table that does not exist yet
    assert postmap(work, "-i", work / "fresh", stdin="k v\n").returncode == 0
    assert postmap(work, "-q", "k", work / "fresh").stdout == "v\n"


def test_duplicate_warning_first_wins(work):
    src = write(work / "t", "key first\nother x\nKEY second\n")
    r = postmap(work, src)
    assert r.returncode == 0
    assert f'postmap: warning: {src}, line 3: duplicate entry: "key"' in r.stderr
    assert postmap(work, "-q", "key", src).stdout == "first\n"


def test_duplicates_replace_with_r_and_silence_with_w(work):
    src = write(work / "t", "key first\nkey second\n")
    r = postmap(work, "-r", src)
    assert (r.returncode, r.stderr) == (0, "")
    assert postmap(work, "-q", "key", src).stdout == "second\n"
    w = postmap(work, "-w", src)
    assert (w.returncode, w.stderr) == (0, "")
    assert postmap(work, "-q", "key", src).stdout == "first\n"


def test_bad_line_is_skipped_with_a_warning(work):
    src = write(work / "t", "good yes\nlonely\n" + "k" * 600 + " v\n")
    r = postmap(work, src)
    assert r.returncode == 0
    assert f"postmap: warning: {src}, line 2: expected format: key whitespace value" in r.stderr
    assert f"{src}, line 3: key longer than 511 bytes" in r.stderr
    assert postmap(work, "-s", src).stdout == "good\tyes\n"


def test_errors_exit_1_with_one_clear_line(work):
    cases = [
        (["missing-file"], "postmap: fatal: open missing-file: No such file or directory"),
        ([], "postmap: fatal: usage: postmap"),
        (["-x", "t"], "postmap: fatal: usage: postmap"),
        (["-q", "a", "-d", "b", "t"], "postmap: fatal: specify only one of -s -q or -d"),
        (["pcre:t"], "postmap: fatal: pcre: is not a buildable table type"),
        (["mysql:t"], "unsupported dictionary type for building: mysql"),
        (["-q", "a", "mysql:/x"], "postmap: fatal: unsupported dictionary type: mysql"),
        (["-q", "a", "lmdb:nothing"], "nothing.lmdb: No such file or directory"),
    ]
    write(work / "t", "a b\n")
    for args, message in cases:
        r = postmap(work, *args)
        assert r.returncode == 1, args
        assert message in r.stderr, (args, r.stderr)
        assert len(r.stderr.splitlines()) == 1, r.stderr


def test_continuation_at_start_is_an_error(work):
    src = write(work / "t", "  a b\n")
    r = postmap(work, src)
    assert r.returncode == 1
    assert f"{src}, line 1" in r.stderr
    assert not (work / "t.lmdb").exists()


def test_rebuild_replaces_the_file_atomically(work):
    src = write(work / "t", "a 1\n")
    postmap(work, src)
    before = os.stat(work / "t.lmdb").st_ino
    write(src, "a 2\n")
    postmap(work, src)
    assert os.stat(work / "t.lmdb").st_ino != before  # renamed into place, not rewritten
    assert postmap(work, "-q", "a", src).stdout == "2\n"
    assert sorted(p.name for p in work.iterdir()) == ["main.cf", "t", "t.lmdb"]


@pytest.mark.parametrize("mode,want", [(0o600, 0o600), (0o640, 0o640), (0o644, 0o644)])
def test_table_is_readable_like_its_source(work, mode, want):
    src = write(work / "t", "a 1\n", mode)
    postmap(work, src)
    assert os.stat(work / "t.lmdb").st_mode & 0o777 == want


def test_dash_p_gives_default_mode(work):
    src = write(work / "t", "a 1\n", 0o600)
    postmap(work, "-p", src)
    assert os.stat(work / "t.lmdb").st_mode & 0o777 == 0o644


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files away")
def test_root_build_keeps_source_owner(work):
    src = write(work / "t", "a 1\n")
    os.chown(src, 65534, 65534)
    postmap(work, src)
    st = os.stat(work / "t.lmdb")
    assert (st.st_uid, st.st_gid) == (65534, 65534)
    postmap(work, "-o", src)
    assert os.stat(work / "t.lmdb").st_uid == 0
    postmap(work, src)
    postmap(work, "-d", "a", src)  # a rewrite keeps the table's owner
    assert os.stat(work / "t.lmdb").st_uid == 65534


def test_query_other_table_types(work):
    cidr = write(work / "clients.cidr", "10.0.0.0/8 REJECT\n1.2.3.4/24 bad\n[::1] OK\n")
    r = postmap(work, "-q", "10.1.2.3", f"cidr:{cidr}")
    assert (r.returncode, r.stdout) == (0, "REJECT\n")
    assert "non-null host address bits" in r.stderr and "line 2" in r.stderr
    assert postmap(work, "-q", "::1", f"cidr:{cidr}").stdout == "OK\n"
    text = write(work / "text", "Key val\n")
    assert postmap(work, "-q", "key", f"texthash:{text}").stdout == "val\n"
    assert postmap(work, "-s", f"texthash:{text}").stdout == "key\tval\n"
    assert postmap(work, "-q", "b", "inline:{a=1, b=2}").stdout == "2\n"
    assert postmap(work, "-q", "anything", "static:{ 550 no }").stdout == "550 no\n"


def test_default_database_type_applies_to_bare_names(work):
    (work / "main.cf").write_text("default_database_type = texthash\n")
    text = write(work / "t", "k v\n")
    assert postmap(work, "-q", "k", text).stdout == "v\n"
    r = postmap(work, text)
    assert r.returncode == 1 and "unsupported dictionary type for building: texthash" in r.stderr


ALIASES = """\
# aliases(5)
postmaster: root
Root: admin, bob
list: alice,
  carol,
  |"/usr/bin/logger -t list"
archive: /var/mail/archive
team: :include:/etc/postern/team
"quoted name": someone
broken line without colon
"""


def test_postalias_builds_aliases(work):
    src = write(work / "aliases", ALIASES)
    r = run("postalias", work, src)
    assert r.returncode == 0
    assert f"postalias: warning: {src}, line 10: need name:value pair" in r.stderr
    q = lambda key: run("postalias", work, "-q", key, src).stdout
    assert q("root") == "admin, bob\n"
    assert q("list") == 'alice, carol, |"/usr/bin/logger -t list"\n'
    assert q("archive") == "/var/mail/archive\n"
    assert q("team") == ":include:/etc/postern/team\n"
    assert q("quoted name") == "someone\n"
    assert run("postalias", work, "-q", "nobody", src).returncode == 1
    s = run("postalias", work, "-s", src).stdout.splitlines()
    assert "postmaster: root" in s and len(s) == 6
    # the same file is also readable by postmap (it is an lmdb: table)
    assert postmap(work, "-q", "postmaster", src).stdout == "root\n"


def test_postalias_duplicate_warning(work):
    src = write(work / "aliases", "a: b\nA: c\n")
    r = run("postalias", work, src)
    assert f'postalias: warning: {src}, line 2: duplicate entry: "a"' in r.stderr
    assert run("postalias", work, "-q", "a", src).stdout == "b\n"


def test_newaliases_rebuilds_alias_database(work):
    one = write(work / "aliases", "root: admin\n")
    two = write(work / "more", "abuse: root\n")
    (work / "main.cf").write_text(f"alias_database = lmdb:{one}, lmdb:{two}\n")
    r = run("newaliases", work)
    assert (r.returncode, r.stderr) == (0, "")
    assert run("postalias", work, "-q", "root", one).stdout == "admin\n"
    assert run("postalias", work, "-q", "abuse", two).stdout == "root\n"


def test_newaliases_reports_missing_source(work):
    (work / "main.cf").write_text(f"alias_database = lmdb:{work}/none\n")
    r = run("newaliases", work)
    assert r.returncode == 1
    assert f"newaliases: fatal: open {work}/none: No such file or directory" in r.stderr


def test_config_dir_from_environment(work):
    (work / "main.cf").write_text("default_database_type = texthash\n")
    text = write(work / "t", "k v\n")
    env = dict(os.environ, POSTERN_CONFIG_DIR=str(work))
    r = subprocess.run([str(BIN / "postmap"), "-q", "k", str(text)], capture_output=True,
                       text=True, timeout=30, env=env)
    assert r.stdout == "v\n"
