"""UNAUTHENTICATE (RFC 8437) beyond its transcript: the user's place under the per-user limit is given
back, and under COMPRESS the server says BYE (3 allows it where the state cannot be reset)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import pytest

from tests.imap_wire.conftest import IMAPServer, start_imap_server
from tests.imap_wire.raw import RawIMAP
from tests.smtp.conftest import PASSWORD


@pytest.fixture(scope="module")
def one_session_each(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IMAPServer]:
    running = start_imap_server(tmp_path_factory.mktemp("unauth"), "[limits]\nimap_connections_per_user_ip = 1\n")
    yield running
    assert running.process.stop() == 0
    assert "Traceback" not in running.process.log()


def test_a_user_who_unauthenticated_no_longer_holds_a_place(one_session_each: IMAPServer):
    first = RawIMAP(one_session_each.imaps, one_session_each.tls_context())
    second = RawIMAP(one_session_each.imaps, one_session_each.tls_context(), user=None)
    try:
        login = f'l1 LOGIN bob@example.com "{PASSWORD}"'
        assert second.command(login)[-1].startswith(b"l1 NO [UNAVAILABLE]")
        assert first.command("u1 UNAUTHENTICATE")[-1] == b"u1 OK UNAUTHENTICATE completed"
        assert b"Logged in" in second.command(login.replace("l1", "l2"))[-1]
        assert first.command(login.replace("l1", "l3"))[-1].startswith(b"l3 NO [UNAVAILABLE]")
        assert b"Logged in" in first.command(login.replace("l1", "l4").replace("bob", "carol"))[-1]
    finally:
        first.close()
        second.close()


def test_under_compress_unauthenticate_says_bye(one_session_each: IMAPServer):
    client = RawIMAP(one_session_each.imaps, one_session_each.tls_context(), "dave@example.com")
    try:
        assert client.command("c1 COMPRESS DEFLATE")[-1] == b"c1 OK DEFLATE active"
        client.deflate, client.inflate = zlib.compressobj(6, zlib.DEFLATED, -15), zlib.decompressobj(-15)
        client.send(b"c2 UNAUTHENTICATE\r\n")
        assert client.line() == b"* BYE [UNAVAILABLE] Cannot return to the not authenticated state here; reconnect"
        client.expect_closed("UNAUTHENTICATE")
    finally:
        client.close()
