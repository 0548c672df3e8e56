"""Sequence sets (RFC 9051 9, 6.4.1; RFC 5182 ``$``) as sorted ranges, never as materialised lists.

``sequence-set = (seq-number / seq-range) ["," sequence-set]``, ``seq-range = seq-number ":"
seq-number``, ``seq-number = nz-number / "*"``, and ``sequence-set =/ seq-last-command`` ("$", the
saved SEARCH result). "*" means the largest number in use, a range may be written high to low
("5:2" is "2:5"), and "*:4" in a mailbox of 3 messages is "3:4". ``1:*`` over a mailbox of a million
messages must not become a million-element list, so resolution yields merged ``(low, high)`` ranges.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pillarbox.imap.parser.primitives import MAX_NUMBER, ParseError, Reader

STAR = None  # seq-number "*"
SeqNumber = int | None


@dataclass(frozen=True)
class SequenceSet:
    """Ranges as written (``None`` is "*"); ``saved`` when "$" was among them (RFC 5182): the session
    calls ``with_saved`` to replace it by the saved result before resolving."""

    ranges: tuple[tuple[SeqNumber, SeqNumber], ...] = ()
    saved: bool = False

    @classmethod
    def of(cls, text: str) -> SequenceSet:
        """Parse ``text`` alone (tests, stored state)."""
        reader = Reader(text.encode())
        result = parse_sequence_set(reader)
        reader.end()
        return result

    def with_saved(self, numbers: Iterable[int]) -> SequenceSet:
        """This set with "$" replaced by the saved result ``numbers`` (which may be empty)."""
        extra: list[tuple[SeqNumber, SeqNumber]] = []
        for number in sorted(set(numbers)):
            last = extra[-1][1] if extra else None
            if last is not None and number == last + 1:
                extra[-1] = (extra[-1][0], number)
            else:
                extra.append((number, number))
        return SequenceSet(self.ranges + tuple(extra))

    def resolve(self, largest: int) -> list[tuple[int, int]]:
        """Sorted, merged, non-overlapping ranges with "*" as ``largest``; numbers below 1 dropped."""
        if self.saved:
            raise ValueError("'$' must be replaced by the saved result before resolving")
        spans = sorted(_ordered(_value(a, largest), _value(b, largest)) for a, b in self.ranges)
        merged: list[tuple[int, int]] = []
        for low, high in spans:
            low = max(low, 1)
            if high < low:
                continue
            if merged and low <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], high))
            else:
                merged.append((low, high))
        return merged

    def iterate(self, largest: int, limit: int | None = None) -> Iterator[int]:
        """Each number in ascending order, at most ``limit`` (default ``largest``), lazily."""
        cap = largest if limit is None else limit
        for low, high in self.resolve(largest):
            if low > cap:
                return
            yield from range(low, min(high, cap) + 1)

    def contains(self, number: int, largest: int) -> bool:
        return any(low <= number <= high for low, high in self.resolve(largest))

    def uses_star(self) -> bool:
        return any(n is None for pair in self.ranges for n in pair)

    def highest_explicit(self) -> int:
        """The largest number written (not "*"): a sequence number past EXISTS is a client error."""
        return max((n for pair in self.ranges for n in pair if n is not None), default=0)

    def __str__(self) -> str:
        pieces = [_range_text(a, b) for a, b in self.ranges]
        return ",".join([*pieces, "$"] if self.saved else pieces)


def _value(number: SeqNumber, largest: int) -> int:
    return largest if number is None else number


def _ordered(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a <= b else (b, a)


def _range_text(a: SeqNumber, b: SeqNumber) -> str:
    first = "*" if a is None else str(a)
    if a == b:
        return first
    return f"{first}:{'*' if b is None else b}"


def parse_sequence_set(reader: Reader, allow_saved: bool = True) -> SequenceSet:
    """``sequence-set`` at the reader's position; "$" may stand alone or among ranges ("1:3,$")."""
    ranges: list[tuple[SeqNumber, SeqNumber]] = []
    saved = False
    while True:
        if reader.take(b"$"):
            if not allow_saved:
                raise ParseError("'$' not allowed here")
            saved = True
        else:
            first = _seq_number(reader)
            last = _seq_number(reader) if reader.take(b":") else first
            ranges.append((first, last))
        if not reader.take(b","):
            break
    if reader.peek() == b":":
        raise ParseError("Invalid sequence set")
    return SequenceSet(tuple(ranges), saved)


def _seq_number(reader: Reader) -> SeqNumber:
    """``seq-number = nz-number / "*"``."""
    if reader.take(b"*"):
        return STAR
    try:
        return reader.nz_number(MAX_NUMBER)
    except ParseError:
        raise ParseError("Invalid sequence set") from None


def is_sequence_set_start(reader: Reader) -> bool:
    """Whether a sequence-set could start here (SEARCH keys are atoms otherwise)."""
    head = reader.peek()
    return head.isdigit() or head in (b"*", b"$")
