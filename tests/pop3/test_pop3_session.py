"""Session semantics against a real store: snapshot, UPDATE state, locks, policies, limits, fuzzing."""

from __future__ import annotations

import asyncio
import base64
import errno
import hashlib
import hmac
import os
import secrets
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pillarbox.errors import StorageFull
from pillarbox.pop3.protocol import KNOWN
from pillarbox.store.sqlite.store import SQLiteStore
from tests.pop3.helpers import PASSWORD, USER, Driver, make_services, message, populate_store


async def uids(store: SQLiteStore, inbox: int) -> list[int]:
    return [e.uid for e in await store.list_messages(inbox)]


def test_dele_then_quit_expunges_and_imap_sees_it(with_store):
    async def body(store: SQLiteStore) -> None:
        inbox = await populate_store(store, [message(1), message(2), message(3)])
        before = (await store.get_mailbox_by_id(inbox)).highestmodseq
        driver = Driver(make_services(store), tls=True)
        await driver.start()
        await driver.login()
        assert await driver.line("DELE 1") == "+OK message 1 deleted\r\n"
        assert await driver.line("DELE 3") == "+OK message 3 deleted\r\n"
        assert await uids(store, inbox) == [1, 2, 3]  # nothing before UPDATE
        assert await driver.line("QUIT") == "+OK mx.test closing connection, 2 messages deleted\r\n"
        assert driver.session.closed
        await driver.close()
        assert await uids(store, inbox) == [2]
        changes = await store.changes_since(inbox, before)
        assert changes.expunged == (1, 3)

    with_store(body)


def test_dropped_connection_deletes_nothing_and_releases_the_lock(with_store):
    async def body(store: SQLiteStore) -> None:
        inbox = await populate_store(store, [message(1), message(2)], policy=0)
        services = make_services(store)
        first = Driver(services, tls=True)
        await first.start()
        await first.login()
        await first.line("RETR 1")
        await first.line("DELE 2")
        second = Driver(services, tls=True)
        await second.start()
        assert await second.login() == "-ERR [IN-USE] maildrop already locked by another session\r\n"
        await first.close()  # EOF without QUIT
        assert await uids(store, inbox) == [1, 2]
        assert (await second.login()).startswith("+OK maildrop locked and ready, 2 messages")
        await second.close()

    with_store(body)


def test_snapshot_is_fixed_for_the_session(with_store):
    async def body(store: SQLiteStore) -> None:
        inbox = await populate_store(store, [message(1), message(2)])
        services = make_services(store)
        driver = Driver(services, tls=True)
        await driver.start()
        await driver.login()
        await populate_store(store, [message(3)])  # delivered during the session
        assert await driver.line("STAT") == "+OK 2 332\r\n"
        await store.expunge(inbox, [1])  # an IMAP client expunges message 1
        assert await driver.line("RETR 1") == "-ERR message was deleted by another session\r\n"
        assert await driver.line("TOP 1 0") == "-ERR message was deleted by another session\r\n"
        assert (await driver.line("RETR 2")).startswith("+OK 166 octets\r\n")
        assert await driver.line("DELE 1") == "+OK message 1 deleted\r\n"
        assert await driver.line("QUIT") == "+OK mx.test closing connection, 0 messages deleted\r\n"
        await driver.close()
        again = Driver(services, tls=True)
        await again.start()
        assert (await again.login()).startswith("+OK maildrop locked and ready, 2 messages")
        mailbox = await store.get_mailbox_by_id(inbox)
        assert await again.line("UIDL") == f"+OK unique-id listing follows\r\n1 {mailbox.uidvalidity}.2\r\n" \
            f"2 {mailbox.uidvalidity}.3\r\n.\r\n"
        await again.close()

    with_store(body)


def test_retr_marks_seen_at_quit_only(with_store):
    async def body(store: SQLiteStore) -> None:
        inbox = await populate_store(store, [message(1), message(2)])
        driver = Driver(make_services(store), tls=True)
        await driver.start()
        await driver.login()
        await driver.line("RETR 2")
        await driver.line("TOP 1 1")
        assert all("\\Seen" not in e.flags for e in await store.list_messages(inbox))
        await driver.line("QUIT")
        await driver.close()
        flags = {e.uid: e.flags for e in await store.list_messages(inbox)}
        assert "\\Seen" in flags[2] and "\\Seen" not in flags[1]

    with_store(body)


def test_delete_after_download_policy(with_store):
    async def body(store: SQLiteStore) -> None:
        inbox = await populate_store(store, [message(1), message(2), message(3)], policy=0)
        driver = Driver(make_services(store), tls=True)
        await driver.start()
        await driver.login()
        assert "EXPIRE 0\r\n" in await driver.line("CAPA")
        await driver.line("RETR 1")
        await driver.line("TOP 2 5")  # not a download in full: kept
        assert await driver.line("QUIT") == "+OK mx.test closing connection, 1 messages deleted\r\n"
        await driver.close()
        assert await uids(store, inbox) == [2, 3]

    with_store(body)


def test_leave_on_server_for_n_days_policy(with_store):
    async def body(store: SQLiteStore) -> None:
        old = datetime.now(UTC) - timedelta(days=10)
        inbox = await populate_store(store, [message(1), message(2)], policy=7, internal_date=old)
        await populate_store(store, [message(3)], policy=7)  # recent
        await store.store_flags(inbox, [2], "add", ["\\Seen"])  # downloaded in an earlier session
        driver = Driver(make_services(store), tls=True)
        await driver.start()
        await driver.login()
        assert "EXPIRE 7\r\n" in await driver.line("CAPA")
        await driver.line("RETR 3")  # recent: kept
        assert await driver.line("QUIT") == "+OK mx.test closing connection, 1 messages deleted\r\n"
        await driver.close()
        assert await uids(store, inbox) == [1, 3]  # 1 old but never downloaded, 2 old and seen: gone

    with_store(body)


def test_keep_policy_announces_expire_never(with_store):
    async def body(store: SQLiteStore) -> None:
        await populate_store(store, [message(1)])
        driver = Driver(make_services(store), tls=True)
        await driver.start()
        assert "EXPIRE 0 USER\r\n" in await driver.line("CAPA")
        await driver.login()
        assert "EXPIRE NEVER\r\n" in await driver.line("CAPA")
        await driver.close()

    with_store(body)


def test_login_delay_is_announced_and_enforced(with_store):
    async def body(store: SQLiteStore) -> None:
        await populate_store(store, [message(1)])
        services = make_services(store, login_delay=60)
        driver = Driver(services, tls=True)
        await driver.start()
        assert "LOGIN-DELAY 60 USER\r\n" in await driver.line("CAPA")
        await driver.login()
        assert "LOGIN-DELAY 60\r\n" in await driver.line("CAPA")
        await driver.line("QUIT")
        await driver.close()
        again = Driver(services, tls=True)
        await again.start()
        assert await again.login() == "-ERR [LOGIN-DELAY] minimum time between logins has not passed\r\n"
        await again.close()

    with_store(body)


def test_too_many_errors_close_the_session(with_store):
    async def body(store: SQLiteStore) -> None:
        driver = Driver(make_services(store, max_command_errors=3), tls=False)
        await driver.start()
        out = await driver.send(b"FOO\r\nBAR\r\nBAZ\r\nQUUX\r\n")
        assert out == b"-ERR unknown command\r\n" * 3 + b"-ERR too many errors; closing connection\r\n"
        assert driver.session.closed
        await driver.close()

    with_store(body)


def test_idle_timeout_says_why_and_closes(with_store):
    async def body(store: SQLiteStore) -> None:
        driver = Driver(make_services(store), tls=False)
        await driver.start()
        assert driver.session.idle_timeout == 600.0
        await driver.session.on_timeout()
        assert driver.conn.take() == b"-ERR idle for too long; closing connection\r\n"
        assert driver.session.closed and driver.session.end == "timeout"
        await driver.close()

    with_store(body)


def test_pipelined_commands_answer_in_order_and_byte_at_a_time_is_the_same(with_store):
    script = f"USER {USER}\r\nPASS {PASSWORD}\r\n" + "\r\n".join(
        ["STAT", "LIST", "UIDL", "RETR 1", "TOP 2 1", "DELE 1", "RSET", "QUIT", ""])

    async def body(store: SQLiteStore) -> None:
        await populate_store(store, [message(1), message(2)])
        services = make_services(store)
        whole = Driver(services, tls=True)
        await whole.start()
        expected = await whole.send(script.encode())
        await whole.close()
        single = Driver(services, tls=True)
        await single.start()
        got = b"".join([await single.send(bytes([b])) for b in script.encode()])
        await single.close()
        assert got == expected
        assert expected.count(b"+OK") == 10 and expected.endswith(b"0 messages deleted\r\n")

    with_store(body)


def _scram_client(user: str, password: str):
    nonce = secrets.token_urlsafe(18)
    first_bare = f"n={user},r={nonce}"
    server_first = yield f"n,,{first_bare}".encode()
    fields = dict(item.split("=", 1) for item in server_first.decode().split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
    without_proof = f"c=biws,r={fields['r']}"
    auth_message = f"{first_bare},{server_first.decode()},{without_proof}".encode()
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    signature = hmac.new(hashlib.sha256(client_key).digest(), auth_message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    server_final = yield f"{without_proof},p={base64.b64encode(proof).decode()}".encode()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    expected = hmac.new(server_key, auth_message, hashlib.sha256).digest()
    assert server_final.decode() == f"v={base64.b64encode(expected).decode()}"
    yield b""


def test_auth_scram_sha_256_with_success_data_as_a_last_challenge(with_store):
    async def body(store: SQLiteStore) -> None:
        await populate_store(store, [message(1)])
        driver = Driver(make_services(store), tls=True)
        await driver.start()
        client = _scram_client(USER, PASSWORD)
        first = base64.b64encode(next(client)).decode()
        reply = await driver.line(f"AUTH SCRAM-SHA-256 {first}")
        for _ in range(2):
            assert reply.startswith("+ ")
            answer = client.send(base64.b64decode(reply[2:]))
            reply = await driver.line(base64.b64encode(answer).decode())
        assert reply == "+OK maildrop locked and ready, 1 messages (166 octets)\r\n"
        await driver.close()

    with_store(body)


# -- fuzzing: random bytes in every state --------------------------------------------------------

PREFIXES = {
    "plain": (False, b""),
    "tls": (True, b""),
    "after-user": (True, f"USER {USER}\r\n".encode()),
    "in-sasl": (True, b"AUTH LOGIN\r\n"),
    "transaction": (True, f"USER {USER}\r\nPASS {PASSWORD}\r\n".encode()),
}


def _has_command(data: bytes) -> bool:
    return any(line.split(b" ")[0].strip(b"\r").upper().decode("latin-1") in KNOWN for line in data.split(b"\n"))


def test_random_bytes_in_every_state_only_get_err_or_close():
    loop = asyncio.new_event_loop()
    directory = Path(tempfile.mkdtemp())
    store = SQLiteStore.open(directory)
    loop.run_until_complete(populate_store(store, [message(1), message(2)]))
    services = make_services(store, max_command_errors=5)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(list(PREFIXES)), st.lists(st.binary(max_size=300), max_size=6))
    def run(state: str, chunks: list[bytes]) -> None:
        tls, prefix = PREFIXES[state]
        if _has_command(b"".join(chunks)):
            return

        async def go() -> None:
            driver = Driver(services, tls=tls)
            await driver.start()
            await driver.send(prefix)
            for chunk in chunks:
                if driver.session.closed:
                    break
                out = await driver.send(chunk)
                for line in out.split(b"\r\n")[:-1]:
                    assert line.startswith(b"-ERR") or (state == "in-sasl" and line.startswith(b"+ ")), out
            await driver.close()

        loop.run_until_complete(go())

    try:
        run()
    finally:
        loop.run_until_complete(store.close())
        loop.close()


@pytest.mark.parametrize("backend", ["sqlite"])  # the lock files of a SQLite data_dir
def test_a_full_disk_is_a_temporary_error_never_a_hang_up(with_store, monkeypatch):
    """No room for the maildrop's lock file at login, then none for the deletes at QUIT: -ERR [SYS/TEMP]."""
    async def body(store: SQLiteStore) -> None:
        inbox = await populate_store(store, [message(1), message(2)])
        services = make_services(store)
        real_open = os.open

        def no_space(path, flags, mode=0o777):
            if str(path).endswith(".lock"):
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_open(path, flags, mode)

        monkeypatch.setattr(os, "open", no_space)
        driver = Driver(services, tls=True)
        await driver.start()
        assert (await driver.login()).startswith("-ERR [SYS/TEMP]")
        monkeypatch.undo()
        assert (await driver.login()).startswith("+OK maildrop locked")
        assert await driver.line("DELE 1") == "+OK message 1 deleted\r\n"

        async def full(*_args: object) -> list[int]:
            raise StorageFull("insufficient storage, try again later")

        monkeypatch.setattr(store, "expunge", full)
        assert (await driver.line("QUIT")).startswith("-ERR [SYS/TEMP]")
        await driver.close()
        monkeypatch.undo()
        assert await uids(store, inbox) == [1, 2]

    with_store(body)
