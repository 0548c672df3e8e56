"""Authentication-Results formatting, forged-field removal, and ARC chain verification."""

from __future__ import annotations

import asyncio

import dkim

from pillarbox.dns.fake import FakeResolver
from pillarbox.mailauth.arc import verify_chain
from pillarbox.mailauth.authresults import MethodResult, authserv_id_of, header_field, remove_ours
from tests.mailauth.keys import message, rsa_key


def test_format() -> None:
    field = header_field("mx.test", [
        MethodResult("spf", "pass", properties=(("smtp.mailfrom", "alice@example.com"),)),
        MethodResult("dkim", "fail", reason='body hash "mismatch"',
                     properties=(("header.d", "example.com"), ("header.s", "s1"), ("header.b", "abcd+/ef"))),
        MethodResult("dmarc", "fail", comment="p=reject dis=reject", properties=(("header.from", "example.com"),)),
    ])
    assert field == (
        b"Authentication-Results: mx.test;\r\n"
        b"\tspf=pass smtp.mailfrom=alice@example.com;\r\n"
        b'\tdkim=fail reason="body hash \\"mismatch\\"" header.d=example.com header.s=s1 header.b=abcd+/ef;\r\n'
        b"\tdmarc=fail (p=reject dis=reject) header.from=example.com\r\n"
    )
    assert header_field("mx.test", []) == b"Authentication-Results: mx.test; none\r\n"


def test_authserv_id_parsing() -> None:
    assert authserv_id_of(b" mx.test; spf=pass") == "mx.test"
    assert authserv_id_of(b" (comment) MX.TEST 1; none") == "mx.test"
    assert authserv_id_of(b"\r\n\tmx.test;\r\n\tdkim=pass") == "mx.test"


def test_remove_only_our_fields() -> None:
    raw = (b"Authentication-Results: MX.test;\r\n\tdkim=pass header.d=bank.test\r\n"
           b"Received: from a\r\n"
           b"Authentication-Results: other.example; spf=fail\r\n"
           b"authentication-results: mx.test; dmarc=pass\r\n"
           b"Authentication-Results: mx.test.evil; dmarc=pass\r\n"
           b"Subject: hi\r\n\r\n"
           b"Authentication-Results: mx.test; in the body stays\r\n")
    cleaned, removed = remove_ours(raw, "mx.test")
    assert removed == 2
    assert cleaned == (b"Received: from a\r\n"
                       b"Authentication-Results: other.example; spf=fail\r\n"
                       b"Authentication-Results: mx.test.evil; dmarc=pass\r\n"
                       b"Subject: hi\r\n\r\n"
                       b"Authentication-Results: mx.test; in the body stays\r\n")
    assert remove_ours(b"Subject: x\r\n\r\nbody", "mx.test") == (b"Subject: x\r\n\r\nbody", 0)


def _arc_signed() -> tuple[bytes, dict]:
    key = rsa_key()
    raw = b"Authentication-Results: lists.example.net; dkim=pass header.d=example.com\r\n" + message()
    headers = dkim.arc_sign(raw, b"arc", b"lists.example.net", key.private, b"lists.example.net")
    return b"".join(headers) + raw, {("arc._domainkey.lists.example.net", "TXT"): [key.txt]}


def test_arc_chain_pass_and_fail() -> None:
    raw, records = _arc_signed()
    result = asyncio.run(verify_chain(FakeResolver(records), raw))
    assert result.result == "pass" and result.instances == 1 and result.sealer == "lists.example.net"
    tampered = raw.replace(b"Hi Bob.", b"Hi Eve.")
    assert asyncio.run(verify_chain(FakeResolver(records), tampered)).result == "fail"
    assert asyncio.run(verify_chain(FakeResolver({}), message())).result == "none"
