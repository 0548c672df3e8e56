"""The sans-IO ManageSieve parser (RFC 5804 4): whole and byte by byte, hostile input, quoting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pillarbox.managesieve.protocol import Command, ManageSieveError, Parser, quote, response

TRANSCRIPT = (
    b'AUTHENTICATE "PLAIN" "AGJvYgBzZWNyZXQ="\r\n'
    b'PUTSCRIPT "main" {12+}\r\nkeep;\r\nstop;\r\n'
    b'PUTSCRIPT "sync" {5}\r\nkeep;\r\n'
    b'HAVESPACE "a \\"quoted\\" name" 1024\r\n'
    b"LISTSCRIPTS\r\n"
    b"logout\n"
)
EXPECTED = [
    Command("AUTHENTICATE", ("PLAIN", "AGJvYgBzZWNyZXQ=")),
    Command("PUTSCRIPT", ("main", "keep;\r\nstop;")),
    Command("PUTSCRIPT", ("sync", "keep;")),
    Command("HAVESPACE", ('a "quoted" name', 1024)),
    Command("LISTSCRIPTS", ()),
    Command("LOGOUT", ()),
]


def _all(parser: Parser) -> list[Command]:
    out = []
    while (command := parser.next_command()) is not None:
        out.append(command)
    return out


def test_whole_and_byte_by_byte() -> None:
    whole = Parser()
    whole.receive(TRANSCRIPT)
    assert _all(whole) == EXPECTED
    bytewise = Parser()
    seen: list[Command] = []
    for index in range(len(TRANSCRIPT)):
        bytewise.receive(TRANSCRIPT[index : index + 1])
        seen.extend(_all(bytewise))
    assert seen == EXPECTED


@pytest.mark.parametrize(("data", "fatal"), [
    (b'PUTSCRIPT "x" {99999999+}\r\n', True),
    (b"NOOP " + b"x" * 10_000, True),
    (b"123 oops\r\nNOOP\r\n", False),
    (b'NOOP "\xff\xfe"\r\nNOOP\r\n', False),
    (b"NOOP " + b'"a" ' * 20 + b"\r\nNOOP\r\n", False),
])
def test_hostile_input_is_a_protocol_error(data: bytes, fatal: bool) -> None:
    parser = Parser(max_line=8192, max_literal=65536)
    parser.receive(data)
    with pytest.raises(ManageSieveError) as error:
        _all(parser)
    assert error.value.fatal is fatal
    if not fatal:  # the bad line is skipped: the next command still reads
        assert _all(parser) == [Command("NOOP", ())]


def test_sasl_response_and_drop() -> None:
    parser = Parser()
    parser.receive(b'"dGVzdA=="\r\n')
    assert parser.next_sasl_response() == "dGVzdA=="
    parser.receive(b"NOOP\r\n")
    assert parser.drop() == 6 and parser.next_command() is None


def test_quote_and_response() -> None:
    assert quote("plain") == '"plain"'
    assert quote('has "quotes"') == '{12}\r\nhas "quotes"'
    assert response("NO", "QUOTA/MAXSIZE", "too big") == b'NO (QUOTA/MAXSIZE) "too big"\r\n'
    assert response("OK") == b"OK\r\n"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_commands_or_the_protocol_error(data: bytes) -> None:
    parser = Parser(max_line=100, max_literal=100)
    parser.receive(data)
    for _ in range(len(data) + 1):
        try:
            if parser.next_command() is None:
                return
        except ManageSieveError as error:
            if error.fatal:
                return


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30), max_size=4))
def test_strings_round_trip_through_quote(values: list[str]) -> None:
    parser = Parser()
    line = "PUTSCRIPT " + " ".join(quote(v).replace("}\r\n", "+}\r\n", 1) for v in values) + "\r\n"
    parser.receive(line.encode())
    assert parser.next_command() == Command("PUTSCRIPT", tuple(values))
