"""Hostile header blocks against the DKIM and ARC verifiers: only verdicts come out, never an exception
(an exception became 451 4.3.0 on every retry, so the message never arrived)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import lru_cache

import dkim
from hypothesis import given, settings
from hypothesis import strategies as st

from pillarbox.dns.fake import FakeResolver
from pillarbox.mailauth.arc import seal, verify_chain
from pillarbox.mailauth.dkim_sign import RSA, dns_value, generate_keys
from pillarbox.mailauth.dkim_sign import sign as sign_with
from pillarbox.mailauth.dkim_verify import verify_message
from pillarbox.mailauth.dkimpy_input import dkimpy_input
from pillarbox.mime.headers import find_body_start, parse_fields
from pillarbox.store.records import DKIMKey
from tests.mailauth.keys import message, rsa_key, sign

SEALER = "relay.test"
DKIM_RESULTS = {"pass", "fail", "neutral", "policy", "temperror", "permerror"}


@lru_cache(maxsize=1)
def sealing_key() -> DKIMKey:
    return next(k for k in generate_keys(SEALER, now=1_700_000_000) if k.algorithm == RSA)


def resolver() -> FakeResolver:
    key = sealing_key()
    return FakeResolver({("s1._domainkey.example.com", "TXT"): [rsa_key().txt],
                         (f"{key.selector}._domainkey.{SEALER}", "TXT"): [dns_value(key)]})


@lru_cache(maxsize=1)
def sealed() -> bytes:
    """A DKIM-signed message with one ARC set, as a list would forward it."""
    results = b"Authentication-Results: relay.test; dkim=pass header.d=example.com\r\n"
    return seal(results + sign(message(), "example.com", "s1", rsa_key()), sealing_key(), SEALER)


def verdicts(raw: bytes) -> tuple[list[str], str]:
    async def both() -> tuple[list[str], str]:
        found = resolver()
        return [r.result for r in await verify_message(found, raw)], (await verify_chain(found, raw)).result

    return asyncio.run(both())


def test_the_sealed_message_verifies() -> None:
    assert verdicts(sealed()) == (["pass"], "pass")


def test_odd_lines_leave_dkim_and_arc_passing() -> None:
    odd = b"X-Obs : v\r\nthis line has no colon\r\n"
    assert verdicts(b" leading continuation\r\n" + odd + sealed()) == (["pass"], "pass")


def test_an_arc_message_signature_without_space_is_a_broken_chain_not_a_crash() -> None:
    """dkimpy looks the AMS up by " i=1;" and indexes [0]: IndexError on "ARC-Message-Signature:i=1;"."""
    broken = sealed().replace(b"ARC-Message-Signature: i=1;", b"ARC-Message-Signature:i=1;")
    dkim_results, arc = verdicts(broken)
    assert dkim_results == ["pass"] and arc == "fail"


# Header lines a hostile or broken sender can produce: obsolete and junk syntax, 8-bit bytes, stray
# continuations, and the fields the verifiers read, with garbled tag lists.
_NAMES = st.sampled_from([b"DKIM-Signature", b"ARC-Seal", b"ARC-Message-Signature", b"ARC-Authentication-Results",
                          b"From", b"To", b"X-Obs", b"Subj\xe9ct", b"", b" ", b"From "])
_VALUES = st.one_of(
    st.binary(max_size=60),
    st.lists(st.sampled_from([b"v=1", b"i=1", b"i=0", b"i=99", b"a=rsa-sha256", b"a=ed25519-sha256", b"cv=pass",
                              b"cv=none", b"d=example.com", b"s=s1", b"h=from:to", b"h=", b"bh=AAAA", b"b=", b"b=AAAA",
                              b"c=relaxed/simple", b"l=5", b"l=x", b"", b"=", b"x"]), max_size=9)
    .map(b";".join),
)
_LINE = st.one_of(
    st.tuples(_NAMES, st.sampled_from([b":", b" :", b"\t:", b""]), _VALUES).map(b"".join),
    _VALUES.map(lambda v: b" " + v),
    st.binary(max_size=40),
)
_EOL = st.sampled_from([b"\r\n", b"\n", b"\r\r\n"])


@st.composite
def header_blocks(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(st.tuples(_LINE, _EOL), max_size=12))
    return b"".join(line.replace(b"\n", b"") + eol for line, eol in lines)


@settings(max_examples=150, deadline=None)
@given(header_blocks(), st.sampled_from(["prepend", "after the seal", "alone"]))
def test_arbitrary_header_blocks_give_verdicts(block: bytes, where: str) -> None:
    base = sealed()
    raw = {"prepend": block + base, "after the seal": base.replace(b"From:", block + b"From:", 1),
           "alone": block + b"\r\nbody\r\n"}[where]
    dkim_results, arc = verdicts(raw)
    assert set(dkim_results) <= DKIM_RESULTS
    assert arc in ("none", "pass", "fail")


@settings(max_examples=300, deadline=None)
@given(header_blocks(), st.binary(max_size=40))
def test_dkimpy_input_parses_and_keeps_the_body_and_our_fields(block: bytes, body: bytes) -> None:
    raw = block + b"\r\n" + body
    cleaned = dkimpy_input(raw)
    dkim.rfc822_parse(cleaned)  # raises on any line dkimpy refuses
    assert dkimpy_input(cleaned) == cleaned
    start, cleaned_start = find_body_start(raw, 0, len(raw)), find_body_start(cleaned, 0, len(cleaned))
    assert cleaned[cleaned_start:] == raw[start:]
    assert [name for name, _ in parse_fields(cleaned, 0, cleaned_start)] == \
        [name for name, _ in parse_fields(raw, 0, start)]


def _unchanged(make: Callable[[], bytes]) -> None:
    raw = make()
    assert dkimpy_input(raw) is raw


def test_a_well_formed_message_is_passed_as_is() -> None:
    _unchanged(sealed)
    _unchanged(message)


def test_signing_a_message_with_odd_lines_gives_a_signature_that_verifies() -> None:
    """dkimpy's signer raised MessageFormatError on these lines (the mail went out unsigned) and
    IndexError on a leading continuation (which escaped the submission)."""
    key = next(k for k in generate_keys("example.com", now=1_700_000_000) if k.algorithm == RSA)
    raw = b"X-Obs : v\r\nno colon\r\n" + message()
    signed = sign_with(raw, [key])
    assert signed.endswith(raw) and signed.startswith(b"DKIM-Signature:")
    found = FakeResolver({(f"{key.selector}._domainkey.example.com", "TXT"): [dns_value(key)]})
    assert [r.result for r in asyncio.run(verify_message(found, signed))] == ["pass"]
    # a leading continuation line continues whatever field is put above it: signing just must not raise
    assert sign_with(b" stray continuation\r\n" + message(), [key]).startswith(b"DKIM-Signature:")
