# tests/system/test_config_compat.py — "never a silent outage" (issue 19): a
# setting postern cannot honour is refused only where it applies (451 4.3.5),
# `postern check` sorts every item into error / unsupported / ignored, a
# Debian-stock main.cf + master.cf starts, mydomain follows myhostname, and
# hash: tables are LMDB tables built by postmap/postalias.
import re
import subprocess
from pathlib import Path

from conftest import BIN, free_port, wait_for
from test_auth import smarthost  # noqa: F401 (a fixture)
from test_local import Mda, one_maildir_message, chown_tree
from test_smtp_client import Dnsmasq, Message, deliver
from test_smtpd import _greets, start_smtpd

DATA = Path(__file__).resolve().parent / "data" / "corpus"


def rcpt(s, addr, source="127.0.0.1"):
    c = s.raw(source=source)
    assert c.cmd("EHLO client.test")[0] == 250
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    return c, c.cmd(f"RCPT TO:<{addr}>")


# --- per-session refusal -----------------------------------------------------

def test_unsupported_restriction_answers_451_only_where_it_is_reached(instance):
    s = start_smtpd(instance, smtpd_recipient_restrictions=(
        "check_recipient_access inline:{ alice@localhost=OK }, check_ccert_access inline:{ x.test=OK }"))
    c, reply = rcpt(s, "alice@localhost")
    assert reply == (250, "2.1.5 Ok")
    assert c.cmd("RCPT TO:<bob@localhost>") == (451, "4.3.5 Server configuration error")
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: t\r\n\r\nx\r\n.\r\n")
    assert c.reply()[0] == 250
    [m] = s.queue()
    assert m["rcpts"] == ["alice@localhost"]
    instance.wait_log(r"warning: smtpd_recipient_restrictions: restriction \"check_ccert_access\" is not "
                      r"supported by postern; answering 451 4\.3\.5 where it applies")
    instance.wait_log(r"NOQUEUE: reject: RCPT from \S+: 451 4\.3\.5 Server configuration error; "
                      r"from=<a@example\.org> to=<bob@localhost>")


def test_unsupported_step_in_one_list_leaves_the_other_path_flowing(instance):
    # Outside mynetworks: relay control permits only local recipients; the
    # recipient list with an unsupported step is reached by those alone.
    s = start_smtpd(instance, smtpd_relay_restrictions="permit_mynetworks, reject_unauth_destination",
                    smtpd_recipient_restrictions="permit_mynetworks, permit_mx_backup")
    _, reply = rcpt(s, "alice@localhost", source="127.0.0.1")
    assert reply == (250, "2.1.5 Ok")
    _, reply = rcpt(s, "alice@localhost", source="127.0.0.2")
    assert reply == (451, "4.3.5 Server configuration error")
    _, reply = rcpt(s, "x@other.test", source="127.0.0.2")
    assert reply[0] == 554  # relay control answers before the broken list


def test_reload_with_unknown_restriction_keeps_serving(instance):
    s = start_smtpd(instance)
    _, reply = rcpt(s, "alice@localhost")
    assert reply[0] == 250
    instance.set(smtpd_recipient_restrictions="check_recipient_access inline:{ alice@localhost=OK }, permit_everyone")
    instance.reload()
    # New sessions meet the new workers; old ones finish and exit.
    wait_for(lambda: rcpt(s, "bob@localhost")[1][0] == 451, timeout=20, what="451 from a reloaded smtpd")
    c, reply = rcpt(s, "alice@localhost")
    assert reply == (250, "2.1.5 Ok")
    assert c.cmd("RCPT TO:<bob@localhost>") == (451, "4.3.5 Server configuration error")
    instance.wait_log(r"warning: smtpd_recipient_restrictions: unknown restriction \"permit_everyone\"")
    assert instance.postern("status").returncode == 0


def test_auth_without_password_table_is_not_offered_and_mail_flows(instance):
    s = start_smtpd(instance, smtpd_sasl_auth_enable="yes", smtpd_tls_auth_only="no")
    c = s.raw()
    ehlo = c.ehlo()
    assert not any(l.startswith("AUTH") for l in ehlo), ehlo
    assert c.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==") == (454, "4.7.0 Temporary authentication failure: "
                                                              "Server configuration error")
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<alice@localhost>")[0] == 250
    instance.wait_log(r"warning: smtpd_sasl_auth_enable = yes needs smtpd_sasl_password_maps")


# --- postern check -----------------------------------------------------------

def check(instance):
    r = instance.postern("check")
    return r.returncode, r.stderr.splitlines()


def test_check_is_quiet_about_ignored_postfix_parameters(instance):
    instance.add_testd()
    instance.set(biff="no", readme_directory="no", compatibility_level="3.6", append_dot_mydomain="no",
                 alias_maps="")  # else a machine without /etc/aliases.lmdb gets its warning
    rc, lines = check(instance)
    assert (rc, lines) == (0, [])


def test_check_warns_when_reject_unverified_has_no_verify_service(instance):
    instance.add_testd()
    port = free_port()
    instance.add_service(f"127.0.0.1:{port} inet n - n - - smtpd -o smtpd_sender_restrictions=reject_unverified_sender")
    instance.set(alias_maps="", smtpd_recipient_restrictions="permit_mynetworks, reject_unverified_recipient")
    rc, lines = check(instance)
    assert rc == 0, lines
    missing = r"asks the address verification service, but master\.cf has no \"verify unix \.\.\. verify\" service"
    assert any(re.search(r"warning: smtpd_recipient_restrictions: reject_unverified_recipient " + missing, l)
               for l in lines), lines
    assert any(re.search(rf"warning: .*master\.cf, line 3: service 127\.0\.0\.1:{port}/inet: -o "
                         r"smtpd_sender_restrictions: reject_unverified_sender " + missing, l) for l in lines), lines
    instance.add_service("verify unix - - n - 1 verify")
    rc, lines = check(instance)
    assert (rc, lines) == (0, [])


def test_check_warns_about_unsupported_features_and_exits_0(instance):
    instance.add_testd()
    instance.set(relocated_maps="hash:/etc/postfix/relocated",
                 smtpd_recipient_restrictions="permit_mynetworks, permit_mx_backup")
    rc, lines = check(instance)
    assert rc == 0, lines
    assert any(re.search(r"warning: .*relocated_maps: relocated\(5\) tables is not supported by postern yet", l)
               for l in lines), lines
    assert any(re.search(r"warning: smtpd_recipient_restrictions: restriction permit_mx_backup is not "
                         r"supported by postern yet; smtpd answers 451 4\.3\.5", l) for l in lines), lines
    assert not any("error:" in l for l in lines), lines


def test_check_refuses_unknown_restrictions_and_table_types(instance):
    instance.add_testd()
    instance.set(smtpd_recipient_restrictions="permit_mynetworks, permit_everyone",
                 transport_maps="nosuch:/etc/postern/transport")
    rc, lines = check(instance)
    assert rc == 1
    errors = [l for l in lines if "error:" in l]
    assert any('smtpd_recipient_restrictions: unknown restriction "permit_everyone"' in l for l in errors), lines
    assert any('transport_maps: nosuch:/etc/postern/transport: unknown table type "nosuch"' in l
               for l in errors), lines
    r = instance.postern("start")
    assert r.returncode == 1 and "permit_everyone" in r.stderr
    assert instance.processes() == {}


def test_check_warns_about_host_names_and_refuses_garbage_in_network_lists(instance):
    instance.add_testd()
    instance.set(mynetworks="127.0.0.0/8, mail.example.invalid")
    rc, lines = check(instance)
    assert rc == 0, lines
    assert any(re.search(r"warning: mynetworks: host name mail\.example\.invalid: smtpd resolves it .*451 4\.3\.5", l)
               for l in lines), lines
    # Neither address, network, table nor host name: smtpd would stop at start.
    instance.set(mynetworks="127.0.0.0/8, 10.0.0.0/99")
    rc, lines = check(instance)
    assert rc == 1
    assert any(re.search(r"error: mynetworks: .*10\.0\.0\.0/99.*neither an address, a network, a host name", l)
               for l in lines), lines


def test_host_names_in_mynetworks_resolve_and_a_reload_with_one_keeps_smtpd_serving(instance):
    d = Dnsmasq(["--host-record=office.example.test,127.0.0.3"])
    try:
        instance.set(dns_servers=f"127.0.0.1:{d.port}")
        s = start_smtpd(instance, mynetworks="127.0.0.1", smtpd_relay_restrictions="permit_mynetworks, reject")
        _, reply = rcpt(s, "x@other.test", source="127.0.0.3")
        assert reply[0] == 554
        # The name resolves through dns_servers: its address may relay.
        instance.set(mynetworks="127.0.0.1, office.example.test, gone.example.test")
        instance.reload()
        wait_for(lambda: rcpt(s, "x@other.test", source="127.0.0.3")[1] == (250, "2.1.5 Ok"), timeout=20,
                 what="relay from office.example.test's address")
        instance.wait_log(r"warning: mynetworks: host name gone\.example\.test does not resolve: .*; clients that "
                          r"no other entry matches get 451 4\.3\.5 where mynetworks decides", timeout=20)
        _, reply = rcpt(s, "x@other.test", source="127.0.0.1")
        assert reply == (250, "2.1.5 Ok")
        # Nothing else matched and one name is unresolved: not "no", but 451.
        _, reply = rcpt(s, "x@other.test", source="127.0.0.2")
        assert reply == (451, "4.3.5 Server configuration error")
        assert "bad command startup" not in instance.log() and "throttling" not in instance.log()
    finally:
        d.stop()


def test_check_looks_at_master_cf_overrides(instance):
    port = free_port()
    instance.add_service(f"127.0.0.1:{port} inet n - n - - smtpd -o smtpd_client_restrictions=reject_bogus")
    rc, lines = check(instance)
    assert rc == 1
    assert any("-o smtpd_client_restrictions: unknown restriction \"reject_bogus\"" in l for l in lines), lines


# --- a Debian-stock configuration --------------------------------------------

def debian_instance(instance):
    """main.cf and master.cf as Debian installs them, with the paths and the
    smtp port of this test (never port 25)."""
    port = free_port()
    aliases = instance.root / "aliases"
    aliases.write_text("postmaster: root\n")
    (instance.root / "mailname").write_text("debian.example\n")
    main = (DATA / "debian" / "main.cf").read_text().replace("/etc/aliases", str(aliases)).replace(
        "/etc/mailname", str(instance.root / "mailname"))
    ours = {k: v for k, v in instance.params.items() if k != "myhostname"}
    main += "\n# this test's instance\n" + "".join(f"{k} = {v}\n" for k, v in ours.items())
    (instance.config_dir / "main.cf").write_text(main)
    master = (DATA / "debian" / "master.cf").read_text()
    master = re.sub(r"^smtp      inet", f"127.0.0.1:{port} inet", master, flags=re.M)
    (instance.config_dir / "master.cf").write_text(master)
    r = subprocess.run([str(BIN / "postalias"), "-c", str(instance.config_dir), f"hash:{aliases}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return port


def test_debian_stock_configuration_passes_check_and_starts(instance):
    port = debian_instance(instance)
    rc, lines = check(instance)
    assert rc == 0, lines
    assert not any("error:" in l for l in lines), lines
    notices = [l for l in lines if "notice:" in l]
    for daemon in ("cleanup", "tlsmgr", "trivial-rewrite", "proxymap", "showq", "anvil", "postlogd"):
        assert any(f"Postfix's {daemon} daemon" in l and "not started" in l for l in notices), (daemon, lines)
    # pipe(8) is a real service: Debian's examples name accounts this host may lack.
    assert not any("pipe daemon" in l for l in notices), lines
    assert any("service maildrop/unix: pipe: unknown username: vmail" in l for l in lines), lines
    r = instance.postern("start")
    assert r.returncode == 0, r.stderr
    assert "notice:" in r.stderr  # start prints what check says
    greeting = wait_for(lambda: _greets(port), timeout=15, what="smtpd greeting")
    assert greeting.startswith(b"220 debian.example ESMTP postern (Debian/GNU)"), greeting
    instance.wait_log(r"service cleanup/unix: Postfix's cleanup daemon: .*; not started")


# --- mydomain and hash: tables -----------------------------------------------

def test_mydomain_is_derived_from_myhostname(instance):
    instance.set(myhostname="mail.example.com")
    r = subprocess.run([str(BIN / "postconf"), "-c", str(instance.config_dir), "-x", "mydomain", "myorigin"],
                       capture_output=True, text=True)
    assert r.stdout.splitlines() == ["mydomain = example.com", "myorigin = mail.example.com"], r.stdout
    # The default mydestination has localhost.$mydomain: local, even from outside.
    s = start_smtpd(instance, mydestination="$myhostname, localhost.$mydomain, localhost", local_recipient_maps="")
    _, reply = rcpt(s, "alice@localhost.example.com", source="127.0.0.2")
    assert reply == (250, "2.1.5 Ok")


def test_postmap_hash_table_is_what_smtpd_reads(instance):
    access = instance.root / "access"
    access.write_text("blocked@localhost REJECT no thanks\n")
    r = subprocess.run([str(BIN / "postmap"), "-c", str(instance.config_dir), f"hash:{access}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    q = subprocess.run([str(BIN / "postmap"), "-c", str(instance.config_dir), "-q", "blocked@localhost",
                        f"hash:{access}"], capture_output=True, text=True)
    assert q.stdout.strip() == "REJECT no thanks"
    s = start_smtpd(instance, smtpd_recipient_restrictions=f"check_recipient_access hash:{access}")
    c, reply = rcpt(s, "blocked@localhost")
    assert reply == (554, "5.7.1 <blocked@localhost>: Recipient address rejected: no thanks")
    assert c.cmd("RCPT TO:<alice@localhost>")[0] == 250


def test_alias_maps_hash_delivers_through_the_alias(instance):
    mda = Mda(instance)
    box = mda.out / "box" / "Maildir"
    mda.aliases.write_text(f"postmaster: root\nbox: {box}/\n")
    r = subprocess.run([str(BIN / "postalias"), "-c", str(instance.config_dir), f"hash:{mda.aliases}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    instance.set(alias_maps=f"hash:{mda.aliases}", alias_database=f"hash:{mda.aliases}")
    chown_tree(mda.out, mda.privs)
    mda.start()
    msgid = mda.send(["box@localhost"], b"Subject: hash\r\n\r\nvia hash:\r\n")
    assert mda.wait(msgid, "box@localhost").group(1) == "delivered to maildir"
    assert b"via hash:" in one_maildir_message(box)


def test_missing_alias_database_defers_instead_of_stopping_local(instance):
    mda = Mda(instance)
    missing = instance.root / "no-aliases"
    instance.set(alias_maps=f"hash:{missing}")
    mda.start()
    msgid = mda.send(["box@localhost"], b"Subject: later\r\n\r\nx\r\n")
    assert mda.wait(msgid, "box@localhost", status="deferred").group(1) == "alias database unavailable"
    instance.wait_log(r"postern/local\[\d+\]: warning: alias_maps: .*no-aliases.*; lookups in it fail "
                      r"\(mail that needs it is deferred\)")
    assert "bad command startup" not in instance.log()


def test_service_name_expands_in_master_cf_overrides(instance):
    # Debian's stock relay service: -o syslog_name=postfix/$service_name.
    instance.add_service("echo unix - - n 1 - testd -o syslog_name=postfix/$service_name trigger")
    instance.start()
    instance.wait_log(r"postfix/echo/testd\[\d+\]: started as trigger service echo/unix", timeout=15)


def test_missing_smtp_sasl_password_table_defers_instead_of_stopping_smtp(instance, smarthost):
    host = smarthost("pw")
    instance.set(smtp_sasl_auth_enable="yes", smtp_sasl_password_maps=f"hash:{instance.root}/no-passwords",
                 smtp_connection_cache_on_demand="no")
    instance.add_service("smtp unix - - n - - smtp")
    instance.start()
    wait_for(lambda: (instance.queue_dir / "private" / "smtp").exists(), what="private/smtp")
    msg = Message(instance, b"Subject: x\r\n\r\nx\r\n", ["far@other.test"])
    r = deliver(instance, msg, f"[127.0.0.1]:{host.port}")["far@other.test"]
    assert r["status"] == "D" and r["dsn"] == "4.3.0", r
    assert "smtp_sasl_password_maps lookup error" in r["reason"], r
    instance.wait_log(r"postern/smtp\[\d+\]: warning: smtp_sasl_password_maps: .*no-passwords.*; lookups in it fail")
