"""ARC sealing on forward (RFC 8617): the set we add verifies with dkimpy and with our own chain check."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import dkim
import pytest

from pillarbox.dns.fake import FakeResolver
from pillarbox.mailauth.arc import seal, seal_message, verify_chain
from pillarbox.mailauth.dkim_sign import RSA, dns_value, generate_keys
from pillarbox.mailauth.spf import SPFResult, SPFVerdict
from pillarbox.policy.inbound import InboundPolicy, SenderCheck
from pillarbox.store.records import DKIMKey
from tests.mailauth.keys import message, rsa_key, sign

HOST = "mx.forward.test"


@lru_cache(maxsize=2)
def key(domain: str = "forward.test") -> DKIMKey:
    return next(k for k in generate_keys(domain, now=1_700_000_000) if k.algorithm == RSA)


def zone(*keys: DKIMKey) -> FakeResolver:
    records: dict[tuple[str, str], object] = {
        ("s1._domainkey.example.com", "TXT"): [rsa_key().txt],
        ("_dmarc.example.com", "TXT"): ["v=DMARC1; p=reject"],
    }
    for k in keys:
        records[(f"{k.selector}._domainkey.{k.domain}", "TXT")] = [dns_value(k)]
    return FakeResolver(records)


async def received(resolver: FakeResolver, raw: bytes, host: str = HOST) -> bytes:
    """What accept.py holds for the queue: our Authentication-Results on top of the message."""
    spf = SPFVerdict(SPFResult.PASS, "example.com", "mailfrom")
    evaluation = await InboundPolicy(resolver, host).evaluate(raw, SenderCheck("192.0.2.1", "mail.example.com",
                                                                               "alice@example.com", spf))
    return evaluation.header + raw


def _dnsfunc(resolver: FakeResolver) -> Callable[..., bytes | None]:
    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        values = resolver.records.get((name.decode().rstrip(".").lower(), "TXT"), [])
        return values[0].encode() if values else None  # type: ignore[index]

    return lookup


def test_first_seal_verifies(run: Callable[..., object]) -> None:
    resolver = zone(key())
    raw = sign(message(), "example.com", "s1", rsa_key())
    held = run(received(resolver, raw))
    sealed = seal(held, key(), HOST)  # type: ignore[arg-type]
    assert sealed.startswith(b"ARC-Seal: i=1;")
    assert b"ARC-Message-Signature: i=1;" in sealed and b"ARC-Authentication-Results: i=1; " + HOST.encode() in sealed
    assert b"cv=none" in sealed and b"d=forward.test" in sealed
    cv, _, reason = dkim.arc_verify(sealed, dnsfunc=_dnsfunc(resolver))
    assert cv == dkim.CV_Pass, reason
    assert run(verify_chain(resolver, sealed)).result == "pass"  # type: ignore[attr-defined]
    # the original DKIM signature still verifies: sealing only prepends
    assert dkim.verify(sealed, dnsfunc=_dnsfunc(resolver))


def test_second_hop_extends_the_chain(run: Callable[..., object]) -> None:
    other = key("second.test")
    resolver = zone(key(), other)
    raw = sign(message(), "example.com", "s1", rsa_key())
    first = seal(run(received(resolver, raw)), key(), HOST)  # type: ignore[arg-type]
    # the next hop evaluates (arc=pass lands in its Authentication-Results) and seals i=2
    second = seal(run(received(resolver, first, "mx.second.test")), other, "mx.second.test")  # type: ignore[arg-type]
    assert second.startswith(b"ARC-Seal: i=2; cv=pass;")
    cv, results, reason = dkim.arc_verify(second, dnsfunc=_dnsfunc(resolver))
    assert cv == dkim.CV_Pass, reason
    assert len(results) == 2
    assert run(verify_chain(resolver, second)).result == "pass"  # type: ignore[attr-defined]


def test_nothing_to_seal_without_our_results(run: Callable[..., object]) -> None:
    raw = message()
    assert seal(raw, key(), HOST) == raw
    # another host's Authentication-Results is not ours to copy
    foreign = b"Authentication-Results: elsewhere.test; spf=pass smtp.mailfrom=example.com\r\n" + raw
    assert seal(foreign, key(), HOST) == foreign
    ed25519 = next(k for k in generate_keys("forward.test") if k.algorithm != RSA)
    assert run(seal_message(raw, [ed25519], HOST)) == raw
    with pytest.raises(ValueError):
        seal(raw, ed25519, HOST)
