"""``header_excess``: the header section's size (empty line included) and lines, at their exact bounds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pillarbox.mime.headers import HeaderExcess, HeaderLimits, find_body_start, header_excess, split_raw_fields

LIMITS = HeaderLimits(max_bytes=100, max_lines=5)


def test_size_counts_the_empty_line() -> None:
    field = b"X: " + b"a" * 93 + b"\r\n"  # 98 bytes
    assert header_excess(field + b"\r\nbody" * 1000, LIMITS) is None  # 100 with the empty line
    assert header_excess(b"Y" + field + b"\r\nbody", LIMITS) is HeaderExcess.BYTES
    assert header_excess(b"X: " + b"a" * 200, LIMITS) is HeaderExcess.BYTES  # no body: all header
    assert header_excess(b"X: " + b"a" * 90, LIMITS) is None


def test_lines_count_the_empty_line() -> None:
    assert header_excess(b"A: 1\r\n" * 4 + b"\r\nbody\r\n" * 100, LIMITS) is None
    assert header_excess(b"A: 1\r\n" * 5 + b"\r\nbody", LIMITS) is HeaderExcess.LINES
    assert header_excess(b"A: 1\r\n \r\n \r\n \r\n \r\n \r\n", LIMITS) is HeaderExcess.LINES  # folding counts


_lines = st.lists(st.sampled_from([b"A: 1", b" x", b"", b"B: " + b"b" * 30, b"\r"]), max_size=12)


@given(_lines, st.sampled_from([b"\r\n", b"\n"]))
def test_agrees_with_counting_the_whole_header(lines: list[bytes], eol: bytes) -> None:
    raw = eol.join(lines) + eol + b"body" * 50
    end = find_body_start(raw, 0, len(raw))
    expected = None
    if end > LIMITS.max_bytes:
        expected = HeaderExcess.BYTES
    elif raw.count(b"\n", 0, end) > LIMITS.max_lines:
        expected = HeaderExcess.LINES
    assert header_excess(raw, LIMITS) is expected


def before_empty_line(block: bytes) -> bytes:
    head = block[: find_body_start(block, 0, len(block))]
    if head in (b"\n", b"\r\n"):
        return b""
    if head.endswith(b"\n\r\n"):
        return head[:-2]
    return head[:-1] if head.endswith(b"\n\n") else head


@given(st.binary(max_size=300) | st.lists(st.sampled_from([b"A: 1", b" x", b"", b"\r", b"\t"])).map(b"\n".join))
def test_raw_fields_are_the_header_up_to_its_empty_line(block: bytes) -> None:
    """Where split_raw_fields stops is where find_body_start says the header ends."""
    assert b"".join(split_raw_fields(block)) == before_empty_line(block)
