"""The IMAP core (framer and command parser) costs time linear in the bytes a client sends."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pillarbox.errors import ProtocolError
from pillarbox.imap.framing import NEED_DATA, PAUSED, CommandFramer, ConnectionClosed, FramedCommand
from pillarbox.imap.parser import parse_command
from tests.complexity import PIECES, assert_linear, in_pieces, repeated

PREFIXES = [
    b"a SEARCH ", b"a UID SEARCH CHARSET UTF-8 OR ", b"a FETCH 1:* (", b"a FETCH 1 BODY.PEEK[", b"a LOGIN ",
    b"a APPEND INBOX (\\Seen) ", b"a STORE 1 +FLAGS (", b'a LIST "" ', b"a SELECT ", b"a STATUS INBOX (",
    b"a ID (", b"a SORT (", b"a THREAD REFERENCES UTF-8 ", b"a AUTHENTICATE PLAIN ", b"a ENABLE ",
    b"a UID EXPUNGE ", b"a SELECT INBOX (QRESYNC (1 2 ", b"",
]
UNITS = [
    b"(", b")", b"{5}\r\n12345", b"{3+}\r\nabc", b"~{2}\r\n\x00\x01", b"{99999999999}\r\n", b'"', b"\\",
    b"NOT ", b"OR ", b"1:*,", b"2,", b"BODY[", b"1.", b"]", b"<0.1>", b"SEEN ", b"HEADER X ", b"\r\n",
    b"a ", b"%", b"*", b"&", b"-", b"\x00", b"\xff", b"\xc3\xa9", b" ", b"NIL", b"\\Seen ", b"$",
]  # fmt: skip


def run(data: bytes, piece_size: int | None) -> None:
    framer = CommandFramer()
    for piece in [*in_pieces(data, piece_size), b""]:
        framer.receive_data(piece)
        while (event := framer.next_command()) is not NEED_DATA:
            if event is PAUSED:
                framer.accept_literal() if framer.awaiting_continuation else framer.resume()
            elif isinstance(event, FramedCommand):
                with contextlib.suppress(ProtocolError):  # a refusal is an answer: the cost is what counts
                    parse_command(event)
            elif isinstance(event, ConnectionClosed):
                return


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(repeated(PREFIXES, UNITS, [b"\r\n", b""]), st.sampled_from(PIECES))
def test_fuzzed_input_costs_linear_time(make: Callable[[int], bytes], pieces: tuple[int | None, int]) -> None:
    piece_size, size = pieces
    assert_linear(lambda data: run(data, piece_size), make, size)
