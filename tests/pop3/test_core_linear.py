"""The POP3 core costs time linear in the bytes a client sends; so does sending a message back."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pillarbox.mime.downgrade import downgrade
from pillarbox.pop3.protocol import Command, POP3ServerProtocol, Sentinel, stuff_message, top_of
from tests.complexity import PIECES, assert_linear, in_pieces, repeated

PREFIXES = [b"USER a\r\nPASS b\r\n", b"USER ", b"PASS ", b"AUTH PLAIN\r\n", b"APOP a ", b""]
UNITS = [
    b"\r\n", b"\n", b"\r", b" ", b"1", b"LIST\r\n", b"UIDL 1\r\n", b"TOP 1 0\r\n", b"RETR ", b"\x00", b"\xff",
    b"\xc3\xa9", b"x", b".", b"..", b"*\r\n", b"QUIT\r\n", b"STLS\r\n", b"Subject: a\r\n", b" folded\r\n",
    b"From: J\xc3\xb6rg <j\xc3\xb6rg@x.test>\r\n", b"=?utf-8?q?a?=", b"<", b"@", b";", b",", b"(",
]  # fmt: skip


def run(data: bytes, piece_size: int | None) -> None:
    core = POP3ServerProtocol()
    for piece in [*in_pieces(data, piece_size), b""]:
        core.receive_data(piece)
        while not isinstance(event := core.next_event(), Sentinel):
            if isinstance(event, Command) and event.verb == "PASS":
                core.authenticated()
            elif isinstance(event, Command) and event.verb == "AUTH":
                core.expect_sasl_response()


def send_back(message: bytes) -> None:
    """RETR and TOP of a stored message (its bytes are the sender's), for a client without UTF8 too."""
    for _chunk in stuff_message(downgrade(message)):
        pass
    top_of(message, 10)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(repeated(PREFIXES, UNITS, [b"\r\n", b""]), st.sampled_from(PIECES))
def test_fuzzed_input_costs_linear_time(make: Callable[[int], bytes], pieces: tuple[int | None, int]) -> None:
    piece_size, size = pieces
    assert_linear(lambda data: run(data, piece_size), make, size)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(repeated([b"", b"Subject: x\r\n\r\n", b"Subject: caf\xc3\xa9\r\nTo: "], UNITS, [b"", b"\r\n\r\nbody\r\n"]))
def test_sending_a_message_back_costs_linear_time(make: Callable[[int], bytes]) -> None:
    assert_linear(send_back, make, 64_000)
