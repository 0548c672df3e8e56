"""Quoted-printable decoding (RFC 2045 6.7), which BINARY[] and BINARY.SIZE (RFC 3516) serve."""

from __future__ import annotations

import binascii

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarbox.mime.transfer import decode_quoted_printable


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        (b"caf=E9 au lait", b"caf\xe9 au lait"),
        (b"Hello  \r\nworld\t\r\n", b"Hello\r\nworld\r\n"),  # rule 3: transport padding goes
        (b"soft=\r\nbreak", b"softbreak"),  # rule 5
        (b"soft=  \r\nbreak=\t\r\n!", b"softbreak!"),  # a soft break with blanks after it
        (b"end=", b"end"),  # a soft break at the very end
        (b"bare LF=\nsoft\n", b"bare LFsoft\n"),
        (b"=3d=3D lower and upper", b"== lower and upper"),
        (b"=zz=4 =\xff kept", b"=zz=4 =\xff kept"),  # malformed escapes stay as written
        (b"a  b\tc", b"a  b\tc"),  # blanks inside a line are text
        (b"", b""),
    ],
)
def test_rfc_2045_rules(encoded: bytes, decoded: bytes) -> None:
    assert decode_quoted_printable(encoded) == decoded


@given(st.binary(max_size=400), st.booleans())
def test_what_an_encoder_writes_decodes_to_the_original(data: bytes, quotetabs: bool) -> None:
    assert decode_quoted_printable(binascii.b2a_qp(data, quotetabs=quotetabs, istext=False)) == data


@given(st.binary(max_size=400), st.lists(st.sampled_from([b" ", b"\t", b"  \t"]), min_size=1, max_size=8))
def test_blanks_added_in_transport_change_nothing(data: bytes, padding: list[bytes]) -> None:
    encoded = binascii.b2a_qp(data, istext=False)
    lines = encoded.split(b"\n")
    padded = b"\n".join(line + padding[n % len(padding)] for n, line in enumerate(lines))
    assert decode_quoted_printable(padded) == data


@given(st.binary(max_size=400))
def test_anything_decodes_without_growing(data: bytes) -> None:
    assert len(decode_quoted_printable(data)) <= len(data)
