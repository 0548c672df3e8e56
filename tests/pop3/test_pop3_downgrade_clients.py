"""mpop and fetchmail (which never issue UTF8) download a message with UTF-8 header fields.

It used to be answered -ERR [UTF8]: mpop failed on every run and fetchmail skipped the message, so
those users never got it. Now they get the RFC 6857 surrogate (RFC 6856 2.1): a 7-bit header section
whose fields decode back to the original text, and the body as stored.
"""

from __future__ import annotations

import mailbox
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pillarbox.mime.downgrade import split_addresses
from pillarbox.mime.headers import find_body_start, parse_fields
from pillarbox.mime.rfc2047 import decode_header_value
from tests.pop3.helpers import PASSWORD, message
from tests.pop3.test_pop3_clients import fetchmail, require
from tests.pop3.test_pop3_wire import Server, running_server

INTERNATIONAL = (
    "Received: from mail.example.org by mx.test with ESMTPS\r\n"
    "\tfor <jörg@example.com>; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    "From: Zoë Ångström <zoë@bücher.example>\r\nTo: Jörg <jörg@example.com>\r\n"
    "Subject: Grüße aus Köln — 日本語の件名\r\nMessage-ID: <grüße@example.org>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    "Hallo Jörg,\r\n.eine Zeile mit Punkt\r\n"
).encode()
USERS = ("mpop@example.com", "fetch-utf8@example.com")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    mailboxes = {user: [message(1), INTERNATIONAL] for user in USERS}
    with running_server(tmp_path_factory.mktemp("pop3downgrade"), mailboxes) as running:
        yield running


def check_surrogate(raw: bytes) -> None:
    """The downloaded copy: 7-bit header, every field saying what the original said, the body intact."""
    end = find_body_start(raw, 0, len(raw))
    assert raw[:end].isascii(), raw[:end]
    got = {name: value for name, value in parse_fields(raw, 0, end)}
    assert decode_header_value(got["subject"]) == "Grüße aus Köln — 日本語の件名"
    assert decode_header_value(got["downgraded-message-id"]) == "<grüße@example.org>"
    assert decode_header_value(got["from"]) == "Zoë Ångström <zoë@bücher.example> :;"
    [to] = split_addresses(got["to"])
    assert decode_header_value(to[:-3]) == "Jörg <jörg@example.com>"
    assert "jörg" not in got["received"] and "for" not in got["received"].split()
    assert raw[end:].replace(b"\r\n", b"\n") == "Hallo Jörg,\n.eine Zeile mit Punkt\n".encode()


def mpop(server: Server, home: Path, user: str) -> subprocess.CompletedProcess[str]:
    binary = require("mpop", "mpop")
    home.mkdir(exist_ok=True)
    args = [binary, "--host=127.0.0.1", f"--port={server.process.port('pop3')}", "--tls=on", "--tls-starttls=on",
            f"--tls-trust-file={server.cert}", "--tls-host-override=mx.test", f"--user={user}", "--auth=user",
            f"--passwordeval=echo {PASSWORD}", f"--delivery=mbox,{home / 'mbox'}", "--keep=on", "--only-new=on",
            f"--uidls-file={home / 'uidls'}", "--received-header=off"]
    return subprocess.run(args, capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(home)})


def mbox_messages(path: Path) -> list[bytes]:
    return [m.as_bytes(unixfrom=False) for m in mailbox.mbox(str(path))]


def test_mpop_downloads_the_surrogate_and_remembers_it(server: Server, tmp_path: Path) -> None:
    result = mpop(server, tmp_path / "home", "mpop@example.com")
    assert result.returncode == 0, result.stdout + result.stderr
    first, second = mbox_messages(tmp_path / "home" / "mbox")
    assert b"Subject: test 1" in first
    check_surrogate(second)
    again = mpop(server, tmp_path / "home", "mpop@example.com")
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(mbox_messages(tmp_path / "home" / "mbox")) == 2  # UIDL: the surrogate is the same message


def test_fetchmail_downloads_the_surrogate(server: Server, tmp_path: Path) -> None:
    code, output, mbox = fetchmail(server, tmp_path / "home", "fetch-utf8@example.com", implicit_tls=True, keep=True)
    assert code == 0, output
    data = mbox.read_bytes()
    assert data.count(b"Subject: ") == 2
    international = data[data.index(b"Received: from mail.example.org"):]
    check_surrogate(international)
    code, output, _ = fetchmail(server, tmp_path / "home", "fetch-utf8@example.com", implicit_tls=True, keep=True)
    assert code == 1, output  # no new mail: both UIDLs are known
