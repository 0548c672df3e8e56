"""The header section of a message being received, parsed once per SMTP transaction (principle 3).

At the end of DATA several readers want the same fields: DMARC (the From: domains), the spam filter
(From:, Subject:, Content-Type: ...) and Sieve. Each used to split the header block again; the
acceptor now builds this view once and hands it to each. Values are unfolded but not decoded
(``mime.headers.parse_fields``); names are lower case.
"""

from __future__ import annotations

from dataclasses import dataclass

from pillarbox.mime.headers import Field, find_body_start, parse_fields


@dataclass(frozen=True)
class HeaderView:
    fields: tuple[Field, ...]
    body_start: int
    """Offset of the body in the message the view was made of."""

    @classmethod
    def parse(cls, raw: bytes) -> HeaderView:
        end = find_body_start(raw, 0, len(raw))
        return cls(tuple(parse_fields(raw, 0, end)), end)

    def values(self, name: str) -> list[str]:
        """Every value of the field ``name`` (lower case), in order."""
        return [value for field_name, value in self.fields if field_name == name]

    def first(self, name: str) -> str | None:
        return next((value for field_name, value in self.fields if field_name == name), None)
