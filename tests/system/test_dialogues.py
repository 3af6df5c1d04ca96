# tests/system/test_dialogues.py — runs every SMTP dialogue file in
# tests/system/dialogues/ (format: dialogues/README) against a fresh smtpd.
import codecs
import re
from pathlib import Path

import pytest

from test_smtpd import start_smtpd

DIR = Path(__file__).parent / "dialogues"
REPEAT = re.compile(r"\{(.)\*(\d+)\}")


class Dialogue:
    def __init__(self, path):
        self.path = path
        self.params, self.source, self.steps = {}, "127.0.0.1", []
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            key, sep, rest = line.partition(":")
            if not sep:
                raise ValueError(f"{path.name}:{n}: no ':' in {line!r}")
            rest = rest[1:] if rest.startswith(" ") else rest
            if key == "main.cf":
                name, eq, value = rest.partition("=")
                assert eq, f"{path.name}:{n}: main.cf: needs name = value"
                self.params[name.strip()] = value.strip()
            elif key == "client":
                self.source = rest.strip()
            elif key in ("C", "S"):
                self.steps.append((n, key, rest))
            else:
                raise ValueError(f"{path.name}:{n}: unknown key {key!r}")


def client_bytes(text):
    """A client line (UTF-8): {c*N} repeats c N times, \\xHH and \\\\ escape bytes."""
    text = REPEAT.sub(lambda m: m.group(1) * int(m.group(2)), text)
    return codecs.escape_decode(text.encode())[0] + b"\r\n"


def matches(expected, reply):
    """S: 2 (class), S: 250 (code), S: 250 2.1.0 Ok (code and the last line's text), S: closed."""
    code, text = reply
    if expected.isdigit() and len(expected) == 1:
        return str(code)[0] == expected
    want_code, _, want_text = expected.partition(" ")
    return str(code) == want_code and (not want_text or text == want_text)


@pytest.mark.parametrize("path", sorted(DIR.glob("*.txt")), ids=lambda p: p.stem)
def test_dialogue(instance, path):
    d = Dialogue(path)
    c = start_smtpd(instance, **d.params).raw(source=d.source)
    # The greeting is the first reply the file expects.
    replies = iter([c.greeting])
    pending = b""
    for n, key, rest in d.steps:
        where = f"{path.name}:{n}"
        if key == "C":
            pending += client_bytes(rest)  # consecutive C: lines go out in one write (pipelining)
            continue
        if pending:
            c.send(pending)
            pending = b""
        if rest == "closed":
            assert c.closed(), f"{where}: the server kept the connection open"
            continue
        reply = next(replies, None) or c.reply()
        assert matches(rest, reply), f"{where}: expected {rest!r}, got {reply}"
    assert not pending, f"{path.name}: client lines after the last expected reply"
