# tests/system/corpus_helpers.py — lays one configuration of
# tests/system/data/corpus/NAME into an instance: main.cf, master.cf and the
# table sources with their paths moved into the test's directory and their
# listeners onto free loopback ports, the tables built; and reads the
# expected `postern check` verdicts of tests/system/data/corpus/NAME/expected.
import re
import subprocess
from pathlib import Path

from conftest import BIN, free_port

CORPUS = Path(__file__).resolve().parent / "data" / "corpus"
CONFIG_FILES = ("main.cf", "master.cf", "expected")


def rewrites(instance):
    """Absolute paths of the configurations -> places in the test directory."""
    root, cfg = instance.root, instance.config_dir
    return [
        ("/etc/postfix/", f"{cfg}/"),
        ("/etc/aliases", f"{root}/aliases"),
        ("/etc/mailname", f"{root}/mailname"),
        ("/var/lib/mailman/data/aliases", f"{cfg}/mailman-aliases"),
        ("/var/lib/mailman/", f"{root}/mailman/"),
        ("/var/mail/", f"{root}/mail/"),
        ("/etc/letsencrypt/live/mail.example.org/fullchain.pem", f"{root}/cert.pem"),
        ("/etc/letsencrypt/live/mail.example.org/privkey.pem", f"{root}/key.pem"),
        ("/etc/ssl/certs/relay.office.example.pem", f"{root}/cert.pem"),
        ("/etc/ssl/private/relay.office.example.key", f"{root}/key.pem"),
    ]


def rewrite(text, pairs):
    for old, new in pairs:
        text = text.replace(old, new)
    return text


def lay_out(instance, name, extra_params=None, replace=()):
    """Writes configuration NAME into `instance`; returns {service: port} of
    its inet listeners (smtp, submission) and the table sources written."""
    src = CORPUS / name
    pairs = rewrites(instance) + list(replace)
    ports = {}

    def listen(m):
        ports[m.group(1)] = free_port()
        return f"127.0.0.1:{ports[m.group(1)]}{m.group(2)}inet"

    tables = []
    for f in sorted(src.iterdir()):
        text = rewrite(f.read_text(), pairs)
        if f.name == "master.cf":
            text = re.sub(r"^(smtp|submission|smtps)(\s+)inet", listen, text, flags=re.M)
        elif f.name == "main.cf":
            ours = {**instance.params, **(extra_params or {})}
            del ours["myhostname"]  # the configuration's own
            text += ("\n# --- appended by test_config_corpus.py: this test's instance ---\n" +
                     "".join(f"{k} = {v}\n" for k, v in ours.items()))
        elif f.name != "expected" and not f.name.endswith("_checks"):  # regexp: files are read as text
            tables.append(f.name)
        (instance.config_dir / f.name).write_text(text)
    return ports, tables


def build_table(instance, path, alias=False):
    tool = "postalias" if alias else "postmap"
    r = subprocess.run([str(BIN / tool), "-c", str(instance.config_dir), f"hash:{path}"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def expected_verdicts(name):
    """[(kind, regex)] of NAME/expected: `error:`, `unsupported:` (a warning
    that postern lacks something), `warning:` (another warning) and
    `ignored:` (a notice: a Postfix daemon that is not started)."""
    out = []
    for line in (CORPUS / name / "expected").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        kind, _, rx = line.partition(":")
        assert kind in ("error", "unsupported", "warning", "ignored"), line
        out.append((kind, rx.strip()))
    return out


def classify(line):
    """The verdict kind of one line of `postern check`."""
    if "error:" in line or "fatal:" in line:
        return "error"
    if "notice:" in line:
        return "ignored"
    if "warning:" in line:
        return "unsupported" if "not supported" in line else "warning"
    return "other"
