"""Bounded unpacking of gzip and zip attachments: what fits comes out whole, bombs are refused early."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import struct
import zipfile
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pillarbox.mime.archive import ArchiveRefused, gunzip, unpack, unzip

MiB = 1024 * 1024


def zipped(*members: tuple[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


@given(st.binary(max_size=4096), st.integers(min_value=0, max_value=5000))
def test_gzip_round_trip_or_refusal(data: bytes, limit: int) -> None:
    packed = gzip.compress(data)
    if len(data) <= limit:
        assert unpack(packed, limit, 8) == [data]
    else:
        with pytest.raises(ArchiveRefused):
            gunzip(packed, limit)


@given(st.lists(st.binary(max_size=1024), min_size=1, max_size=5), st.integers(min_value=0, max_value=6000))
def test_zip_round_trip_or_refusal(files: list[bytes], limit: int) -> None:
    packed = zipped(*((f"f{i}.xml", data) for i, data in enumerate(files)))
    if sum(map(len, files)) <= limit:
        assert unzip(packed, limit, 8) == files
    else:
        with pytest.raises(ArchiveRefused):
            unzip(packed, limit, 8)


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_garbage_is_refused_never_a_crash(noise: bytes) -> None:
    for data in (b"\x1f\x8b" + noise, b"PK\x03\x04" + noise, gzip.compress(b"x")[:10] + noise):
        with contextlib.suppress(ArchiveRefused):
            unpack(data, 1 << 16, 8)


def test_multi_member_gzip_and_padding() -> None:
    assert gunzip(gzip.compress(b"one ") + gzip.compress(b"two") + b"\0\0", 100) == b"one two"


def test_truncated_gzip() -> None:
    with pytest.raises(ArchiveRefused, match="ends early"):
        gunzip(gzip.compress(b"report " * 1000)[:40], MiB)


def test_gzip_bomb_is_refused_at_the_limit() -> None:
    """1 GiB of zeros packs into ~1 MiB; unpacking stops a chunk past the limit, never near the 1 GiB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MiB)
    bomb = b"".join(compressor.compress(block) for _ in range(1024)) + compressor.flush()
    assert len(bomb) < 2 * MiB
    with pytest.raises(ArchiveRefused, match="compression bomb"):
        gunzip(bomb, 10 * MiB)


def test_zip_bomb_member_is_refused() -> None:
    bomb = zipped(("report.xml", bytes(64 * MiB)))
    with pytest.raises(ArchiveRefused, match="compression bomb"):
        unzip(bomb, 10 * MiB, 8)


def test_zip_members_share_one_limit() -> None:
    """Overlapping-member bombs give many members the same big data: the count is for all together."""
    many = zipped(*((f"r{i}.xml", bytes(3 * MiB)) for i in range(5)))
    with pytest.raises(ArchiveRefused):
        unzip(many, 10 * MiB, 8)


def test_too_many_members_is_refused_before_reading_the_directory() -> None:
    small = zipped(*((f"r{i}.xml", b"<x/>") for i in range(9)))
    with pytest.raises(ArchiveRefused, match="more than 8 members"):
        unzip(small, MiB, 8)
    # an end-of-central-directory record claiming 65534 entries: refused from those 22 bytes alone
    claim = zipped(("r.xml", b"<x/>"))[:-22] + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 65534, 65534, 0, 0, 0)
    with pytest.raises(ArchiveRefused, match="members"):
        unzip(claim, MiB, 8)


def test_only_stored_and_deflated_members() -> None:
    with pytest.raises(ArchiveRefused, match="unsupported compression"):
        unzip(zipped(("r.xml", bz2.compress(b"x")), compression=zipfile.ZIP_BZIP2), MiB, 8)
    assert unzip(zipped(("r.xml", b"<feedback/>"), compression=zipfile.ZIP_STORED), MiB, 8) == [b"<feedback/>"]


def test_plain_data_is_one_file() -> None:
    assert unpack(b"<feedback/>", 100, 8) == [b"<feedback/>"]
    with pytest.raises(ArchiveRefused):
        unpack(b"x" * 101, 100, 8)
