"""The command framer: lines, literals ({n}, {n+}, ~{n}), limits, modes, byte-at-a-time equivalence."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pillarbox.imap.framing import (
    NEED_DATA,
    PAUSED,
    CommandFramer,
    ConnectionClosed,
    FramedCommand,
    FramingError,
    LiteralData,
    NeedContinuation,
    RawLine,
    StateError,
)


def drain(framer: CommandFramer, accept: bool = True) -> list[object]:
    """All events until NEED_DATA; synchronizing literals are accepted (or rejected)."""
    events: list[object] = []
    while True:
        event = framer.next_command()
        if event is NEED_DATA:
            return events
        if event is PAUSED:
            if framer.awaiting_continuation:
                continue
            framer.resume()
            events.append("paused")
            continue
        events.append(event)
        if isinstance(event, NeedContinuation):
            framer.accept_literal() if accept else framer.reject_literal()
        if isinstance(event, ConnectionClosed):
            return events


def feed(data: bytes, **limits: int) -> list[object]:
    framer = CommandFramer(**limits)  # type: ignore[arg-type]
    framer.receive_data(data)
    return drain(framer)


def test_simple_lines() -> None:
    assert feed(b"a1 NOOP\r\na2 CAPABILITY\r\n") == [
        FramedCommand("a1", b"a1 NOOP"),
        FramedCommand("a2", b"a2 CAPABILITY"),
    ]


def test_bare_lf_and_empty_lines() -> None:
    assert feed(b"\r\n\na1 NOOP\n") == [FramedCommand("a1", b"a1 NOOP")]


def test_partial_line_needs_data() -> None:
    framer = CommandFramer()
    framer.receive_data(b"a1 NO")
    assert framer.next_command() is NEED_DATA
    framer.receive_data(b"OP\r\n")
    assert framer.next_command() == FramedCommand("a1", b"a1 NOOP")


def test_synchronizing_literal() -> None:
    framer = CommandFramer()
    framer.receive_data(b"A003 APPEND saved-messages (\\Seen) {10}\r\n")
    assert framer.next_command() == NeedContinuation("A003", 10, False)
    assert framer.next_command() is PAUSED
    framer.accept_literal()
    framer.receive_data(b"0123456789\r\n")
    assert framer.next_command() == FramedCommand("A003", b"A003 APPEND saved-messages (\\Seen) {10}\r\n0123456789")


def test_literal_then_more_text_and_second_literal() -> None:
    events = feed(b"a LOGIN {3}\r\nfoo {4+}\r\nb\r\nr\r\n")
    assert events == [NeedContinuation("a", 3, False), FramedCommand("a", b"a LOGIN {3}\r\nfoo {4+}\r\nb\r\nr")]


def test_literal8_and_zero_literal() -> None:
    events = feed(b"a APPEND x ~{2+}\r\n\x00\x01 {0+}\r\n\r\n")
    assert events == [FramedCommand("a", b"a APPEND x ~{2+}\r\n\x00\x01 {0+}\r\n")]


def test_rejected_synchronizing_literal_drops_command() -> None:
    framer = CommandFramer()
    framer.receive_data(b"a APPEND nowhere {5}\r\nb NOOP\r\n")
    assert isinstance(framer.next_command(), NeedContinuation)
    framer.reject_literal()
    assert framer.next_command() == FramedCommand("b", b"b NOOP")


def test_synchronizing_literal_too_big_is_no_toobig() -> None:
    events = feed(b"a APPEND x {1000}\r\nb NOOP\r\n", max_literal=100)
    assert isinstance(events[0], FramingError)
    assert events[0].reply.to_bytes() == b"a NO [TOOBIG] Literal too big\r\n"
    assert events[1] == FramedCommand("b", b"b NOOP")


def test_non_synchronizing_literal_too_big_is_discarded() -> None:
    events = feed(b"a APPEND x {20+}\r\n" + b"y" * 20 + b" {3+}\r\nabc\r\nb NOOP\r\n", max_literal=10)
    assert [type(e) for e in events] == [FramingError, FramedCommand]
    assert events[0].reply.to_bytes() == b"a BAD [TOOBIG] Literal too big\r\n"  # type: ignore[attr-defined]
    assert events[1] == FramedCommand("b", b"b NOOP")


def test_literal_minus() -> None:
    data = b"a APPEND x {5000+}\r\n" + b"z" * 5000 + b"\r\nb NOOP\r\n"
    events = feed(data, literal_minus=True)
    assert isinstance(events[0], FramingError) and b"BAD [TOOBIG]" in events[0].reply.to_bytes()
    assert events[1] == FramedCommand("b", b"b NOOP")
    assert [type(e) for e in feed(b"a APPEND x {4096+}\r\n" + b"z" * 4096 + b"\r\n", literal_minus=True)] == [
        FramedCommand
    ]


def test_line_too_long() -> None:
    events = feed(b"a NOOP " + b"x" * 200 + b"\r\nb NOOP\r\n", max_line=100)
    assert isinstance(events[0], FramingError)
    assert events[0].reply.to_bytes() == b"a BAD [TOOBIG] Command line too long\r\n"
    assert events[1] == FramedCommand("b", b"b NOOP")


def test_line_too_long_byte_at_a_time_keeps_memory_bounded() -> None:
    framer = CommandFramer(max_line=100)
    errors = 0
    for _ in range(10_000):
        framer.receive_data(b"x")
        while (event := framer.next_command()) is not NEED_DATA:
            errors += isinstance(event, FramingError)
    assert errors == 1
    assert len(framer._buf) == 0
    framer.receive_data(b"\r\nc NOOP\r\n")
    assert framer.next_command() == FramedCommand("c", b"c NOOP")


def test_total_command_limit_counts_literals() -> None:
    data = b"a X {40+}\r\n" + b"1" * 40 + b" {40+}\r\n" + b"2" * 40 + b"\r\nb NOOP\r\n"
    events = feed(data, max_command=60)
    assert isinstance(events[0], FramingError) and b"Command too big" in events[0].reply.to_bytes()
    assert events[-1] == FramedCommand("b", b"b NOOP")


def test_idle_done_raw_line() -> None:
    framer = CommandFramer()
    framer.receive_data(b"a IDLE\r\nDONE\r\nb NOOP\r\n")
    assert framer.next_command() == FramedCommand("a", b"a IDLE")
    assert framer.next_command() is PAUSED
    framer.expect_line()
    assert framer.next_command() == RawLine(b"DONE")
    assert framer.next_command() == FramedCommand("b", b"b NOOP")


def test_authenticate_lines_and_raw_limit() -> None:
    framer = CommandFramer(max_raw_line=10)
    framer.receive_data(b"a AUTHENTICATE PLAIN\r\n" + b"A" * 50 + b"\r\nb NOOP\r\n")
    assert framer.next_command().name == "AUTHENTICATE"  # type: ignore[union-attr]
    framer.expect_line()
    error = framer.next_command()
    assert isinstance(error, FramingError) and error.reply.tag == "a"
    assert framer.next_command() == FramedCommand("b", b"b NOOP")


def test_starttls_take_buffered() -> None:
    framer = CommandFramer()
    framer.receive_data(b"a STARTTLS\r\nb LOGIN x y\r\n")
    assert framer.next_command() == FramedCommand("a", b"a STARTTLS")
    assert framer.next_command() is PAUSED
    assert framer.take_buffered() == b"b LOGIN x y\r\n"
    framer.resume()
    assert framer.next_command() is NEED_DATA


def test_pause_resume_and_state_errors() -> None:
    framer = CommandFramer()
    framer.receive_data(b"a NOOP\r\n")
    framer.pause()
    assert framer.next_command() is PAUSED
    with pytest.raises(StateError):
        framer.accept_literal()
    framer.resume()
    assert framer.next_command() == FramedCommand("a", b"a NOOP")
    with pytest.raises(StateError):
        framer.resume()


def test_eof() -> None:
    framer = CommandFramer()
    framer.receive_data(b"a NOOP\r\nb NO")
    framer.receive_data(b"")
    assert framer.next_command() == FramedCommand("a", b"a NOOP")
    assert framer.next_command() == ConnectionClosed(partial=True)
    assert framer.next_command() is NEED_DATA


def test_framed_command_name_and_bad_tag() -> None:
    assert FramedCommand("a", b"a uid fetch 1 FLAGS").name == "UID"
    assert FramedCommand("a", b"a").name == ""
    events = feed(b"+x NOOP\r\n")
    assert events == [FramedCommand("*", b"+x NOOP")]


# -- byte-at-a-time equivalence ----------------------------------------------------------------------

PIECES = [
    b"a1 NOOP\r\n",
    b"a2 LOGIN {3}\r\nfoo {3+}\r\nbar\r\n",
    b"a3 APPEND x ~{4+}\r\n\r\n\r\n\r\n",
    b"a4 APPEND x {500}\r\n" + b"q" * 500 + b"\r\n",
    b"a5 FETCH 1 " + b"x" * 300 + b"\r\n",
    b"a6 APPEND x {900+}\r\n" + b"w" * 900 + b"\r\n",
    b"\r\n",
    b"a7 SEARCH TEXT {2+}\r\n{}\r\n",
    b"a8 IDLE\r\nDONE\r\n",
    b"garbage \x00\xff\r\n",
    b"a9 X {99999999999999999999}\r\n",
]


def run_chunks(chunks: list[bytes], max_in_memory: int = 64 * 1024) -> list[object]:
    framer = CommandFramer(max_line=256, max_literal=600, max_command=2000, max_in_memory=max_in_memory)
    events: list[object] = []
    for chunk in filter(None, chunks):  # b"" would mean end of stream
        framer.receive_data(chunk)
        events.extend(drain(framer))
    framer.receive_data(b"")
    events.extend(drain(framer))
    return events


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12), st.data())
def test_whole_equals_byte_at_a_time(pieces: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(pieces)
    whole = run_chunks([stream])
    single = run_chunks([stream[i : i + 1] for i in range(len(stream))])
    cuts = sorted(data.draw(st.sets(st.integers(0, len(stream)), max_size=8)))
    edges = [0, *cuts, len(stream)]
    random = run_chunks([stream[a:b] for a, b in itertools.pairwise(edges)])
    assert whole == single == random


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    events = run_chunks([data])
    assert all(
        isinstance(e, FramedCommand | NeedContinuation | FramingError | RawLine | ConnectionClosed | str)
        for e in events
    )


def test_line_budget_spans_literal_continuations() -> None:
    framer = CommandFramer(max_line=30)
    framer.receive_data(b"a LOGIN {1+}\r\nx {1+}\r\ny {1+}\r\nz {1+}\r\nw\r\nb NOOP\r\n")
    events = drain(framer)
    assert isinstance(events[0], FramingError)
    assert events[-1] == FramedCommand("b", b"b NOOP")
    assert len(events) == 2


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 40), st.lists(st.sampled_from([b"x", b" ", b"{1+}\r\n", b"\r\n", b"\n", b"{2}\r\n"]), max_size=40)
)
def test_small_limits_byte_at_a_time(max_line: int, tokens: list[bytes]) -> None:
    stream = b"t " + b"".join(tokens) + b"\r\nz NOOP\r\n"

    def run(chunks: list[bytes]) -> list[object]:
        framer = CommandFramer(max_line=max_line, max_literal=5)
        out: list[object] = []
        for chunk in chunks:
            framer.receive_data(chunk)
            out.extend(drain(framer))
        return out

    assert run([stream]) == run([stream[i : i + 1] for i in range(len(stream))])


# -- large literals are handed over, not kept ----------------------------------------------------------


def reassemble(events: list[object]) -> list[object]:
    """What a session makes of the events: literal octets kept aside and put back into their command
    (dropped when the command is refused)."""
    out: list[object] = []
    kept = b""
    for event in events:
        if isinstance(event, LiteralData):
            kept += event.data
            continue
        if isinstance(event, FramedCommand):
            assert sum(size for _, size in event.spooled) == len(kept)
            event, kept = event.with_literals(kept), b""
        elif isinstance(event, FramingError | ConnectionClosed):
            kept = b""
        out.append(event)
    return out


def test_a_large_literal_is_handed_over_as_it_arrives() -> None:
    framer = CommandFramer(max_in_memory=1024)
    framer.receive_data(b"a APPEND x {100000}\r\n")
    assert drain(framer) == [NeedContinuation("a", 100000, False)]
    pieces = []
    for start in range(0, 100000, 7000):
        framer.receive_data(b"m" * min(7000, 100000 - start))
        pieces += drain(framer)
        assert framer._held < 1024 and len(framer._buf) == 0  # nothing of the literal is kept
    assert b"".join(p.data for p in pieces) == b"m" * 100000  # type: ignore[attr-defined]
    framer.receive_data(b" tail\r\n")
    (command,) = drain(framer)
    assert command == FramedCommand("a", b"a APPEND x {100000}\r\n tail", ((21, 100000),))
    assert command.with_literals(b"m" * 100000).raw == b"a APPEND x {100000}\r\n" + b"m" * 100000 + b" tail"


def test_small_literals_stay_inline_until_the_command_passes_the_memory_limit() -> None:
    framer = CommandFramer(max_in_memory=40)
    framer.receive_data(b"a X {5+}\r\n12345 {30+}\r\n" + b"z" * 30 + b" {4+}\r\nabcd\r\n")
    events = drain(framer)
    assert events == [  # 23 octets held + 30 pass 40: handed over; then 30 + 4 fit again
        LiteralData(b"z" * 30), FramedCommand("a", b"a X {5+}\r\n12345 {30+}\r\n {4+}\r\nabcd", ((23, 30),))]
    assert reassemble(events) == [FramedCommand("a", b"a X {5+}\r\n12345 {30+}\r\n" + b"z" * 30 + b" {4+}\r\nabcd")]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12), st.integers(1, 600), st.data())
def test_streaming_literals_changes_nothing_but_memory(pieces: list[bytes], limit: int, data: st.DataObject) -> None:
    """Whatever ``max_in_memory`` and however the bytes are cut, the commands put back together are
    the ones framed with every literal kept."""
    stream = b"".join(pieces)
    kept = run_chunks([stream])
    cuts = sorted(data.draw(st.sets(st.integers(0, len(stream)), max_size=8)))
    edges = [0, *cuts, len(stream)]
    streamed = run_chunks([stream[a:b] for a, b in itertools.pairwise(edges)], max_in_memory=limit)
    assert reassemble(streamed) == kept
    assert reassemble(run_chunks([stream[i : i + 1] for i in range(len(stream))], max_in_memory=limit)) == kept
