"""Modified UTF-7 (RFC 3501 5.1.3): examples, strict decoding, round trips."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarbox.imap import utf7

EXAMPLES = [
    ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501 5.1.3
    ("&", "&-"),
    ("a&b", "a&-b"),
    ("Entwürfe", "Entw&APw-rfe"),
    ("", ""),
    ("INBOX", "INBOX"),
    ("😀", "&2D3eAA-"),
    ("é&é", "&AOk-&-&AOk-"),
]


@pytest.mark.parametrize(("name", "wire"), EXAMPLES)
def test_examples(name: str, wire: str) -> None:
    assert utf7.encode(name) == wire
    assert utf7.decode(wire) == name


@pytest.mark.parametrize(
    "wire",
    [
        "&",  # unterminated
        "&U,BTFw",  # no "-"
        "&AGE-",  # encodes printable ASCII "a"
        "&AOk-&AOk-",  # two adjacent runs: must be one
        "&AO-",  # impossible length
        "&AOl-",  # non-zero padding bits
        "&2D0-",  # lone high surrogate
        "é",  # raw 8-bit
        "a\x01b",  # control character
        "&U/BTFw-",  # "/" instead of ","
        "&=-",
    ],
)
def test_strict_decode_rejects(wire: str) -> None:
    with pytest.raises(ValueError):
        utf7.decode(wire)


names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(names)
def test_round_trip(name: str) -> None:
    wire = utf7.encode(name)
    assert wire.isascii()
    assert all("\x20" <= char <= "\x7e" for char in wire)
    assert utf7.decode(wire) == name


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30))
def test_decode_is_canonical(wire: str) -> None:
    try:
        name = utf7.decode(wire)
    except ValueError:
        return
    assert utf7.encode(name) == wire
