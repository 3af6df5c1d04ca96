# tests/system/dovecot_helpers.py — a private Dovecot (Debian's dovecot-core
# and dovecot-lmtpd) for the system tests: passwd-file users, the auth socket
# and the LMTP socket in postern's queue directory, Maildirs under the test dir.
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import free_port, wait_for

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def _mail_ids():
    """uid and gid the mail is stored as: ours, or `mail` when we are root
    (Dovecot stores no mail as uid 0)."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    m = pwd.getpwnam("mail")
    return m.pw_uid, m.pw_gid


class Dovecot:
    """dovecot -F with a configuration of its own under root/dovecot.
    users: {address: password}. The auth listener is `auth_socket` (a path)
    and also inet on `auth_port`; LMTP listens on `lmtp_socket` and `lmtp_port`."""

    def __init__(self, root: Path, queue_dir: Path, users):
        if not os.path.exists(DOVECOT):
            pytest.skip("dovecot is not installed (scripts/install-deps)")
        self.dir = root / "dovecot"
        self.mail = root / "vmail"
        for d in (self.dir / "run", self.dir / "state", self.mail):
            d.mkdir(parents=True, exist_ok=True)
        self.uid, self.gid = _mail_ids()
        os.chown(self.mail, self.uid, self.gid)
        private = queue_dir / "private"
        private.mkdir(parents=True, exist_ok=True)
        self.auth_socket = private / "auth"
        self.lmtp_socket = private / "dovecot-lmtp"
        self.auth_port = free_port()
        self.lmtp_port = free_port()
        self.log_path = self.dir / "dovecot.log"
        self.proc = None
        self.users = dict(users)
        self.write_users()
        self.conf = self.dir / "dovecot.conf"
        self.conf.write_text(self.config())

    def write_users(self):
        lines = []
        for addr, password in self.users.items():
            user, domain = addr.split("@")
            home = self.mail / domain / user
            lines.append(f"{addr}:{{PLAIN}}{password}:{self.uid}:{self.gid}::{home}::\n")
        (self.dir / "users").write_text("".join(lines))

    def config(self):
        if os.getuid() == 0:
            internal, login = "dovecot", "dovenull"
        else:
            internal = login = pwd.getpwuid(os.getuid()).pw_name
        users = self.dir / "users"
        return f"""# A private Dovecot for one postern system test.
protocols = lmtp
listen = 127.0.0.1
base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.log_path}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_verbose = yes
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {min(self.uid, 500) if self.uid else 1}
first_valid_gid = 0
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {users}
}}
service auth {{
  unix_listener {self.auth_socket} {{
    mode = 0666
  }}
  inet_listener auth {{
    address = 127.0.0.1
    port = {self.auth_port}
  }}
}}
service lmtp {{
  unix_listener {self.lmtp_socket} {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
"""

    def start(self):
        # A session of its own: stop() ends its children too (an auth process
        # outlives the master while a client is still connected).
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf)], start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=open(self.dir / "stderr", "wb"))
        wait_for(lambda: self.proc.poll() is not None or
                 (self.auth_socket.exists() and self.lmtp_socket.exists() and self._answers()),
                 timeout=30, what="dovecot's listeners")
        assert self.proc.poll() is None, self.diagnostics()
        return self

    def _answers(self):
        import socket
        try:
            with socket.create_connection(("127.0.0.1", self.lmtp_port), timeout=2) as c:
                return c.recv(200).startswith(b"220 ")
        except OSError:
            return False

    def stop(self):
        """Ends the master and every process of its group (ours alone)."""
        if not self.proc:
            return
        group = self.proc.pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not self._group_alive(group):
                break
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            end = time.monotonic() + 20
            while self._group_alive(group) and time.monotonic() < end:
                self.proc.poll()
                time.sleep(0.05)
        self.proc.wait(timeout=20)
        self.proc = None

    @staticmethod
    def _group_alive(group):
        """A process of the group that is not a zombie."""
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] != "Z" and int(fields[2]) == group:
                return True
        return False

    def diagnostics(self):
        out = []
        for f in (self.dir / "stderr", self.log_path):
            if f.exists():
                out.append(f"{f}:\n{f.read_text(errors='replace')}")
        return "\n".join(out)

    def maildir_messages(self, address):
        user, domain = address.split("@")
        new = self.mail / domain / user / "Maildir" / "new"
        return sorted(new.iterdir()) if new.exists() else []
