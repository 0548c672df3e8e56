"""The part tree: offsets, defaults, numbering, and what malformed mail turns into."""

from __future__ import annotations

import pytest

from pillarbox.mime import Limits, Part, find_part, parse_message


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def body(raw: bytes, part: Part | None) -> bytes:
    assert part is not None
    return raw[part.body_start : part.body_end]


# RFC 2046 5.1.1, the example verbatim (with its preamble and epilogue).
RFC2046_EXAMPLE = crlf(
    """From: Nathaniel Borenstein <nsb@bellcore.com>
To: Ned Freed <ned@innosoft.com>
Date: Sun, 21 Mar 1993 23:56:48 -0800 (PST)
Subject: Sample message
MIME-Version: 1.0
Content-type: multipart/mixed; boundary="simple boundary"

This is the preamble.  It is to be ignored, though it
is a handy place for composition agents to include an
explanatory note to non-MIME conformant readers.

--simple boundary

This is implicitly typed plain US-ASCII text.
It does NOT end with a linebreak.
--simple boundary
Content-type: text/plain; charset=us-ascii

This is explicitly typed plain US-ASCII text.
It DOES end with a linebreak.

--simple boundary--

This is the epilogue.  It is also to be ignored.
"""
)


def test_rfc2046_example() -> None:
    parsed = parse_message(RFC2046_EXAMPLE)
    root = parsed.root
    assert (root.content_type, root.content_subtype) == ("multipart", "mixed")
    assert root.param("boundary") == "simple boundary"
    first, second = root.children
    assert body(RFC2046_EXAMPLE, first) == (
        b"This is implicitly typed plain US-ASCII text.\r\nIt does NOT end with a linebreak."
    )
    assert first.header_start == first.body_start - 2  # only the empty line
    assert first.params == (("charset", "us-ascii"),)  # RFC 2045 5.2 default
    assert body(RFC2046_EXAMPLE, second) == (
        b"This is explicitly typed plain US-ASCII text.\r\nIt DOES end with a linebreak.\r\n"
    )
    assert RFC2046_EXAMPLE[second.header_start : second.header_end] == (
        b"Content-type: text/plain; charset=us-ascii\r\n\r\n"
    )
    assert (first.body_lines, second.body_lines) == (1, 2)
    assert parsed.size == len(RFC2046_EXAMPLE) == root.body_end
    assert parsed.header_end == RFC2046_EXAMPLE.index(b"This is the preamble")
    assert parsed.subject == "Sample message"
    assert parsed.date is not None and parsed.date.utcoffset() is not None


def test_single_part_message_part_one_is_body() -> None:
    raw = crlf("Subject: hi\n\nline one\nline two\n")
    parsed = parse_message(raw)
    assert find_part(parsed.root, "1") is parsed.root
    assert body(raw, parsed.root) == b"line one\r\nline two\r\n"
    assert parsed.root.body_lines == 2 and parsed.root.body_octets == 20
    assert find_part(parsed.root, "2") is None
    assert find_part(parsed.root, "1.1") is None
    assert find_part(parsed.root, "x") is None
    assert find_part(parsed.root, "0") is None


NESTED = crlf(
    """From: a@example.com
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: text/plain

first
--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain

plain
--inner
Content-Type: text/html

<b>html</b>
--inner--
--outer
Content-Type: message/rfc822

From: b@example.com
Subject: inside
Content-Type: multipart/mixed; boundary=deep

--deep
Content-Type: text/plain

deep one
--deep
Content-Type: image/png
Content-Transfer-Encoding: base64

iVBORw0=
--deep--
--outer--
"""
)


@pytest.mark.parametrize(
    ("section", "expected", "kind"),
    [
        ("1", b"first", "text/plain"),
        ("2.1", b"plain", "text/plain"),
        ("2.2", b"<b>html</b>", "text/html"),
        ("3.1", b"deep one", "text/plain"),
        ("3.2", b"iVBORw0=", "image/png"),
    ],
)
def test_nested_sections(section: str, expected: bytes, kind: str) -> None:
    part = find_part(parse_message(NESTED).root, section)
    assert body(NESTED, part) == expected
    assert part is not None and f"{part.content_type}/{part.content_subtype}" == kind


def test_message_rfc822_inside_multipart() -> None:
    part = find_part(parse_message(NESTED).root, "3")
    assert part is not None and part.message is not None
    inner = part.message.root
    assert inner.header_start == part.body_start
    assert NESTED[inner.header_start : inner.header_end].startswith(b"From: b@example.com\r\n")
    assert NESTED[inner.header_end - 4 : inner.header_end] == b"\r\n\r\n"
    assert part.message.envelope.subject == "inside"
    assert part.body_lines == NESTED[part.body_start : part.body_end].count(b"\n")
    assert find_part(parse_message(NESTED).root, "3.2").encoding == "BASE64"  # type: ignore[union-attr]


def test_rfc822_with_single_part_inner_message() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\n"
        "Subject: in\n\ninner text\n--b--\n"
    )
    root = parse_message(raw).root
    assert body(raw, find_part(root, "1.1")) == b"inner text"
    assert find_part(root, "1.2") is None


def test_top_level_message_rfc822() -> None:
    raw = crlf("Content-Type: message/rfc822\n\nSubject: in\n\ninner\n")
    root = parse_message(raw).root
    assert find_part(root, "1") is root
    assert body(raw, find_part(root, "1.1")) == b"inner\r\n"


def test_digest_default_is_message_rfc822() -> None:
    raw = crlf(
        "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nbody one\n"
        "--d\nContent-Type: text/plain\n\nnot a message\n--d--\n"
    )
    first, second = parse_message(raw).root.children
    assert (first.content_type, first.content_subtype, first.params) == ("message", "rfc822", ())
    assert first.message is not None and first.message.envelope.subject == "one"
    assert (second.content_type, second.content_subtype) == ("text", "plain")


def test_bare_lf_offsets() -> None:
    raw = b"Content-Type: multipart/mixed; boundary=x\n\n--x\n\nA\n--x\nContent-Type: text/html\n\nB\n\n--x--\n"
    first, second = parse_message(raw).root.children
    assert body(raw, first) == b"A"
    assert body(raw, second) == b"B\n"
    assert raw[second.header_start : second.header_end] == b"Content-Type: text/html\n\n"


def test_transport_padding_and_close() -> None:
    raw = crlf("Content-Type: multipart/mixed; boundary=x\n\n--x  \t\n\nA\n--x-- \nepilogue\n")
    (only,) = parse_message(raw).root.children
    assert body(raw, only) == b"A"


def test_longer_boundary_is_not_a_delimiter() -> None:
    raw = crlf("Content-Type: multipart/mixed; boundary=x\n\n--x\n\nA\n--xy\nstill A\n--x--\n")
    (only,) = parse_message(raw).root.children
    assert body(raw, only) == b"A\r\n--xy\r\nstill A"


def test_missing_close_delimiter_runs_to_end() -> None:
    raw = crlf("Content-Type: multipart/mixed; boundary=x\n\n--x\n\nA\n--x\n\nB\nmore")
    first, second = parse_message(raw).root.children
    assert body(raw, first) == b"A"
    assert body(raw, second) == b"B\r\nmore"
    assert second.body_end == len(raw)


def test_outer_boundary_closes_unterminated_inner_multipart() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/mixed; boundary=i\n\n"
        "--i\n\ninner\n--o\n\nsecond\n--o--\n"
    )
    first, second = parse_message(raw).root.children
    assert body(raw, first.children[0]) == b"inner"
    assert body(raw, second) == b"second"


def test_consecutive_delimiters_give_empty_part() -> None:
    raw = crlf("Content-Type: multipart/mixed; boundary=x\n\n--x\n--x\n\nB\n--x--\n")
    first, second = parse_message(raw).root.children
    assert first.body_octets == 0 and first.header_start == first.body_end
    assert body(raw, second) == b"B"


@pytest.mark.parametrize(
    "raw",
    [
        b"Content-Type: multipart/mixed\r\n\r\nno boundary at all\r\n",
        b"Content-Type: multipart/mixed; boundary=zz\r\n\r\nno delimiter here\r\n",
        b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz--\r\n",
    ],
)
def test_multipart_without_parts_gets_one_empty_text_part(raw: bytes) -> None:
    root = parse_message(raw).root
    assert root.content_type == "multipart"
    (child,) = root.children
    assert (child.content_type, child.content_subtype, child.body_octets) == ("text", "plain", 0)
    assert child.params == (("charset", "us-ascii"),)


def test_encoded_message_rfc822_becomes_opaque() -> None:
    raw = crlf("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeA0KDQp5\n")
    root = parse_message(raw).root
    assert (root.content_type, root.content_subtype, root.message) == ("application", "octet-stream", None)
    assert root.encoding == "BASE64"


def test_no_blank_line_means_all_header() -> None:
    raw = b"Subject: only a header\r\nFrom: a@b\r\n"
    parsed = parse_message(raw)
    assert parsed.header_end == len(raw) and parsed.root.body_octets == 0
    assert parsed.subject == "only a header"


def test_message_starting_with_blank_line() -> None:
    raw = b"\r\nbody only"
    parsed = parse_message(raw)
    assert parsed.header_end == 2 and body(raw, parsed.root) == b"body only"


def test_garbage_header_lines_are_skipped() -> None:
    raw = b"From nobody Mon Jan 1\r\n continuation of nothing\r\nGarbage line\r\nBad Name: x\r\n" + (
        b"Subject : spaced\r\n\t folded\r\nX-8bit: caf\xe9\r\nX-Utf8: caf\xc3\xa9\r\n\r\nbody"
    )
    parsed = parse_message(raw)
    assert parsed.envelope.subject == "spaced\t folded"
    assert body(raw, parsed.root) == b"body"
    from pillarbox.mime.headers import parse_fields

    fields = dict(parse_fields(raw, 0, parsed.header_end))
    assert fields["x-8bit"] == "café" and fields["x-utf8"] == "café"
    assert "bad name" not in fields


def test_mime_part_fields() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=x\n\n--x\n"
        'Content-Type: application/pdf; name="a.pdf"\nContent-Transfer-Encoding: Base64 (yes)\n'
        "Content-ID: <id@x>\nContent-Description: =?utf-8?q?r=C3=A9sum=C3=A9?=\n"
        'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\nContent-Disposition: Attachment; filename="a.pdf"; size=3\n'
        "Content-Language: en, (comment) fr\nContent-Location: http://x/a.pdf\n\nAAAA\n--x--\n"
    )
    (part,) = parse_message(raw).root.children
    assert part.encoding == "BASE64"
    assert part.content_id == "<id@x>"
    assert part.description == "=?utf-8?q?r=C3=A9sum=C3=A9?="  # raw, as IMAP sends it
    assert part.md5 == "Q2hlY2sgSW50ZWdyaXR5IQ=="
    assert part.disposition == ("attachment", (("filename", "a.pdf"), ("size", "3")))
    assert part.language == ("en", "fr")
    assert part.location == "http://x/a.pdf"
    assert part.body_lines == 0  # only text/* and message/* count lines


def test_depth_limit_makes_opaque_leaf() -> None:
    raw = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(50))
    root = parse_message(raw, Limits(max_depth=10)).root
    depth, part = 0, root
    while part.children:
        part, depth = part.children[0], depth + 1
    assert depth == 10
    assert (part.content_type, part.content_subtype) == ("application", "octet-stream")


def test_deep_nesting_default_limit_does_not_recurse_too_far() -> None:
    raw = b"Content-Type: message/rfc822\r\n\r\n" * 5000
    root = parse_message(raw).root
    depth, part = 0, root
    while part.message is not None:
        part, depth = part.message.root, depth + 1
    assert depth == 100


def test_part_count_limit() -> None:
    raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + b"--b\r\n\r\nx\r\n" * 100 + b"--b--\r\n"
    root = parse_message(raw, Limits(max_parts=10)).root
    assert len(root.children) == 9
    assert raw[root.children[-1].body_start : root.children[-1].body_end].count(b"--b") == 91


@pytest.mark.parametrize("pad", [8180, 8185, 8186, 8187, 8188, 8189, 8190, 8191, 8192, 20000])
@pytest.mark.parametrize("eol", [b"\r\n", b"\n"])
def test_blank_line_found_across_search_windows(pad: int, eol: bytes) -> None:
    raw = b"X: " + b"a" * pad + eol + eol + b"body" + eol * 3
    assert parse_message(raw).header_end == 3 + pad + 2 * len(eol)


@pytest.mark.parametrize("mark", ["é".encode(), "é".encode("latin-1")])
def test_non_ascii_boundary(mark: bytes) -> None:
    raw = b"Content-Type: multipart/mixed; boundary=" + mark + b"\r\n\r\n--" + mark + b"\r\n\r\nA\r\n--" + mark + b"--"
    (only,) = parse_message(raw).root.children
    assert body(raw, only) == b"A"
