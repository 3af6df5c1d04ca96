"""The operator's commands of issue 8 that E owns: encrypt (yescrypt hashes),
spf walk (SPF ranges through dnsmasq), the policy cache, the statistics
store and the runtime controls over the control channel, each against a
private instance with real mail."""
import ctypes
import ctypes.util
import os
import pty
import subprocess
import time

import pytest

from conftest import BIN, wait_for
from test_smtp_client import Dnsmasq


def crypt(password, setting):
    """crypt(3) from libxcrypt (Python's crypt module may be missing)."""
    lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    out = lib.crypt(password.encode(), setting.encode())
    return out.decode() if out else None


# --- encrypt ---------------------------------------------------------------

def test_encrypt_argument_gives_a_yescrypt_hash_that_crypt_verifies(instance):
    r = instance.postern("encrypt", "correct horse")
    assert r.returncode == 0, r.stderr
    h = r.stdout.strip()
    assert h.startswith("$y$")
    assert crypt("correct horse", h) == h
    assert crypt("wrong horse", h) != h
    # A new salt each time.
    assert instance.postern("encrypt", "correct horse").stdout.strip() != h


def test_encrypt_reads_one_line_from_stdin_and_never_echoes_it(instance):
    r = subprocess.run([str(BIN / "postern"), "-c", str(instance.config_dir), "encrypt"],
                       input="s3cret pass\nnext line\n", capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    h = r.stdout.strip()
    assert crypt("s3cret pass", h) == h
    assert "s3cret" not in r.stdout + r.stderr


def test_encrypt_on_a_terminal_turns_echo_off(instance):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(str(BIN / "postern"), ["postern", "-c", str(instance.config_dir), "encrypt"])
    out = b""
    while b"Password:" not in out:
        out += os.read(fd, 1024)
    os.write(fd, b"tty-secret\n")
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    text = out.decode()
    assert "tty-secret" not in text
    h = text.split()[-1]
    assert crypt("tty-secret", h) == h


# --- spf walk --------------------------------------------------------------

@pytest.fixture
def spf_dns(instance):
    d = Dnsmasq([
        "--txt-record=walk.test,v=spf1 ip4:192.0.2.0/24 include:inc.test a:host.test mx/30 -ip4:10.0.0.1 -all",
        # include back to walk.test: a loop.
        "--txt-record=inc.test,v=spf1 ip6:2001:db8::/32 include:walk.test ~ip4:203.0.113.9 redirect=red.test",
        "--txt-record=red.test,v=spf1 ip4:198.51.100.7 ?all",
        "--txt-record=red.test,some-site-verification=xyz",
        "--host-record=host.test,127.0.0.9",
        "--mx-host=walk.test,mx.walk.test,10",
        "--host-record=mx.walk.test,127.0.0.10",
    ])
    instance.set(dns_servers=f"127.0.0.1:{d.port}")
    yield d
    d.stop()


def spf_walk(instance, domains):
    return subprocess.run([str(BIN / "postern"), "-c", str(instance.config_dir), "spf", "walk"],
                          input=domains, capture_output=True, text=True, timeout=30)


def test_spf_walk_follows_include_redirect_a_and_mx_and_stops_at_a_loop(instance, spf_dns):
    r = spf_walk(instance, "walk.test\n")
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == sorted([
        "192.0.2.0/24", "2001:db8::/32", "198.51.100.7", "127.0.0.9", "127.0.0.10/30"])
    assert "walk.test is visited twice" in r.stderr


def test_spf_walk_reports_a_domain_without_spf_and_goes_on(instance, spf_dns):
    r = spf_walk(instance, "nothing.test\nred.test\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["198.51.100.7"]
    assert "nothing.test" in r.stderr


# --- policy cache ----------------------------------------------------------

def test_cache_put_get_delete_and_expiry(instance):
    instance.start()  # creates the queue directory, where the cache lives
    assert instance.postern("cache", "put", "greylist:1.2.3.4", "seen").returncode == 0
    r = instance.postern("cache", "get", "greylist:1.2.3.4")
    assert (r.returncode, r.stdout) == (0, "seen\n")
    assert instance.postern("cache", "put", "short", "lived", "2s").returncode == 0
    assert instance.postern("cache", "get", "short").stdout == "lived\n"
    wait_for(lambda: instance.postern("cache", "get", "short").returncode == 1, timeout=6,
             what="the entry to expire")
    r = instance.postern("cache", "get", "short")
    assert "not found" in r.stderr
    r = instance.postern("cache", "sweep")
    assert (r.returncode, r.stdout) == (0, "1 expired entry removed\n")
    assert instance.postern("cache", "delete", "greylist:1.2.3.4").returncode == 0
    assert instance.postern("cache", "get", "greylist:1.2.3.4").returncode == 1
    r = instance.postern("cache", "delete", "greylist:1.2.3.4")
    assert r.returncode == 1 and "not found" in r.stderr
    r = instance.postern("cache", "put", "k", "v", "soon")
    assert r.returncode == 1 and "bad time to live" in r.stderr
    # Abbreviated, as every command.
    assert instance.postern("ca", "p", "x", "y").returncode == 0
    assert instance.postern("ca", "g", "x").stdout == "y\n"
