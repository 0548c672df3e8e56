"""Unpacking a gzip or zip attachment a stranger sent, without letting it unpack into everything we have.

The problem. Reports from other domains arrive compressed (RFC 7489 7.2.1.1: gzip or zip; RFC 8460
5.3: gzip), and compression is where a few kilobytes become gigabytes: a gzip bomb (one stream of
zeros, ratio ~1000:1), a zip bomb (overlapping members or a central directory that claims a million
files), or a member compressed with bzip2/LZMA, whose Python decompressors do not take an output
bound. The naive ``gzip.decompress`` / ``ZipFile.read`` trusts the sizes the archive states.

Here every byte of output is counted as it is produced: zlib is asked for at most the bytes still
allowed (``max_length``), zip members are read in chunks through the same count, the end-of-central-
directory record is read before ``zipfile`` parses the directory (so a claimed million entries costs
nothing), and only stored and deflated members are opened. Past ``limit`` bytes, or ``max_members``
members, ``ArchiveRefused`` says why; the caller logs it.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_MAX_COMMENT = 0xFFFF
_CHUNK = 64 * 1024
_READABLE = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class ArchiveRefused(ValueError):
    """Too big unpacked, too many members, or not a well-formed archive (the message says which)."""


def is_archive(data: bytes) -> bool:
    return data.startswith(GZIP_MAGIC) or data.startswith(ZIP_MAGIC)


def unpack(data: bytes, limit: int, max_members: int) -> list[bytes]:
    """The files in ``data``: one for gzip, each member for zip, ``data`` itself when not compressed."""
    if data.startswith(GZIP_MAGIC):
        return [gunzip(data, limit)]
    if data.startswith(ZIP_MAGIC):
        return unzip(data, limit, max_members)
    if len(data) > limit:
        raise ArchiveRefused(f"larger than {limit} bytes")
    return [data]


def gunzip(data: bytes, limit: int) -> bytes:
    """RFC 1952, every member of a multi-member file, at most ``limit`` bytes out."""
    out = bytearray()
    rest = data
    while rest:
        stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
        pending = rest
        while pending and not stream.eof:
            out += _inflate(stream, pending, limit - len(out))
            pending = stream.unconsumed_tail
        if not stream.eof:
            raise ArchiveRefused("gzip data ends early")
        rest = stream.unused_data.lstrip(b"\0")  # padding after the last member is allowed
    return bytes(out)


def _inflate(stream: zlib._Decompress, data: bytes, room: int) -> bytes:
    try:
        chunk = stream.decompress(data, room + 1)
    except zlib.error as exc:
        raise ArchiveRefused(f"not valid gzip data ({exc})") from None
    if len(chunk) > room:
        raise ArchiveRefused(f"unpacks to more than {room} more bytes (a compression bomb?)")
    return chunk


def _zip_entries(data: bytes) -> int:
    """The entry count the end-of-central-directory record states (APPNOTE 4.3.16), read by hand."""
    start = data.rfind(_EOCD, max(0, len(data) - _EOCD_SIZE - _MAX_COMMENT))
    if start < 0 or len(data) - start < _EOCD_SIZE:
        raise ArchiveRefused("not a zip file (no end of central directory)")
    _sig, disk, _cd_disk, _here, total, _size, _offset, _comment = struct.unpack_from("<4s4H2LH", data, start)
    if disk != 0 or total == 0xFFFF:
        raise ArchiveRefused("multi-disk or ZIP64 archive")
    return int(total)


def unzip(data: bytes, limit: int, max_members: int) -> list[bytes]:
    """Each file member, at most ``limit`` bytes for all of them together."""
    if _zip_entries(data) > max_members:
        raise ArchiveRefused(f"more than {max_members} members")
    files: list[bytes] = []
    room = limit
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.infolist():
                if member.is_dir():
                    continue
                if member.compress_type not in _READABLE or member.flag_bits & 0x1:
                    raise ArchiveRefused(f"member {member.filename!r}: encrypted or an unsupported compression")
                files.append(_read_member(archive, member, room))
                room -= len(files[-1])
    except ArchiveRefused:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError) as exc:
        raise ArchiveRefused(f"not a valid zip file ({exc})") from None
    return files


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, room: int) -> bytes:
    out = bytearray()
    with archive.open(member) as stream:
        while chunk := stream.read(min(_CHUNK, room + 1 - len(out))):
            out += chunk
            if len(out) > room:
                raise ArchiveRefused(f"unpacks to more than {room} more bytes (a compression bomb?)")
    return bytes(out)
