"""DKIM verification: RSA and Ed25519 signatures made by dkimpy, keys served by FakeResolver."""

from __future__ import annotations

import asyncio

import pytest

from pillarbox.dns.fake import TEMPFAIL, FakeResolver
from pillarbox.mailauth.dkim_verify import verify_message
from tests.mailauth.keys import ed25519_key, message, rsa_key, sign


def verify(raw: bytes, records: dict) -> list:
    return asyncio.run(verify_message(FakeResolver(records), raw))


def key_records(domain: str, selector: str, txt: str) -> dict:
    return {(f"{selector}._domainkey.{domain}", "TXT"): [txt]}


@pytest.mark.parametrize("canon", [(b"relaxed", b"relaxed"), (b"simple", b"simple"), (b"relaxed", b"simple")])
def test_rsa_pass(canon: tuple[bytes, bytes]) -> None:
    key = rsa_key()
    raw = sign(message(), "example.com", "s1", key, canonicalize=canon)
    [result] = verify(raw, key_records("example.com", "s1", key.txt))
    assert result.result == "pass" and result.domain == "example.com" and result.selector == "s1"
    assert result.counts_for_dmarc


def test_ed25519_pass_and_both_signatures() -> None:
    rsa, ed = rsa_key(), ed25519_key()
    raw = sign(sign(message(), "example.com", "rsa", rsa), "example.com", "ed", ed)
    records = {**key_records("example.com", "rsa", rsa.txt), **key_records("example.com", "ed", ed.txt)}
    results = verify(raw, records)
    assert [(r.result, r.algorithm) for r in results] == [("pass", "ed25519-sha256"), ("pass", "rsa-sha256")]


def test_modified_body_fails() -> None:
    key = rsa_key()
    raw = sign(message(), "example.com", "s1", key).replace(b"Hi Bob.", b"Hi Eve.")
    [result] = verify(raw, key_records("example.com", "s1", key.txt))
    assert result.result == "fail"


def test_modified_header_fails_ed25519() -> None:
    key = ed25519_key()
    raw = sign(message(), "example.com", "ed", key).replace(b"Subject: Hello", b"Subject: Pay now")
    [result] = verify(raw, key_records("example.com", "ed", key.txt))
    assert result.result == "fail"


def test_relaxed_survives_whitespace_changes() -> None:
    key = rsa_key()
    raw = sign(message(), "example.com", "s1", key).replace(b"Subject: Hello", b"Subject:   Hello")
    assert verify(raw, key_records("example.com", "s1", key.txt))[0].result == "pass"


def test_missing_key_is_permerror_and_servfail_is_temperror() -> None:
    key = rsa_key()
    raw = sign(message(), "example.com", "s1", key)
    assert verify(raw, {})[0].result == "permerror"
    assert verify(raw, {("s1._domainkey.example.com", "TXT"): TEMPFAIL})[0].result == "temperror"
    assert verify(raw, key_records("example.com", "s1", "v=DKIM1; p="))[0].result == "permerror"


def test_small_rsa_key_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # cryptography will not make a key under 1024 bits: raise the floor instead of lowering the key
    monkeypatch.setattr("pillarbox.mailauth.dkim_verify.MIN_RSA_BITS", 4096)
    key = rsa_key()
    raw = sign(message(), "example.com", "s1", key)
    [result] = verify(raw, key_records("example.com", "s1", key.txt))
    assert result.result in ("policy", "permerror") and not result.counts_for_dmarc


def test_rsa_sha1_refused() -> None:
    key = rsa_key()
    raw = sign(message(), "example.com", "s1", key, algorithm=b"rsa-sha1")
    [result] = verify(raw, key_records("example.com", "s1", key.txt))
    assert result.result == "fail" and "8301" in result.reason


def test_length_tag_covering_part_of_body() -> None:
    key = rsa_key()
    raw = sign(message(), "example.com", "s1", key, length=True)
    records = key_records("example.com", "s1", key.txt)
    [whole] = verify(raw, records)
    assert whole.result == "pass" and whole.counts_for_dmarc
    appended = raw + b"Click http://evil.test/\r\n"
    [partial] = verify(appended, records)
    assert partial.result == "pass" and partial.partial and not partial.counts_for_dmarc


def test_unsigned_message() -> None:
    assert verify(message(), {}) == []


def test_garbage_signature_is_neutral() -> None:
    raw = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com\r\n" + message()
    [result] = verify(raw, {})
    assert result.result == "neutral"
