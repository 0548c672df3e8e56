"""Transfer decoding (for BINARY) and the text handed to the search index."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarbox.mime import decode_body, find_part, parse_message, search_text
from pillarbox.mime.search_text import squeeze_blanks
from pillarbox.mime.transfer import decode_base64, decode_transfer

MESSAGE = (
    b"From: =?utf-8?q?J=C3=B6rg?= <j@x>\r\nSubject: =?iso-8859-1?q?R=E9union?=\r\n"
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"caf=E9 au lait, soft=\r\nbreak\r\n"
    b"--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes("<p>Grüße &amp; <b>more</b></p><script>hidden()</script>".encode())
    + b"--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
    b"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner =?utf-8?q?s=C3=BCbject?=\r\n\r\ninner words\r\n"
    b"--b--\r\n"
)


def test_decode_body_quoted_printable_and_base64() -> None:
    root = parse_message(MESSAGE).root
    assert decode_body(MESSAGE, find_part(root, "1")) == b"caf\xe9 au lait, softbreak"  # type: ignore[arg-type]
    html = decode_body(MESSAGE, find_part(root, "2"))  # type: ignore[arg-type]
    assert html.decode().startswith("<p>Grüße")
    assert decode_body(MESSAGE, find_part(root, "3")) == b"\x89PNG\r\n\x1a\n"  # type: ignore[arg-type]


def test_search_text() -> None:
    headers, text = search_text(MESSAGE, parse_message(MESSAGE))
    assert "subject: Réunion" in headers and "from: Jörg <j@x>" in headers
    assert "café au lait, softbreak" in text
    assert "Grüße & more" in text and "<b>" not in text and "hidden" not in text
    assert "subject: inner sübject" in text and "inner words" in text
    assert "PNG" not in text


def test_search_text_limit_and_bad_charset() -> None:
    raw = b"Content-Type: text/plain; charset=no-such\r\n\r\n" + b"caf\xc3\xa9 " * 100
    headers, text = search_text(raw, parse_message(raw), limit=10)
    assert text == "café café "
    assert headers == "content-type: text/plain; charset=no-such"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"aGVsbG8=", b"hello"),
        (b"aGVs\r\nbG8=\r\n", b"hello"),
        (b"aGVsbG8", b"hello"),  # missing padding
        (b"aGV*sbG8=!!", b"hello"),  # junk characters
        (b"aGVsbG8=garbage", b"hello"),
        (b"a", b""),
        (b"", b""),
    ],
)
def test_lenient_base64(data: bytes, expected: bytes) -> None:
    assert decode_base64(data) == expected


def test_unknown_encoding_is_identity() -> None:
    assert decode_transfer(b"=E9", "X-UUENCODE") == b"=E9"
    assert decode_transfer(b"=E9=\n", "QUOTED-PRINTABLE") == b"\xe9"


@given(st.text(alphabet=" \t\r\n\f\vab\u00a0é", max_size=80))
def test_every_run_of_blanks_becomes_one_space(text: str) -> None:
    """What the index is given: each maximal run of space, tab, CR, FF, VT one space (a lone space
    stays), newlines and other characters untouched."""
    assert squeeze_blanks(text) == re.sub(r"[ \t\r\f\v]+", " ", text)
