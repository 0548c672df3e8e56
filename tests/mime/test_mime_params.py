"""Content-Type and Content-Disposition parameters, RFC 2045 5.1 and RFC 2231."""

from __future__ import annotations

import pytest

from pillarbox.mime.params import parse_content_type, parse_disposition


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text/plain; charset=us-ascii (Plain text)", ("text", "plain", (("charset", "us-ascii"),))),
        ('TEXT/Plain; CHARSET="us-ascii"', ("text", "plain", (("charset", "us-ascii"),))),
        ("text / html ; charset = utf-8", ("text", "html", (("charset", "utf-8"),))),
        ('multipart/mixed; boundary="a\\"b"', ("multipart", "mixed", (("boundary", 'a"b'),))),
        ("application/pdf; name=My File.pdf", ("application", "pdf", (("name", "My File.pdf"),))),
        ("text/plain charset=utf-8", ("text", "plain", (("charset", "utf-8"),))),
        ("text/plain;;; novalue; x=1", ("text", "plain", (("x", "1"),))),
        ('text/plain; name="unterminated', ("text", "plain", (("name", "unterminated"),))),
        ("text/plain; a=1; A=2", ("text", "plain", (("a", "1"),))),
        ("(comment) text/plain", ("text", "plain", ())),
    ],
)
def test_content_type(value: str, expected: tuple[str, str, tuple[tuple[str, str], ...]]) -> None:
    assert parse_content_type(value) == expected


@pytest.mark.parametrize("value", [None, "", "text", "/plain", "text/", "@@@"])
def test_invalid_content_type(value: str | None) -> None:
    assert parse_content_type(value) is None


def test_rfc2231_continuations() -> None:
    # RFC 2231 3 and 4.1 examples
    value = (
        'message/external-body; access-type=URL;\tURL*0="ftp://";\tURL*1="cs.utk.edu/pub/moore/bulk-mailer/'
        'bulk-mailer.tar"'
    )
    assert parse_content_type(value) == (
        "message",
        "external-body",
        (("access-type", "URL"), ("url", "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar")),
    )
    value = (
        "application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20;"
        ' title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2="isn\'t it!"'
    )
    assert parse_content_type(value) == (
        "application",
        "x-stuff",
        (("title", "This is even more ***fun*** isn't it!"),),
    )


def test_rfc2231_charset_and_precedence() -> None:
    value = "attachment; filename=\"fallback.txt\"; filename*=UTF-8''%E2%82%AC%20rates.txt; size=1"
    assert parse_disposition(value) == ("attachment", (("filename", "€ rates.txt"), ("size", "1")))
    # sections out of order, and a UTF-8 character split across two sections
    value = "attachment; name*1*=%A9.txt; name*0*=utf-8''caf%C3"
    assert parse_disposition(value) == ("attachment", (("name", "café.txt"),))
    value = "inline; name*=bogus-charset''%E9t%E9"
    assert parse_disposition(value) == ("inline", (("name", "été"),))


def test_rfc2231_junk_names_kept_whole() -> None:
    assert parse_disposition("inline; a*b=1; *=2; c*99999=3") == (
        "inline",
        (("a*b", "1"), ("*", "2"), ("c*99999", "3")),
    )


def test_disposition_missing_or_empty() -> None:
    assert parse_disposition(None) is None
    assert parse_disposition("  ") is None
    assert parse_disposition("INLINE") == ("inline", ())
