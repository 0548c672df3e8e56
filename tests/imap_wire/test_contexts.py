"""RFC 5267 4.3 on the wire, for changes made by another process: a session in IDLE with an updating
search hears ADDTO and REMOVEFROM for flags set, mail delivered and messages expunged through another
opening of the store (as the CLI or another server process would), in the order 4.3.3/4.3.4 ask."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from pillarbox.store.api import Store
from pillarbox.store.records import DeliveryTarget
from tests.imap_wire.conftest import IMAPServer
from tests.imap_wire.raw import RawIMAP
from tests.stores import open_at


def _elsewhere(server: IMAPServer, change: Callable[[Store, int], Awaitable[object]]) -> None:
    """``change`` made to bob's CtxProc through a store of this (test) process."""

    async def run() -> None:
        store = await open_at(server.data_dir)
        try:
            account = await store.get_account("bob@example.com")
            mailbox = await store.get_mailbox(account.id, "CtxProc")
            await change(store, mailbox.id)
        finally:
            await store.close()

    asyncio.run(run())


def _lines_until(client: RawIMAP, last: bytes) -> list[bytes]:
    lines = [client.line()]
    while lines[-1] != last:
        lines.append(client.line())
    return lines


def test_another_process_changes_reach_an_idling_context(server: IMAPServer):
    client = RawIMAP(server.imaps, server.tls_context())
    try:
        client.command("a1 CREATE CtxProc")
        for subject in (b"one", b"two"):
            message = b"Subject: %s\r\n\r\nx\r\n" % subject
            assert client.command(b"a2 APPEND CtxProc {%d+}\r\n%s" % (len(message), message))[-1].startswith(b"a2 OK")
        client.command("a3 SELECT CtxProc")
        assert client.command("u1 UID SEARCH RETURN (UPDATE) FLAGGED")[0] == b'* ESEARCH (TAG "u1") UID'
        client.send(b"i1 IDLE\r\n")
        assert client.line() == b"+ idling"

        _elsewhere(server, lambda store, box: store.store_flags(box, [2], "add", ["\\Flagged"]))
        assert _lines_until(client, b'* ESEARCH (TAG "u1") UID ADDTO (0 2)') == [
            b"* 2 FETCH (FLAGS (\\Flagged \\Recent) UID 2)", b'* ESEARCH (TAG "u1") UID ADDTO (0 2)']

        raw = b"Subject: three\r\n\r\nx\r\n"
        _elsewhere(server, lambda store, box: store.deliver(raw, [DeliveryTarget(box, frozenset({"\\Flagged"}))]))
        assert _lines_until(client, b'* ESEARCH (TAG "u1") UID ADDTO (0 3)') == [
            b"* 3 EXISTS", b"* 3 RECENT", b'* ESEARCH (TAG "u1") UID ADDTO (0 3)']

        _elsewhere(server, lambda store, box: store.expunge(box, [2]))
        assert _lines_until(client, b"* 2 EXPUNGE") == [b'* ESEARCH (TAG "u1") UID REMOVEFROM (0 2)', b"* 2 EXPUNGE"]
        client.send(b"DONE\r\n")
        assert client.line() == b"i1 OK IDLE terminated"
        assert client.command("s1 UID SEARCH FLAGGED") == [b"* SEARCH 3", b"s1 OK UID SEARCH completed"]
    finally:
        client.close()
