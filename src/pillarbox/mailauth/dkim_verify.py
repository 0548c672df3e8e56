"""DKIM verification (RFC 6376, with RFC 8301 crypto updates and RFC 8463 Ed25519) of every signature.

The problem. A signer hashes chosen header fields and (part of) the body, signs the hash with a key
whose public half it publishes at ``<s>._domainkey.<d>``; a verifier recomputes and checks. dkimpy
does the canonicalisation and cryptography well, but it looks keys up with its own DNS code, which
would bypass our resolver (its timeouts, cache, test doubles and, above all, its rule that a DNS
failure is a temporary error and never a verdict). So:

1. Parse the DKIM-Signature fields ourselves, just enough to learn each one's ``d=`` and ``s=``.
2. Fetch every needed key record through our async ``Resolver`` (in parallel).
3. Hand dkimpy a ``dnsfunc`` backed by that dict, and run its CPU work in a worker thread
   (``asyncio.to_thread``) so that RSA never blocks the event loop (ARCHITECTURE principle 1).

Results per signature (RFC 8601 2.7.1 names): ``pass``, ``fail``, ``neutral`` (not a usable
signature: unparseable, missing tags), ``policy`` (verified but refused by our policy),
``temperror`` (key lookup failed temporarily) and ``permerror`` (no key, bad key).

Choices the RFCs leave to us:
- RFC 8301: ``rsa-sha1`` is not accepted (``fail``), RSA keys under 1024 bits are refused
  (``policy``, reason "key too small").
- ``l=`` (RFC 6376 8.2: content may be appended after the signed length). A signature whose ``l=``
  covers the whole canonical body is an ordinary pass. One that covers less still reports ``pass``
  in Authentication-Results (the signed part is genuine), but it is marked ``partial`` and never
  counts toward DMARC alignment: the unsigned tail could be anything an attacker appended.
- Signature timestamps (``x=``) are checked by dkimpy against the wall clock, not our injected one.
- The key record's ``h=`` and ``t=s`` (RFC 6376 3.6.1), which dkimpy ignores, are checked here
  (``key_refusal``): a signature they forbid is ``permerror``.
- dkimpy reads the message through ``dkimpy_input`` (odd header lines it would choke on are dropped
  or respelled), and whatever else it raises on hostile input becomes ``permerror``: a message we
  cannot verify is an unverified message, never a temporary failure that the sender retries forever.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import dkim
from dkim.canonicalization import CanonicalizationPolicy, InvalidCanonicalizationPolicyError

from pillarbox.dns.resolver import DNSTemporaryError, Resolver
from pillarbox.mailauth.dkimpy_input import dkimpy_input
from pillarbox.mime.headers import find_body_start, parse_fields

MIN_RSA_BITS = 1024  # RFC 8301 3.2
MAX_SIGNATURES = 10  # verify at most this many signatures per message (a peer-controlled count)


@dataclass(frozen=True)
class DKIMResult:
    result: str
    domain: str = ""
    selector: str = ""
    algorithm: str = ""
    identity: str = ""
    header_b: str = ""
    """The first characters of b=, to tell signatures apart in Authentication-Results (RFC 6008)."""
    reason: str = ""
    partial: bool = False
    """l= covers less than the body: a pass that must not satisfy DMARC alone."""

    @property
    def counts_for_dmarc(self) -> bool:
        return self.result == "pass" and not self.partial


_TAG = re.compile(rb"\s*([A-Za-z][A-Za-z0-9_]*)\s*=\s*([^;]*)")


def _tags(value: bytes) -> dict[str, bytes]:
    tags: dict[str, bytes] = {}
    for part in value.split(b";"):
        match = _TAG.match(part)
        if match:
            tags.setdefault(match.group(1).decode().lower(), re.sub(rb"\s+", b"", match.group(2)))
    return tags


def signature_fields(message: bytes) -> list[dict[str, bytes]]:
    """The tag lists of the message's DKIM-Signature fields, top first."""
    end = find_body_start(message, 0, len(message))
    return [_tags(value.encode("utf-8", "surrogateescape"))
            for name, value in parse_fields(message, 0, end) if name == "dkim-signature"]


async def fetch_keys(resolver: Resolver, names: set[str]) -> dict[str, list[bytes] | DNSTemporaryError]:
    """TXT records at each name (the value is the error when the lookup failed temporarily)."""

    async def one(name: str) -> list[bytes] | DNSTemporaryError:
        try:
            return await resolver.txt(name)
        except DNSTemporaryError as exc:
            return exc

    names_list = sorted(names)
    found = await asyncio.gather(*(one(name) for name in names_list))
    return dict(zip(names_list, found, strict=True))


def key_name(tags: dict[str, bytes]) -> str | None:
    try:
        return f"{tags['s'].decode('ascii')}._domainkey.{tags['d'].decode('ascii')}".lower()
    except (KeyError, UnicodeDecodeError):
        return None


async def verify_message(resolver: Resolver, message: bytes) -> list[DKIMResult]:
    """Verify every DKIM-Signature (up to MAX_SIGNATURES), top first; [] when there is none."""
    signatures = signature_fields(message)[:MAX_SIGNATURES]
    if not signatures:
        return []
    names = {name for tags in signatures if (name := key_name(tags))}
    keys = await fetch_keys(resolver, names)
    return await asyncio.to_thread(_verify_all, message, signatures, keys)


def _verify_all(
    message: bytes, signatures: list[dict[str, bytes]], keys: dict[str, list[bytes] | DNSTemporaryError]
) -> list[DKIMResult]:
    parseable = dkimpy_input(message)
    return [_verify_one(message, parseable, index, tags, keys) for index, tags in enumerate(signatures)]


def _describe(tags: dict[str, bytes]) -> dict[str, str]:
    def text(name: str) -> str:
        return tags.get(name, b"").decode("ascii", "replace")

    return {"domain": text("d").lower(), "selector": text("s"), "algorithm": text("a").lower(),
            "identity": text("i"), "header_b": text("b")[:8]}


def _verify_one(
    message: bytes, parseable: bytes, index: int, tags: dict[str, bytes],
    keys: dict[str, list[bytes] | DNSTemporaryError],
) -> DKIMResult:
    """One signature; ``parseable`` is the message as dkimpy can read it (``dkimpy_input``)."""
    info = _describe(tags)
    record = _key_record(tags, keys, info)
    if isinstance(record, DKIMResult):
        return record
    verifier = dkim.DKIM(parseable, minkey=MIN_RSA_BITS)
    try:
        ok = verifier.verify(idx=index, dnsfunc=lambda *_args, **_kw: record)
    except dkim.KeyFormatError as exc:
        result = "policy" if "too small" in str(exc) else "permerror"
        return DKIMResult(result, **info, reason=str(exc))
    except dkim.ValidationError as exc:
        result = "fail" if "body hash mismatch" in str(exc) else "neutral"
        return DKIMResult(result, **info, reason=str(exc).split(" (got")[0])
    except dkim.DKIMException as exc:
        return DKIMResult("neutral", **info, reason=str(exc))
    except Exception as exc:  # dkimpy on hostile input: a verdict, never a 451 on every retry
        return DKIMResult("permerror", **info, reason=f"message could not be processed ({type(exc).__name__})")
    if not ok:
        return DKIMResult("fail", **info, reason="signature did not verify")
    if verifier.keysize is not None and verifier.ktag == b"rsa" and verifier.keysize < MIN_RSA_BITS:
        return DKIMResult("policy", **info, reason=f"key too small ({verifier.keysize} bits)")
    partial = _partial_body(message, tags)
    reason = "l= does not cover the whole body" if partial else ""
    return DKIMResult("pass", **info, reason=reason, partial=partial)


def _key_record(
    tags: dict[str, bytes], keys: dict[str, list[bytes] | DNSTemporaryError], info: dict[str, str]
) -> bytes | DKIMResult:
    """The key record to verify with, or the verdict that makes verifying pointless."""
    name = key_name(tags)
    if name is None or not all(t in tags for t in ("v", "a", "b", "bh", "d", "h", "s")):
        return DKIMResult("neutral", **info, reason="signature is missing required tags")
    if info["algorithm"] == "rsa-sha1":
        return DKIMResult("fail", **info, reason="rsa-sha1 is not accepted (RFC 8301)")
    found = keys.get(name, [])
    if isinstance(found, DNSTemporaryError):
        return DKIMResult("temperror", **info, reason=f"key lookup failed: {found}")
    records = [r for r in found if b"p=" in r.replace(b" ", b"")]
    if not records:
        return DKIMResult("permerror", **info, reason=f"no key at {name}")
    record = records[0]
    if re.search(rb"(?:^|;)\s*p\s*=\s*(?:;|$)", record):
        return DKIMResult("permerror", **info, reason="key revoked")
    refusal = key_refusal(tags, _tags(record))
    return DKIMResult("permerror", **info, reason=refusal) if refusal else record


def key_refusal(signature: dict[str, bytes], key: dict[str, bytes]) -> str:
    """Why the key record's own limits (RFC 6376 3.6.1) forbid this signature; "" when they allow it.

    dkimpy ignores both: ``h=`` lists the hash algorithms the key may be used with (6.1.2: a hash
    not listed means "ignore the key record and return PERMFAIL"), and the flag ``t=s`` forbids an
    ``i=`` domain that is a subdomain of ``d=``.
    """
    digest = signature.get("a", b"").lower().rpartition(b"-")[2]
    if "h" in key and digest not in key["h"].lower().split(b":"):
        return f"key record does not allow {digest.decode('ascii', 'replace')} (h=)"
    flags = key.get("t", b"").lower().split(b":")
    identity_domain = signature.get("i", b"").rpartition(b"@")[2].lower()
    if b"s" in flags and "i" in signature and identity_domain != signature.get("d", b"").lower():
        return "key record forbids a subdomain in i= (t=s)"
    return ""


def _partial_body(message: bytes, tags: dict[str, bytes]) -> bool:
    if "l" not in tags:
        return False
    try:
        policy = CanonicalizationPolicy.from_c_value(tags.get("c", b"simple/simple"))
    except InvalidCanonicalizationPolicyError:
        return True
    start = find_body_start(message, 0, len(message))
    body = policy.canonicalize_body(message[start:].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    try:
        return int(tags["l"]) < len(body)
    except ValueError:
        return True

