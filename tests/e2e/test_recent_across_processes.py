"""\\Recent (RFC 3501 2.3.2) when the sessions of one mailbox are served by different processes.

Two server processes on one data_dir, each on a port of its own (as ``workers`` share one store, and
later nodes one PostgreSQL), so the test chooses where each session lives: a new message is recent to
exactly one read-write session, whichever process serves it and however the two race for it.
"""

from __future__ import annotations

import re
import ssl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.imap_wire.raw import RawIMAP
from tests.server_process import ServerProcess, write_config
from tests.smtp.conftest import populate


def _recent(lines: list[bytes]) -> int | None:
    found = [int(m.group(1)) for line in lines if (m := re.fullmatch(rb"\* (\d+) RECENT", line))]
    return found[-1] if found else None


def _append(client: RawIMAP, subject: str) -> None:
    message = f"Subject: {subject}\r\n\r\nbody\r\n".encode()
    client.command(b"a APPEND INBOX {%d+}\r\n" % len(message) + message)


def _recent_uids(client: RawIMAP) -> set[int]:
    found = re.fullmatch(rb"\* SEARCH((?: \d+)*)", client.command("s UID SEARCH RECENT")[0])
    assert found is not None
    return {int(uid) for uid in found.group(1).split()}


def test_a_new_message_is_recent_to_one_session_of_any_process(tmp_path: Path):
    first = write_config(tmp_path, ("imaps",), extra="[policy]\ncheck = false\n")
    second = tmp_path / "second.toml"
    second.write_text(first.read_text())  # same data_dir, another ephemeral port
    populate(tmp_path / "data")
    servers = [ServerProcess(first), ServerProcess(second, shares_data_dir=True)]
    context = ssl.create_default_context(cafile=str(tmp_path / "data" / "tls" / "cert.pem"))
    one, two, other = (RawIMAP(server.port("imaps"), context) for server in (*servers, servers[0]))
    try:
        assert _recent(one.command("b SELECT INBOX")) == 0
        assert _recent(two.command("c SELECT INBOX")) == 0
        _append(other, "first")
        assert _recent(two.command("d NOOP")) == 1  # process 2's session is told first: it takes it
        assert _recent(one.command("e NOOP")) == 0
        for n in range(2, 12):  # the two sessions race for each new message
            _append(other, f"m{n}")
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda client: client.command("f NOOP"), (one, two)))
        mine, theirs = _recent_uids(one), _recent_uids(two)
        assert mine.isdisjoint(theirs) and mine | theirs == set(range(1, 12)) and 1 in theirs
    finally:
        for client in (one, two, other):
            client.close()
        for server in servers:
            server.kill()
