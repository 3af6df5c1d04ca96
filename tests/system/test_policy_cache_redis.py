"""The policy cache on a real Redis server (Debian's redis-server, started by
the test on a loopback port) shared by two postern instances, as several MX
hosts share it: greylisting and message limits count through both; a Redis
that stops, hangs or answers garbage costs only the failure action, never a
crash or a blocked session."""
import re
import socket
import subprocess
import threading
import time

import pytest

from conftest import wait_for
from test_greylist import rcpt, wait_until
from test_smtpd import Raw, start_smtpd


def start_both(a, b, db, **params):
    p = {"policy_cache_database": db, "greylist_delay": "2s", **params}
    return start_smtpd(a, **p), start_smtpd(b, **p)


GREY = {"smtpd_recipient_restrictions": "reject_unauth_destination, check_greylist"}


def test_a_triplet_greylisted_on_a_passes_on_b(instance, other_instance, redis):
    a, b = start_both(instance, other_instance, f"redis:127.0.0.1:{redis.port}?db=3", **GREY)
    first = time.monotonic()
    assert rcpt(a.port)[0] == 450
    assert rcpt(b.port)[0] == 450, "B sees A's record: still too early"
    wait_until(first + 3)
    assert rcpt(b.port)[0] == 250
    listed = instance.postern("cache", "list", "grey")
    assert listed.returncode == 0, listed.stderr
    assert "grey:127.0.0.0/24,someone@client.test,alice@mx.postern.test|pass|3|" in listed.stdout
    # In the database the name asked for, as a hash with a TTL.
    out = subprocess.run(["redis-cli", "-p", str(redis.port), "-n", "3", "TTL",
                          "grey:127.0.0.0/24,someone@client.test,alice@mx.postern.test"],
                         capture_output=True, text=True).stdout
    assert int(out) > 30 * 86400


def test_a_message_limit_counts_mail_through_both(instance, other_instance, redis):
    a, b = start_both(instance, other_instance, f"redis:127.0.0.1:{redis.port}",
                      smtpd_recipient_restrictions="reject_unauth_destination, check_message_limits",
                      smtpd_client_message_limit="2")
    assert rcpt(a.port)[0] == 250
    assert rcpt(b.port)[0] == 250
    code, text = rcpt(a.port)
    assert code == 450 and "Too many messages (2 per 3600 seconds)" in text, text
    r = other_instance.postern("cache", "get", "msg-limit:client-ip:127.0.0.2", "--json")
    assert r.returncode == 0, r.stderr
    assert '"hits": 3' in r.stdout


def test_redis_stopped_applies_the_failure_action_and_recovers(instance, other_instance, redis):
    db = f"redis:127.0.0.1:{redis.port}"
    a = start_smtpd(instance, policy_cache_database=db, policy_cache_failure_action="defer", **GREY)
    b = start_smtpd(other_instance, policy_cache_database=db, policy_cache_failure_action="dunno", **GREY)
    assert rcpt(a.port)[0] == 450
    redis.stop()
    code, text = rcpt(a.port, "bob@mx.postern.test")
    assert (code, text.split()[0]) == (451, "4.3.0"), text
    assert rcpt(b.port, "bob@mx.postern.test")[0] == 250  # dunno: as if it passed
    instance.wait_log(rf"policy cache redis:127\.0\.0\.1:{redis.port}: .*applying policy_cache_failure_action")
    for _ in range(3):
        assert rcpt(a.port, "bob@mx.postern.test")[0] == 451
    assert len(re.findall(r"policy cache redis:.*applying policy_cache_failure_action", instance.log())) == 1
    assert len(re.findall(r"check_greylist: policy cache: .*answering 451 4\.3\.0", instance.log())) == 1
    assert instance.workers("smtpd"), "smtpd is still there"
    redis.start()
    # Back without a restart: greylisting answers again (the record is new: no persistence).
    wait_for(lambda: rcpt(a.port, "carol@mx.postern.test")[0] == 450, timeout=20, interval=0.5,
             what="greylisting through Redis again")
    instance.wait_log(rf"policy cache redis:127\.0\.0\.1:{redis.port}: connected again")


class FakeRedis:
    """A server on a loopback port that either never answers or answers garbage."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            if self.mode == "garbage":
                threading.Thread(target=self._garbage, args=(c,), daemon=True).start()

    def _garbage(self, c):
        try:
            while c.recv(65536):
                c.sendall(b"?this is not RESP\r\n")
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.mark.parametrize("mode", ["hang", "garbage"])
def test_a_bad_redis_never_blocks_other_sessions(instance, mode):
    fake = FakeRedis(mode)
    try:
        s = start_smtpd(instance, policy_cache_database=f"redis:127.0.0.1:{fake.port}",
                        policy_cache_failure_action="defer", policy_cache_timeout="3s", **GREY)
        waiting = Raw(s.port, "127.0.0.2")
        waiting.ehlo()
        assert waiting.cmd("MAIL FROM:<a@client.test>")[0] == 250
        sent = time.monotonic()
        waiting.send("RCPT TO:<alice@mx.postern.test>\r\n")
        # Meanwhile another session goes through from start to end at once.
        other = Raw(s.port, "127.0.0.1")
        other.ehlo()
        assert other.cmd("MAIL FROM:<b@client.test>")[0] == 250
        assert other.cmd("RCPT TO:<alice@mx.postern.test>")[0] == 250
        if mode == "hang":
            assert time.monotonic() - sent < 2.5, "the other session waited for the hung Redis"
        other.close()
        code, text = waiting.reply()
        assert (code, text.split()[0]) == (451, "4.3.0"), "never accepted while the cache cannot answer"
        if mode == "hang":
            assert time.monotonic() - sent >= 2.5  # policy_cache_timeout, not sooner
        waiting.close()
        instance.wait_log(r"policy cache redis:127\.0\.0\.1:\d+: " +
                          ("no answer within 3000 ms" if mode == "hang" else ".*[Pp]rotocol error"))
        assert instance.workers("smtpd")
    finally:
        fake.close()


def test_address_verification_results_live_in_redis(instance, redis):
    from test_verify import ProbeSink, start, rcpt as verify_rcpt
    sink = ProbeSink()
    try:
        smtpd = start(instance, sink, policy_cache_database=f"redis:127.0.0.1:{redis.port}")
        assert verify_rcpt(smtpd, "good@remote.test") == (250, "2.1.5 Ok")
        out = subprocess.run(["redis-cli", "-p", str(redis.port), "HGET", "rcpt:good@remote.test", "v"],
                             capture_output=True, text=True).stdout
        assert out.startswith("2 host 127.0.0.3[127.0.0.3] said: 250"), out
        assert verify_rcpt(smtpd, "good@remote.test") == (250, "2.1.5 Ok")
        assert sink.counts["RCPT"] == 1, "the second answer came from Redis"
    finally:
        sink.stop()
