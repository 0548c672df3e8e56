"""GETMETADATA / SETMETADATA parsing (RFC 5464 5): the RFC's examples, then any entry name."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pillarbox.errors import ProtocolError
from pillarbox.imap.parser import GetMetadata, SetMetadata
from pillarbox.imap.parser.metadata_cmds import entry_name
from pillarbox.imap.parser.primitives import ParseError, Reader
from tests.imap.parser_helpers import parse, refused


def test_rfc_examples() -> None:
    assert parse(b'a GETMETADATA "" /shared/comment') == GetMetadata("a", "GETMETADATA", "", ("/shared/comment",))
    command = parse(b'a GETMETADATA "INBOX" (MAXSIZE 1024) (/shared/comment /private/comment)')
    assert command == GetMetadata("a", "GETMETADATA", "INBOX", ("/shared/comment", "/private/comment"), 1024)
    command = parse(b"a GETMETADATA (DEPTH 1 MAXSIZE 7) INBOX /private/filters/values")
    assert command == GetMetadata("a", "GETMETADATA", "INBOX", ("/private/filters/values",), 7, "1")
    command = parse(b'a SETMETADATA INBOX (/private/comment {33}\r\nMy new comment across\r\ntwo lines.)')
    assert command == SetMetadata("a", "SETMETADATA", "INBOX",
                                  (("/private/comment", b"My new comment across\r\ntwo lines."),))
    assert parse(b"a SETMETADATA INBOX (/private/comment NIL)").values == (("/private/comment", None),)  # type: ignore[attr-defined]
    for bad in (b"a GETMETADATA INBOX (DEPTH 1 DEPTH 0) /shared", b"a SETMETADATA INBOX ()",
                b"a SETMETADATA INBOX (/shared/x)", b"a GETMETADATA INBOX (COLOR 1) /shared/x"):
        assert refused(bad).status == "BAD"


@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x80), max_size=20), st.booleans())
def test_an_entry_name_is_valid_or_bad(text: str, to_set: bool) -> None:
    reader = Reader(b'"' + text.encode("utf-8").replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"')
    try:
        name = entry_name(reader, to_set)
    except (ParseError, ProtocolError):
        return
    parts = name.split("/")
    assert name == text.lower() and parts[0] == "" and parts[1] in ("private", "shared")
    assert "" not in parts[1:] and not set(name) & {"*", "%"} and all(0x20 <= ord(c) < 0x7f for c in name)
    assert not to_set or len(parts) >= 3
