# tests/system/test_master.py — master's process management, end to end:
# on-demand workers, max_use/max_idle recycling, maxproc, reload, throttling,
# wakeup, stop/abort and the pid lock, with the test service `testd`.
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import BIN, LineClient, free_port, pid_of, wait_for


def session(port):
    """One complete test-service session; returns the worker's pid."""
    with LineClient(port) as c:
        assert c.command("hello") == "250 hello"
        assert c.command("QUIT") == "221 bye"
        return pid_of(c.greeting)


def ticker(instance):
    """A unix test service master wakes every second: its lines in the log
    prove that master's loop ran on for that long (see ran_on)."""
    instance.add_testd(service_type="unix", name="ticker", wakeup=1, maxproc=1, args="trigger")


def ran_on(instance, since, seconds=1):
    """Waits until the ticker was woken seconds+1 times after `since`: master
    has then been running its loop at least `seconds` since that moment."""
    instance.wait_log(r'testd\[\d+\]: wakeup request "W"', since=since, count=seconds + 1, timeout=10 + 5 * seconds)


def process_counts(instance, service):
    """(busy, idle) of one master.cf service, as master itself counts them."""
    r = instance.postern("show", "processes")
    assert r.returncode == 0, r.stderr
    for line in r.stdout.splitlines():
        f = line.split("|")
        if f[0] == service:
            return int(f[3]), int(f[4])
    raise AssertionError(f"no service {service} in show processes:\n{r.stdout}")


def test_no_worker_before_first_connection_one_after(instance):
    port = instance.add_testd()
    instance.start()
    assert process_counts(instance, f"127.0.0.1:{port}") == (0, 0)  # master is up and has started none
    assert instance.workers() == []
    assert len(instance.processes("master")) == 1
    with LineClient(port) as c:
        assert instance.workers() == [pid_of(c.greeting)]


def test_max_use_recycles_the_worker(instance):
    port = instance.add_testd(args="-o max_use=3")
    instance.start()
    pids = [session(port) for _ in range(4)]
    assert pids[0] == pids[1] == pids[2]
    assert pids[3] != pids[0]


def quit_and_wait_close(c):
    """Ends a session and waits until the worker has closed it (it has then
    counted the client as done)."""
    assert c.command("QUIT") == "221 bye"
    assert c.file.read() == b""
    c.close()


def test_max_use_counts_finished_sessions_of_a_multi_client_worker(instance):
    # An event-driven worker holds more sessions at once than max_use: the
    # limit counts sessions that have ended, not connections accepted.
    port = instance.add_testd(args="-o max_use=3 multi")
    instance.start()
    clients = [LineClient(port) for _ in range(5)]
    first = pid_of(clients[0].greeting)
    assert {pid_of(c.greeting) for c in clients} == {first}
    for c in clients[:3]:
        quit_and_wait_close(c)
    # Three are done: the worker takes no new session but keeps serving the
    # two it holds; the next client meets a fresh worker.
    with LineClient(port) as fresh:
        assert pid_of(fresh.greeting) != first
    for i, c in enumerate(clients[3:]):
        assert c.command(f"still{i}") == f"250 still{i}"
    assert first in instance.workers()
    for c in clients[3:]:
        quit_and_wait_close(c)
    wait_for(lambda: first not in instance.workers(), timeout=10, what="the used-up worker to exit")


def test_max_idle_ends_the_worker_about_then(instance):
    instance.set(max_idle="2s")
    port = instance.add_testd()
    instance.start()
    pid = session(port)
    ended = time.monotonic()
    wait_for(lambda: pid not in instance.workers(), timeout=15, what="idle worker to exit")
    waited = time.monotonic() - ended
    assert waited >= 1.5, waited  # not before max_idle; a loaded machine may take its time after it


def test_maxproc_bounds_concurrent_workers(instance):
    port = instance.add_testd(maxproc=2)
    instance.start()
    a, b = LineClient(port), LineClient(port)
    # The third client is queued in the listen backlog, not served.
    c = LineClient(port, read_greeting=False)
    assert c.waiting(1.0)
    assert process_counts(instance, f"127.0.0.1:{port}") == (2, 0)  # both busy, none spare for c
    assert len(instance.workers()) == 2
    assert {pid_of(a.greeting), pid_of(b.greeting)} == set(instance.workers())
    a.close()
    assert pid_of(c.readline()) in {pid_of(a.greeting), pid_of(b.greeting)}
    assert len(instance.workers()) <= 2
    b.close()
    c.close()


def test_reload_keeps_open_session_and_applies_new_value(instance):
    instance.set(smtpd_banner="before reload")
    port = instance.add_testd()
    instance.start()
    master = instance.master_pid()
    old = LineClient(port)
    assert old.greeting.endswith("before reload")
    instance.set(smtpd_banner="after reload")
    instance.reload()
    with LineClient(port) as new:
        assert new.greeting.endswith("after reload")
        assert pid_of(new.greeting) != pid_of(old.greeting)
    # The session opened before the reload goes on with its old worker.
    assert old.command("still here") == "250 still here"
    assert old.command("QUIT") == "221 bye"
    old.close()
    assert instance.master_pid() == master
    assert instance.processes("master").keys() == {master}
    wait_for(lambda: pid_of(old.greeting) not in instance.workers(), what="retired worker to exit")


def test_reload_idle_old_worker_takes_no_new_session(instance):
    instance.set(smtpd_banner="one")
    port = instance.add_testd()
    instance.start()
    old = session(port)  # its worker now idles, still holding the listener
    instance.set(smtpd_banner="two")
    instance.reload()
    with LineClient(port) as c:
        assert c.greeting.endswith(" two")
        assert pid_of(c.greeting) != old


def test_reload_closes_removed_service_and_opens_new_one(instance):
    gone = instance.add_testd()
    instance.start()
    retired = session(gone)
    instance.services.clear()
    fresh = instance.add_testd()
    instance.reload()
    # Its idle worker held the listener too, until it saw the reload.
    wait_for(lambda: retired not in instance.workers(), what="retired worker to exit")
    with pytest.raises(ConnectionRefusedError):
        LineClient(gone)
    session(fresh)


def test_failing_service_is_throttled_others_keep_working(instance):
    instance.set(service_throttle_time="60s")
    bad = instance.add_testd(args="fail")
    good = instance.add_testd()
    ticker(instance)
    instance.start()
    c = LineClient(bad, read_greeting=False, timeout=3)
    instance.wait_log(r"warning: process \S+/testd pid \d+ exit status 1")
    # The warning names the reason: the worker's own fatal line.
    instance.wait_log(r"warning: \S+/testd: bad command startup -- throttling: "
                      r"fatal: startup failure requested by the test configuration$")
    ran_on(instance, instance.log_mark(), seconds=2)
    # Throttled: no new attempts in those seconds while the client still waits.
    assert instance.log().count("bad command startup") == 1
    session(good)
    c.close()


def test_command_that_exits_at_once_is_not_restarted_in_a_loop(instance):
    port = instance.add_testd(args="quit")
    ticker(instance)
    instance.start()
    c = LineClient(port, read_greeting=False)
    instance.wait_log(r"exited before serving a client")
    instance.wait_log(r"bad command startup -- throttling")
    ran_on(instance, instance.log_mark(), seconds=2)
    assert instance.log().count("exited before serving a client") == 1
    c.close()


def test_stop_leaves_no_process_and_status_says_so(instance):
    port = instance.add_testd()
    instance.start()
    r = instance.postern("status")
    assert r.returncode == 0
    assert f"the postern mail system is running: PID: {instance.master_pid()}" in r.stderr
    session(port)
    assert len(instance.workers()) == 1  # idle, waiting for max_idle
    instance.stop()
    assert instance.processes() == {}
    r = instance.postern("status")
    assert r.returncode == 1
    assert "the postern mail system is not running" in r.stderr
    instance.wait_log(r"terminating on signal 15")


def test_stop_kills_workers_still_busy_after_grace(instance):
    instance.set(stop_grace_time="1s")
    port = instance.add_testd()
    instance.start()
    busy = LineClient(port)
    began = time.monotonic()
    instance.stop()
    assert time.monotonic() - began < 4
    assert instance.processes() == {}
    instance.wait_log(r"still busy after stop_grace_time")
    busy.close()


def test_start_failure_is_reported_and_leaves_nothing(instance):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        instance.add_testd(port=taken.getsockname()[1])
        r = instance.postern("start")
    assert r.returncode == 1
    assert "Address already in use" in r.stderr
    assert instance.processes() == {}


def test_reload_with_broken_master_cf_keeps_running_config(instance):
    port = instance.add_testd()
    instance.start()
    mark = instance.log_mark()
    instance.add_service("broken inet")
    assert instance.postern("reload").returncode == 0
    instance.wait_log(r"warning: reload: .*keeping the running configuration", since=mark)
    session(port)


def test_multi_client_worker_serves_concurrent_sessions(instance):
    port = instance.add_testd(maxproc=1, args="multi")
    instance.start()
    clients = [LineClient(port) for _ in range(3)]
    assert len({pid_of(c.greeting) for c in clients}) == 1
    for i, c in enumerate(clients):
        assert c.command(f"n{i}") == f"250 n{i}"
        c.close()
    assert len(instance.workers()) == 1


def test_abort_stops_at_once(instance):
    port = instance.add_testd()
    instance.start()
    busy = LineClient(port)
    r = instance.postern("abort")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: instance.processes() == {}, timeout=3, what="all processes gone")
    busy.close()


def test_workers_exit_when_master_dies(instance):
    port = instance.add_testd(maxproc=2)
    instance.start()
    busy = LineClient(port)
    idle = session(port)
    os.kill(instance.master_pid(), signal.SIGKILL)
    # The idle worker goes at once; the busy one finishes its client first.
    wait_for(lambda: idle not in instance.workers(), timeout=3, what="idle worker to exit")
    assert busy.command("last words") == "250 last words"
    busy.command("QUIT")
    busy.close()
    wait_for(lambda: instance.processes() == {}, timeout=3, what="busy worker to exit")


def test_wakeup_pokes_unix_service(instance):
    path = instance.add_testd(service_type="unix", name="tick", wakeup=1, maxproc=1, args="trigger")
    instance.start()
    instance.wait_log(r'testd\[\d+\]: wakeup request "W"', count=2, timeout=4)
    assert path.exists()
    assert len(instance.workers()) == 1


def test_first_wakeup_comes_at_start_except_for_conditional_ones(instance):
    # As Postfix: a wakeup service (qmgr) starts with the system; "N?" waits until used.
    instance.add_testd(service_type="unix", name="eager", wakeup=60, maxproc=1, args="trigger")
    instance.add_testd(service_type="unix", name="lazy", wakeup="60?", maxproc=1, args="trigger")
    instance.start()
    instance.wait_log(r'testd\[\d+\]: wakeup request "W"', count=1, timeout=10)
    # Master started both services' timers together: the lazy one has no worker.
    assert process_counts(instance, "lazy") == (0, 0)
    assert len(instance.workers()) == 1
    assert len(re.findall(r'wakeup request "W"', instance.log())) == 1


def test_second_start_fails_clearly(instance):
    instance.add_testd()
    instance.start()
    r = instance.postern("start")
    assert r.returncode == 1
    assert "the postern mail system is already running" in r.stderr
    # master itself refuses too, naming the running one.
    r = subprocess.run([str(BIN / "master"), "-c", str(instance.config_dir), "-d"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert f"already running (master pid {instance.master_pid()})" in r.stderr


def test_status_before_start_exits_1(instance):
    r = instance.postern("status")
    assert r.returncode == 1
    assert "postern/postern-script: the postern mail system is not running" in r.stderr
    r = instance.postern("stop")
    assert r.returncode == 1


def test_check_reports_every_problem(instance):
    instance.add_testd()
    assert instance.postern("check").returncode == 0
    instance.set(max_idle="soon")
    instance.add_service("other unix - - n - - nosuchprogram")
    r = instance.postern("check")
    assert r.returncode == 1
    assert "max_idle" in r.stderr
    assert "nosuchprogram" in r.stderr
    # start runs the same check and refuses.
    r = instance.postern("start")
    assert r.returncode == 1 and "nosuchprogram" in r.stderr
    assert instance.processes() == {}


def test_commands_take_unambiguous_prefixes(instance):
    instance.add_testd()
    assert instance.postern("che").returncode == 0
    r = instance.postern("st")
    assert r.returncode == 1 and "ambiguous" in r.stderr


def test_start_fg_runs_in_foreground_until_interrupted(instance):
    port = instance.add_testd()
    p = subprocess.Popen([str(BIN / "postern"), "-c", str(instance.config_dir), "start-fg"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        instance.wait_log(r"daemon started -- version \S+, configuration " + str(instance.config_dir))
        assert instance.master_pid() == p.pid  # start-fg execs master
        session(port)
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=5) == 0
        wait_for(lambda: instance.processes() == {}, timeout=3, what="no processes after Ctrl-C")
    finally:
        if p.poll() is None:
            p.kill()


def test_maillog_file_is_created_unreadable_for_other_users(instance):
    # Every address that passes through is in it: owner and group only (0640).
    instance.add_testd()
    assert not instance.log_path.exists()
    instance.start()
    instance.wait_log(r"daemon started")
    assert instance.log_path.stat().st_mode & 0o777 == 0o640


def gone_or_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_restart_stops_then_starts_a_new_master(instance):
    port = instance.add_testd()
    instance.start()
    old = instance.master_pid()
    before = session(port)
    r = instance.postern("restart")
    assert r.returncode == 0, r.stderr
    assert "stopping the postern mail system" in r.stderr
    assert "starting the postern mail system" in r.stderr
    new = instance.master_pid()
    assert new is not None and new != old
    assert gone_or_zombie(old)  # the old master had ended before the new one started
    assert session(port) != before  # a worker of the new master serves


def test_restart_with_a_broken_configuration_leaves_the_running_system(instance):
    port = instance.add_testd()
    instance.start()
    old = instance.master_pid()
    worker = session(port)  # idle, it serves on (a new worker would read the broken main.cf)
    instance.set(max_idle="soon")
    r = instance.postern("restart")
    assert r.returncode == 1
    assert "max_idle" in r.stderr and "not restarting" in r.stderr
    assert instance.master_pid() == old
    assert session(port) == worker


def test_restart_if_running_does_nothing_when_stopped(instance):
    instance.add_testd()
    r = instance.postern("restart", "--if-running")
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines() == [
        "postern/postern-script: the postern mail system is not running; not restarting"]
    assert instance.processes() == {}
    # Without the option a restart of a stopped system starts it.
    r = instance.postern("restart")
    assert r.returncode == 0, r.stderr
    assert instance.master_pid() is not None


def test_restart_if_running_restarts_a_running_system(instance):
    port = instance.add_testd()
    instance.start()
    old = instance.master_pid()
    r = instance.postern("restart", "--if-running")
    assert r.returncode == 0, r.stderr
    assert instance.master_pid() not in (None, old)
    session(port)
