"""ARC (RFC 8617) chain verification on inbound mail.

ARC lets intermediaries (mailing lists, forwarders) that break DKIM record what they saw: each hop
adds an ARC-Authentication-Results, an ARC-Message-Signature over the message and an ARC-Seal over
the ARC sets so far. We verify the chain with dkimpy's ARC code, fed the keys through our own
resolver exactly as for DKIM (``dkim_verify``): the key names are collected from the ARC-Seal and
ARC-Message-Signature fields, fetched asynchronously, then dkimpy runs in a worker thread with a
dict-backed ``dnsfunc``.

The result (``none``, ``pass``, ``fail``) is recorded in Authentication-Results only. It does not
override a DMARC failure: that needs a list of trusted sealers (RFC 8617 7.2), which we do not have
yet. A key lookup that failed temporarily makes the chain ``fail`` with a reason saying so (the
arc method has no temperror result), and so does a chain dkimpy cannot process: it reads the message
through ``dkimpy_input`` like the DKIM verifier, and anything it still raises is a broken chain.

Sealing on forward (``seal``): when an alias sends a message on to a remote target, the forwarding
domain adds the next ARC set, i = n+1 (RFC 8617 5.1): ARC-Authentication-Results copied from our own
Authentication-Results (authserv-id = our hostname, including its ``arc=`` verdict, which becomes the
seal's ``cv=``), an ARC-Message-Signature over the message and an ARC-Seal over all sets so far.
dkimpy does the RFC work (it needs the ``authres`` package to read our field); we sign with the
forwarding domain's RSA DKIM key (8617 only defines rsa-sha256), relaxed/relaxed, the same header list
as DKIM signing. A message without our Authentication-Results, or whose chain dkimpy refuses to extend
(i > 50, an ``arc=`` result without earlier sets), is returned unchanged.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import dkim

from pillarbox.dns.resolver import DNSTemporaryError, Resolver
from pillarbox.mailauth.dkim_sign import RSA, SIGNED_HEADERS
from pillarbox.mailauth.dkim_verify import MIN_RSA_BITS, fetch_keys, key_name
from pillarbox.mailauth.dkimpy_input import dkimpy_input
from pillarbox.mime.headers import find_body_start, parse_fields
from pillarbox.store.records import DKIMKey

MAX_ARC_SETS = 50  # RFC 8617 4.2.1: i= is at most 50


@dataclass(frozen=True)
class ARCResult:
    result: str
    """none, pass or fail."""
    instances: int = 0
    reason: str = ""
    sealer: str = ""
    """d= of the newest ARC-Seal."""


_TAG = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*)\s*=\s*([^;]*)")


def _tags(value: str) -> dict[str, bytes]:
    tags: dict[str, bytes] = {}
    for part in value.split(";"):
        match = _TAG.match(part)
        if match:
            tags.setdefault(match.group(1).lower(), re.sub(r"\s+", "", match.group(2)).encode("ascii", "replace"))
    return tags


def _arc_tags(message: bytes) -> list[dict[str, bytes]]:
    end = find_body_start(message, 0, len(message))
    return [_tags(value) for name, value in parse_fields(message, 0, end)
            if name in ("arc-seal", "arc-message-signature")]


async def verify_chain(resolver: Resolver, message: bytes) -> ARCResult:
    sets = _arc_tags(message)
    if not sets:
        return ARCResult("none")
    if len(sets) > 2 * MAX_ARC_SETS:
        return ARCResult("fail", reason="too many ARC sets")
    names = {name for tags in sets if (name := key_name(tags))}
    keys = await fetch_keys(resolver, names)
    failed = sorted(n for n, v in keys.items() if isinstance(v, DNSTemporaryError))
    if failed:
        return ARCResult("fail", reason=f"key lookup failed temporarily: {', '.join(failed)}")
    return await asyncio.to_thread(_verify, message, keys)  # type: ignore[arg-type]


def _verify(message: bytes, keys: dict[str, list[bytes]]) -> ARCResult:
    def dnsfunc(name: bytes | str, timeout: float = 5) -> bytes | None:
        text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        records = [r for r in keys.get(text.rstrip(".").lower(), []) if b"p=" in r.replace(b" ", b"")]
        return records[0] if records else None

    try:
        cv, results, reason = dkim.arc_verify(dkimpy_input(message), dnsfunc=dnsfunc, minkey=MIN_RSA_BITS)
    except Exception as exc:  # dkimpy on hostile input (IndexError...): a broken chain, never a 451
        return ARCResult("fail", reason=f"chain could not be processed ({type(exc).__name__})")
    sealer = ""
    if results:
        newest = max(results, key=lambda r: r.get("instance", 0))
        sealer = (newest.get("as-domain") or b"").decode("ascii", "replace")
    if cv == dkim.CV_Pass:
        return ARCResult("pass", len(results), "", sealer)
    if cv == dkim.CV_None:
        return ARCResult("none", 0, reason)
    return ARCResult("fail", len(results), reason, sealer)


def seal(message: bytes, key: DKIMKey, authserv_id: str, timestamp: int | None = None) -> bytes:
    """``message`` with the next ARC set prepended (unchanged when there is nothing to seal)."""
    if key.algorithm != RSA:
        raise ValueError("ARC seals are rsa-sha256 only (RFC 8617 4.1.3)")
    end = find_body_start(message, 0, len(message))
    present = {name for name, _ in parse_fields(message, 0, end)}
    headers = [h for h in SIGNED_HEADERS if h.decode() in present] or [b"from"]
    if b"from" not in headers:
        headers.append(b"from")  # dkimpy insists on signing From, even a missing one
    arc_set = dkim.arc_sign(
        message, key.selector.encode(), key.domain.encode(), key.private_key.encode(), authserv_id.encode(),
        include_headers=headers, timestamp=timestamp, linesep=b"\r\n",
    )
    return b"".join(arc_set) + message


async def seal_message(message: bytes, keys: list[DKIMKey], authserv_id: str) -> bytes:
    """Seal with the first RSA key of ``keys`` in a worker thread (RSA is CPU work)."""
    usable = [k for k in keys if k.algorithm == RSA]
    if not usable:
        return message
    return await asyncio.to_thread(seal, message, usable[0], authserv_id)
