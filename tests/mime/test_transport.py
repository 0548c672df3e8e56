"""Parts of binary content re-encoded as base64 before they are stored (RFC 3516 4.4 and 6)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pillarbox.mime import decode_body, find_part, parse_message
from pillarbox.mime.transport import encode_binary_parts

MULTIPART = (
    b"Subject: bin\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
    b"--B\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
    b"--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding:\r\n binary\r\nX-After: 1\r\n\r\n"
    b"%s\r\n--B--\r\n"
)


def _part(raw: bytes, number: str):
    part = find_part(parse_message(raw).root, number)
    assert part is not None
    return part


def test_a_binary_part_becomes_base64_and_nothing_else_changes() -> None:
    raw = MULTIPART % b"\x00\x01\x02\xff"
    stored = encode_binary_parts(raw)
    assert stored == (
        b"Subject: bin\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        b"--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\nX-After: 1\r\n\r\n"
        b"AAEC/w==\r\n--B--\r\n"
    )
    assert decode_body(stored, _part(stored, "2")) == b"\x00\x01\x02\xff"


def test_a_single_part_message_without_a_transfer_encoding_gets_one() -> None:
    raw = b"Subject: one\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x00\r\n"
    stored = encode_binary_parts(raw)
    assert stored == (b"Subject: one\r\nContent-Type: application/octet-stream\r\n"
                      b"Content-Transfer-Encoding: base64\r\n\r\nAAANCg==\r\n")
    assert decode_body(stored, _part(stored, "1")) == b"\x00\x00\r\n"


def test_long_content_is_cut_in_76_character_lines() -> None:
    stored = encode_binary_parts(MULTIPART % bytes(range(256)))
    body = stored.split(b"X-After: 1\r\n\r\n")[1].split(b"\r\n--B--")[0]
    assert [len(line) for line in body.split(b"\r\n")] == [76, 76, 76, 76, 40]


def test_what_needs_no_change_is_kept_as_it_is() -> None:
    plain = MULTIPART % b"no nul here \xff"
    assert encode_binary_parts(plain) is plain
    nul_in_base64 = b"Content-Transfer-Encoding: base64\r\n\r\nAA\x00EC\r\n"
    assert encode_binary_parts(nul_in_base64) == nul_in_base64  # encoded already: not encoded twice


@given(st.binary(max_size=300).filter(lambda b: b"\n--B" not in b),  # else the part would end early
       st.binary(max_size=40).filter(lambda b: b"\n--B" not in b))
def test_the_stored_form_has_no_nul_and_the_same_binary_content(content: bytes, text: bytes) -> None:
    head, tail = MULTIPART.split(b"%s")
    raw = head.replace(b"hello", text) + content + tail
    stored = encode_binary_parts(raw)
    assert b"\x00" not in stored
    assert decode_body(stored, _part(stored, "2")) == decode_body(raw, _part(raw, "2"))
    assert decode_body(stored, _part(stored, "1")) == decode_body(raw, _part(raw, "1"))
