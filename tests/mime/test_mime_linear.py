"""Every reader of a header or body a sender wrote takes time linear in its size (tests/complexity.py).

The named cases are the ones that were quadratic: a folded field gathered by appending each line to
a growing string (Authentication-Results removal at delivery, HEADER.FIELDS at FETCH), regular
expressions that rescan the rest of the text at every opener they cannot close (comments in
Content-Transfer-Encoding and Content-Language, HTML scripts and tags in the search text), and the
base subject cut a "Re: " at a time. The fuzzer then tries shapes nobody named.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pillarbox.imap.bodystructure import body_structure, envelope
from pillarbox.imap.sections import filter_header
from pillarbox.imap.sort import display_name
from pillarbox.mailauth.authresults import remove_ours
from pillarbox.mime import ParsedMessage, parse_message, search_text
from pillarbox.mime.downgrade import downgrade
from pillarbox.mime.subject import base_subject
from tests.complexity import assert_linear


def folded(size: int) -> bytes:
    """A message whose first field is folded over ``size / 4`` lines."""
    return b"X-Big: a\r\n" + b" b\r\n" * (size // 4) + b"Subject: s\r\n\r\nbody\r\n"


def header_of(raw: bytes) -> bytes:
    return raw[: raw.index(b"\r\n\r\n") + 4]


def test_removing_forged_authentication_results_is_linear() -> None:
    assert_linear(lambda raw: remove_ours(raw, "mx.test"), folded, 25_000)


def test_fetching_header_fields_is_linear() -> None:
    fetch = lambda header: filter_header(header, ("X-Big",), exclude=False)  # noqa: E731
    assert_linear(fetch, lambda n: header_of(folded(n)), 25_000)


def test_downgrading_for_a_legacy_pop3_client_is_linear() -> None:
    """RFC 6857 surrogate of a message with UTF-8 in its header: built field by field at every RETR."""
    assert_linear(downgrade, lambda n: b"Subject: caf\xc3\xa9\r\n" + folded(n), 32_000)


def test_folded_field_is_kept_byte_for_byte() -> None:
    raw = folded(4000)
    big_field = header_of(raw)[: -len(b"Subject: s\r\n\r\n")]
    assert filter_header(header_of(raw), ("x-big",), exclude=False) == big_field + b"\r\n"
    assert remove_ours(b"Authentication-Results: mx.test;\r\n spf=pass\r\n" + raw, "mx.test") == (raw, 1)


def in_part(content_type: bytes, body: bytes) -> bytes:
    return b"Content-Type: " + content_type + b"\r\n\r\n" + body


PARSED_CASES: dict[str, Callable[[int], bytes]] = {
    "unclosed comments in Content-Transfer-Encoding": lambda n: b"Content-Transfer-Encoding: " + b"(" * n + b"\r\n\r\n",
    "unclosed comments in Content-Language": lambda n: b"Content-Language: en, " + b"(" * n + b"\r\n\r\nx",
    "scripts never closed": lambda n: in_part(b"text/html", b"<script>" * (n // 8)),
    "styles and comments never closed": lambda n: in_part(b"text/html", b"<style <!--" * (n // 11)),
    "tags never closed": lambda n: in_part(b"text/html", b"<" * n),
    "many References": lambda n: b"References: " + b"<a@b> " * (n // 6) + b"\r\n\r\nx",
    "quoted-printable blanks not at a line end": lambda n: b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    + b" " * n + b"x",
}


@pytest.mark.parametrize("make", PARSED_CASES.values(), ids=PARSED_CASES.keys())
def test_parsing_and_indexing_are_linear(make: Callable[[int], bytes]) -> None:
    assert_linear(lambda raw: search_text(raw, parse_message(raw)), make, 5_000)


SUBJECTS: dict[str, Callable[[int], str]] = {
    "many Re:": lambda n: "Re: " * (n // 4) + "x",
    "many blobs before the text": lambda n: "[a]" * (n // 3) + " x",
    "many blobs, no refwd after them": lambda n: "[a] " * (n // 4) + "Re [b]",
    "trailers that are not at the end": lambda n: "x" + "(fwd) " * (n // 6) + "y",
    "nested [fwd: ]": lambda n: "[fwd: " * (n // 6) + "x" + "]" * (n // 6),
}


@pytest.mark.parametrize("make", SUBJECTS.values(), ids=SUBJECTS.keys())
def test_base_subject_is_linear(make: Callable[[int], str]) -> None:
    assert_linear(base_subject.__wrapped__, make, 40_000)  # __wrapped__: around the cache


def test_references_are_trimmed_to_the_first_and_the_last_ones() -> None:
    ids = [f"<{i}@x>" for i in range(100_000)]
    parsed = parse_message(("References: " + " ".join(ids) + "\r\n\r\nx").encode())
    assert parsed.references == (ids[0], *ids[-99:])
    assert ParsedMessage.from_json(parsed.to_json()) == parsed


# -- the fuzzer: shapes nobody named, each repeated to n and 8n bytes ------------------------------------

CONTEXTS = [
    (b"Subject: ", b"\r\n\r\nbody\r\n"),
    (b"From: ", b"\r\nTo: a@b\r\n\r\n"),
    (b"To: x <", b"\r\n\r\n"),
    (b"References: ", b"\r\nIn-Reply-To: <x@y>\r\n\r\n"),
    (b"Date: ", b"\r\n\r\n"),
    (b"Authentication-Results: mx.test; ", b"\r\n\r\n"),
    (b"Content-Type: text/plain; name*0*=utf-8''", b"\r\n\r\n"),
    (b"Content-Disposition: attachment; ", b"\r\n\r\n"),
    (b"Content-Type: multipart/mixed; boundary=", b"\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n"),
    (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n", b"\r\n--b--\r\n"),
    (b"Content-Type: text/html\r\n\r\n", b""),
    (b"Content-Transfer-Encoding: quoted-printable\r\n\r\n", b""),
    (b"Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n", b""),
    (b"Content-Type: message/rfc822\r\n\r\n", b""),
    (b"", b""),
]
FRAGMENTS = [
    b"(", b")", b'"', b"\\", b"<", b">", b"[", b"]", b"=?utf-8?q?", b"=?utf-8?b?", b"?=", b"re: ", b"Fwd:",
    b"(fwd)", b"[fwd:", b"--b", b"\r\n", b"\r\n ", b"\n", b"\r", b" ", b"\t", b";", b"*0*=", b"*1=", b"'",
    b"%C3", b"@", b",", b":", b"a", b"<script>", b"<!--", b"-->", b"</style>", b"\xc3\xa9", b"\xff",
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n", b"Content-Type: message/rfc822\r\n\r\n",
    b"=", b"=\r\n", b"=4", b"=3D", b"PGI+", b"==",
]  # fmt: skip


def everything(raw: bytes) -> None:
    """What delivery, the indexer, FETCH, SORT and THREAD do with a message's bytes."""
    parsed = parse_message(raw)
    ParsedMessage.from_json(parsed.to_json())
    search_text(raw, parsed)
    body_structure(parsed.root)
    envelope(parsed.envelope)
    base_subject.__wrapped__(parsed.subject)
    display_name(parsed.envelope.from_)
    header = raw[: parsed.header_end]
    filter_header(header, ("subject", "x"), exclude=True)
    remove_ours(raw, "mx.test")
    downgrade(raw)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CONTEXTS), st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6).map(b"".join))
def test_fuzzed_messages_cost_linear_time(context: tuple[bytes, bytes], unit: bytes) -> None:
    prefix, suffix = context
    assert_linear(everything, lambda n: prefix + unit * (n // len(unit)) + suffix, 32_000)
