"""DKIM verification: RSA and Ed25519 signatures made by dkimpy, keys served by FakeResolver."""

from __future__ import annotations

import asyncio

import dkim
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


@pytest.mark.parametrize("odd", [
    b"X-Obs : v\r\n",  # RFC 5322 4.5.8: whitespace before the colon
    b"no colon on this line\r\n",
    b" a continuation before any field\r\n",
    b"Subj\xe9ct: an 8-bit field name\r\n",
    b"From alice@example.com Mon Jan  1 00:00:00 2024\r\n",  # an mbox From_ line
])
def test_odd_header_lines_do_not_stop_verification(odd: bytes) -> None:
    """dkimpy raised MessageFormatError/IndexError on these lines; the MX then answered 451 forever."""
    key = rsa_key()
    signed = sign(message(), "example.com", "s1", key)
    records = key_records("example.com", "s1", key.txt)
    placements = [odd + signed]
    if not odd.startswith(b" "):  # elsewhere a continuation line belongs to the field above it
        placements.append(signed.replace(b"To:", odd + b"To:", 1))
    for raw in placements:
        [result] = verify(raw, records)
        assert result.result == "pass", (odd, result)


def test_a_relaxed_signature_covers_an_obsolete_colon() -> None:
    """Relaxed canonicalization drops the whitespace around the colon (RFC 6376 3.4.2), so a signed
    ``X-Obs : v`` verifies; a simple signature over it cannot (its octets were respelled)."""
    key = rsa_key()
    raw = message().replace(b"To:", b"X-Obs: v\r\nTo:", 1)
    records = key_records("example.com", "s1", key.txt)
    for canon, expected in (((b"relaxed", b"relaxed"), "pass"), ((b"simple", b"simple"), "fail")):
        signature = dkim.sign(raw, b"s1", b"example.com", key.private, canonicalize=canon,
                              include_headers=[b"from", b"x-obs", b"subject"])
        [result] = verify(signature + raw.replace(b"X-Obs: v", b"X-Obs : v"), records)
        assert result.result == expected, canon


@pytest.mark.parametrize(("key_tags", "result"), [
    ("h=sha256", "pass"),
    ("h=sha1:sha256", "pass"),
    ("h=sha1", "permerror"),  # RFC 6376 3.6.1 / 6.1.2: "inappropriate hash algorithm"
    ("h=SHA1 : foo", "permerror"),
    ("t=y", "pass"),
    ("t=s", "permerror"),  # the signature's i= is @mail.example.com, a subdomain of d=
    ("t=y:S", "permerror"),
])
def test_key_record_limits(key_tags: str, result: str) -> None:
    key = rsa_key()
    signature = dkim.sign(message(), b"s1", b"example.com", key.private, identity=b"@mail.example.com",
                          include_headers=[b"from", b"subject"])
    txt = key.txt.replace("k=rsa;", f"k=rsa; {key_tags};")
    [found] = verify(signature + message(), key_records("example.com", "s1", txt))
    assert found.result == result, found


def test_t_s_allows_the_signing_domain_itself() -> None:
    key = rsa_key()
    signature = dkim.sign(message(), b"s1", b"example.com", key.private, identity=b"alice@example.com",
                          include_headers=[b"from", b"subject"])
    txt = key.txt.replace("k=rsa;", "k=rsa; t=s;")
    assert verify(signature + message(), key_records("example.com", "s1", txt))[0].result == "pass"
    unsigned_identity = sign(message(), "example.com", "s1", key)  # no i=: "@d" by default
    assert verify(unsigned_identity, key_records("example.com", "s1", txt))[0].result == "pass"
