"""The file readers behind ``pillarbox import`` and the CRLF helper, in-process."""

from __future__ import annotations

import io

import pytest

from pillarbox.admin import mbox
from pillarbox.admin.crlf import to_crlf
from pillarbox.admin.maildir import decode_mutf7, flags_of
from pillarbox.admin.mbox import MboxError, read_mbox


@pytest.mark.parametrize(("given", "expected"), [
    (b"a\nb\n", b"a\r\nb\r\n"),
    (b"a\r\nb\r\n", b"a\r\nb\r\n"),
    (b"a\rb\r\nc\nd", b"a\r\nb\r\nc\r\nd"),
    (b"\n\n", b"\r\n\r\n"),
    (b"", b""),
    (b"no newline", b"no newline"),
])
def test_to_crlf(given: bytes, expected: bytes) -> None:
    assert to_crlf(given) == expected


def read(data: bytes) -> list[mbox.FileMessage]:
    return list(read_mbox(io.BytesIO(data)))


def test_mbox_separators_need_a_blank_line_or_a_dated_from_line() -> None:
    found = read(
        b"\n"  # leading blank lines are tolerated
        b"From a@b Fri Nov 27 10:00:00 2026\nSubject: 1\n\nFrom me, hello\nbody\n"
        b"From a@b Fri Nov 27 10:00:00 2026\nSubject: 2\n\nx\n\n"  # no blank line before, but dated
        b"From a@b\nnot a separator: no time\n\n"
        b"From someone Tue 3 Feb 10:00 2004\nSubject: 3\n\ny\n"  # a loose one after a blank line
    )
    assert [m.raw for m in found] == [
        b"Subject: 1\n\nFrom me, hello\nbody\n",
        b"Subject: 2\n\nx\n\nFrom a@b\nnot a separator: no time\n",
        b"Subject: 3\n\ny\n",
    ]


def test_mbox_with_crlf_lines() -> None:
    found = read(b"From a@b Fri Nov 27 10:00:00 2026\r\nSubject: 1\r\n\r\n>From x\r\n\r\n"
                 b"From a@b Fri Nov 27 10:00:00 2026\r\nSubject: 2\r\n\r\nz\r\n")
    assert [m.raw for m in found] == [b"Subject: 1\r\n\r\nFrom x\r\n", b"Subject: 2\r\n\r\nz\r\n"]


def test_mbox_long_lines_are_read_in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mbox, "PIECE", 40)
    body = b"x" * 40 + b"From a@b Fri Nov 27 10:00:00 2026\n" + b"y" * 40 + b">From still not\n"
    found = read(b"From a@b Fri Nov 27 10:00:00 2026\nSubject: long\n\n" + body)
    assert [m.raw for m in found] == [b"Subject: long\n\n" + body]


def test_mbox_status_headers_give_flags_only_from_the_header() -> None:
    (found,) = read(b"From a@b Fri Nov 27 10:00:00 2026\nStatus: RO\nX-Status: DT\n\nStatus: R\n")
    assert found.flags == {"\\Seen", "\\Deleted", "\\Draft"}


def test_not_an_mbox() -> None:
    with pytest.raises(MboxError, match="not an mbox"):
        read(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(MboxError, match="not an mbox"):
        read(b"From the desk of the president\n\nDear all,\n")
    assert read(b"") == [] and read(b"\n\n") == []


@pytest.mark.parametrize(("name", "flags"), [
    ("123.M1P2.host:2,S", {"\\Seen"}),
    ("123.M1P2.host:2,DFPRST", {"\\Draft", "\\Flagged", "$Forwarded", "\\Answered", "\\Seen", "\\Deleted"}),
    ("123.M1P2.host,S=42,W=44:2,Rab", {"\\Answered"}),
    ("123.M1P2.host;2,F", {"\\Flagged"}),
    ("123.M1P2.host:2,", set()),
    ("123.M1P2.host", set()),
    ("123.M1P2.host:1,S", set()),  # experimental info "1," carries no flags
])
def test_maildir_flags(name: str, flags: set[str]) -> None:
    assert flags_of(name) == flags


def test_modified_utf7_folder_names() -> None:
    assert decode_mutf7("Caf&AOk-") == "Café"
    assert decode_mutf7("Tom &- Jerry") == "Tom & Jerry"
    assert decode_mutf7("&ZeVnLIqe-") == "日本語"
    assert decode_mutf7("Q&A") == "Q&A"  # not mUTF-7: kept as it is
