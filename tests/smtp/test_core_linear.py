"""The SMTP server core costs time linear in the bytes a client sends, in every state."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pillarbox.smtp import server_protocol as sp
from tests.complexity import PIECES, assert_linear, in_pieces, repeated
from tests.smtp.helpers import decide

PREFIXES = [
    b"EHLO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n",
    b"EHLO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 100000000 LAST\r\n",
    b"MAIL FROM:<", b"RCPT TO:<", b"EHLO ", b"AUTH PLAIN\r\n", b"VRFY ", b"",
]
UNITS = [
    b"\r\n", b".", b"..", b"\r\n.\r\n", b"\n", b"\r", b"x", b"NOOP\r\n", b"RCPT TO:<a@b.test>\r\n", b"\x00",
    b"<", b">", b"@", b" ", b'"', b"\\", b"SIZE=1 ", b"=", b"+", b"DATA\r\n", b"BDAT 3\r\n", b"*\r\n",
    b"MAIL FROM:<a@b.test> BODY=8BITMIME\r\n", b"\xff", b"[1.2.3.4]", b":",
]  # fmt: skip


def run(data: bytes, piece_size: int | None) -> None:
    core = sp.SMTPServerProtocol()
    for piece in [*in_pieces(data, piece_size), b""]:
        core.receive_data(piece)
        while not isinstance(event := core.next_event(), sp.Sentinel):
            decide(core, event, accept_data=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(repeated(PREFIXES, UNITS, [b"\r\n.\r\nQUIT\r\n", b""]), st.sampled_from(PIECES))
def test_fuzzed_input_costs_linear_time(make: Callable[[int], bytes], pieces: tuple[int | None, int]) -> None:
    piece_size, size = pieces
    assert_linear(lambda data: run(data, piece_size), make, size)
