"""The parsed shape of a message: a tree of ``Part`` with byte offsets into the stored bytes.

Everything IMAP and POP3 need is here, computed once at delivery (ARCHITECTURE principle 3):
BODY[1.2] is ``raw[p.body_start:p.body_end]``, BODY[1.MIME] is ``raw[p.header_start:p.header_end]``,
BODY[1.HEADER] of a message/rfc822 part is the same slice of ``p.message.root``. Two invariants
keep the BODYSTRUCTURE writer simple:

* ``content_type == "multipart"`` exactly when ``children`` is non-empty;
* ``content_type == "message"`` with subtype rfc822/global exactly when ``message`` is set.

The parser keeps them by rewriting the type where a declared container cannot be honoured (see
``structure``). Sizes and line counts are of the stored bytes; if the store keeps bare-LF mail
as is, it should normalise to CRLF before parsing so that IMAP sizes match what it sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pillarbox.mime.envelope import Envelope
from pillarbox.mime.params import Params


@dataclass(frozen=True)
class Encapsulated:
    """The message inside a message/rfc822 (or message/global) part."""

    root: Part
    envelope: Envelope


@dataclass(frozen=True)
class Part:
    """One MIME entity. Offsets index the whole message; the header includes its empty line."""

    header_start: int
    body_start: int
    body_end: int
    content_type: str = "text"
    content_subtype: str = "plain"
    params: Params = ()
    content_id: str | None = None
    description: str | None = None
    encoding: str = "7BIT"
    body_lines: int = 0  # LF count of the body; set for text/* and message/rfc822|global only
    md5: str | None = None
    disposition: tuple[str, Params] | None = None
    language: tuple[str, ...] | None = None
    location: str | None = None
    children: tuple[Part, ...] = ()
    message: Encapsulated | None = None

    @property
    def header_end(self) -> int:
        """Where the header (with its empty line) ends: always ``body_start``."""
        return self.body_start

    @property
    def body_octets(self) -> int:
        return self.body_end - self.body_start

    @property
    def is_multipart(self) -> bool:
        return bool(self.children)

    def param(self, name: str) -> str | None:
        """The value of parameter ``name`` (lowercase), or None."""
        return next((value for key, value in self.params if key == name), None)


@dataclass(frozen=True)
class ParsedMessage:
    """A whole message: its tree, its ENVELOPE, and decoded values for listing, SORT and THREAD."""

    root: Part
    envelope: Envelope
    subject: str = ""  # RFC 2047-decoded
    from_: str = ""  # display form, e.g. 'Alice <a@x>'
    date: datetime | None = None  # timezone-aware; naive "-0000" dates are taken as UTC
    message_id: str | None = None  # the first "<...>" of Message-ID, or its raw value
    in_reply_to: str | None = None  # the first "<...>" of In-Reply-To (RFC 5256 uses the first)
    references: tuple[str, ...] = ()  # every "<...>" of References, in order

    @property
    def size(self) -> int:
        return self.root.body_end

    @property
    def header_end(self) -> int:
        return self.root.body_start

    def to_json(self) -> str:
        """A compact JSON text that ``from_json`` turns back into an equal object."""
        from pillarbox.mime.codec import dump  # the codec imports this module: import when used

        return dump(self)

    @staticmethod
    def from_json(text: str) -> ParsedMessage:
        from pillarbox.mime.codec import load

        return load(text)


def find_part(root: Part, section: str) -> Part | None:
    """The part numbered ``section`` ("1.2.3", RFC 9051 6.4.5) in a message whose root is ``root``.

    In a message that is not multipart, part 1 is the body itself. Below a message/rfc822 part the
    numbers address the encapsulated message's parts, by the same two rules.
    """
    try:
        numbers = [int(piece) for piece in section.split(".")]
    except ValueError:
        return None
    part: Part | None = _in_message(root, numbers[0])
    for number in numbers[1:]:
        if part is None:
            return None
        if part.children:
            part = _nth(part.children, number)
        elif part.message is not None:
            part = _in_message(part.message.root, number)
        else:
            return None
    return part


def _in_message(root: Part, number: int) -> Part | None:
    if root.children:
        return _nth(root.children, number)
    return root if number == 1 else None


def _nth(children: tuple[Part, ...], number: int) -> Part | None:
    return children[number - 1] if 1 <= number <= len(children) else None
