"""DKIM signing (RFC 6376) with two keys per domain, Ed25519 and RSA-2048 (RFC 8463 dual signing).

The problem: receivers (and DMARC) trust mail from a domain only if it carries a valid signature by
that domain. Ed25519 signatures are small and fast but not every verifier knows them yet (RFC 8463
3 suggests signing with both), and RSA keys must be at least 1024 bits (RFC 8301); we use 2048.
Each key has a selector; the public half is published at ``<selector>._domainkey.<domain>`` (see
``pillarbox dns``). Rotation makes a new pair with new selectors and retires the old ones (they
stay in the store so their DNS records can be kept until mail signed with them has been read).

We sign a fixed list of headers, relaxed/relaxed canonicalization (survives benign re-folding), and
the whole body. dkimpy does the RFC work; this module owns keys and the choice of parameters.
Signing is CPU work (RSA), so the async entry point runs it in a thread.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from pillarbox.mailauth.dkimpy_input import dkimpy_input
from pillarbox.obs import get_logger, log_event
from pillarbox.store.records import DKIMKey

log = get_logger("dkim")

RSA = "rsa-sha256"
ED25519 = "ed25519-sha256"
SIGNED_HEADERS = (
    b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"reply-to", b"in-reply-to", b"references",
    b"mime-version", b"content-type", b"content-transfer-encoding", b"list-id", b"list-unsubscribe",
)
_DKIM_D = re.compile(rb"(?im)^DKIM-Signature:(?:[^\r\n]|\r?\n[ \t])*?\bd=([^;\s]+)")


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"


def generate_keys(domain: str, now: int | None = None) -> list[DKIMKey]:
    """A new Ed25519 and RSA-2048 pair for ``domain`` with fresh selectors (``pb<time>e`` / ``pb<time>r``)."""
    now = int(time.time()) if now is None else now
    stamp = _base36(now)
    ed = ed25519.Ed25519PrivateKey.generate()
    ed_seed = ed.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                               serialization.NoEncryption())
    ed_public = ed.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_pem = rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption())
    rsa_public = rsa_key.public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    return [
        DKIMKey(domain, f"pb{stamp}e", ED25519, base64.b64encode(ed_seed).decode(),
                base64.b64encode(ed_public).decode(), True, now),
        DKIMKey(domain, f"pb{stamp}r", RSA, rsa_pem.decode(), base64.b64encode(rsa_public).decode(), True, now),
    ]


def dns_value(key: DKIMKey) -> str:
    """The TXT value to publish at ``<selector>._domainkey.<domain>``."""
    kind = "ed25519" if key.algorithm == ED25519 else "rsa"
    return f"v=DKIM1; k={kind}; p={key.public_key}"


def signed_by(message: bytes, domain: str) -> bool:
    """Does the message already carry a DKIM-Signature with d=domain (so we do not sign twice)?"""
    return any(d.decode(errors="replace").lower() == domain.lower() for d in _DKIM_D.findall(_header(message)))


def _header(message: bytes) -> bytes:
    end = message.find(b"\r\n\r\n")
    return message if end < 0 else message[:end + 2]


def sign(message: bytes, keys: list[DKIMKey]) -> bytes:
    """The message with one DKIM-Signature per key prepended (Ed25519 first, then RSA)."""
    present = {h.split(b":", 1)[0].strip().lower() for h in re.split(rb"\r\n(?![ \t])", _header(message)) if h}
    headers = [h for h in SIGNED_HEADERS if h in present] or [b"from"]
    # dkimpy raises on odd header lines (IndexError on a leading continuation): it signs the view that
    # verifiers read; relaxed canonicalization makes the respelled fields hash as the sent ones do
    parseable = dkimpy_input(message)
    signatures = b""
    for key in sorted(keys, key=lambda k: k.algorithm != ED25519):
        signatures += dkim.sign(
            parseable, key.selector.encode(), key.domain.encode(), key.private_key.encode(),
            canonicalize=(b"relaxed", b"relaxed"), include_headers=headers, linesep=b"\r\n",
            signature_algorithm=key.algorithm.encode(),
        )
    return signatures + message


class DKIMSigner:
    """Signs submitted mail with the sender domain's active keys; creates keys on first use."""

    def __init__(self, store: object, create_missing: bool = True) -> None:
        self.store = store
        self.create_missing = create_missing

    async def keys(self, domain: str) -> list[DKIMKey]:
        keys = await self.store.dkim_keys(domain)  # type: ignore[attr-defined]
        if not keys and self.create_missing and await self.store.has_domain(domain):  # type: ignore[attr-defined]
            keys = await ensure_keys(self.store, domain)
        return list(keys)

    async def sign(self, message: bytes, sender: str) -> bytes:
        """``message`` signed for the sender's domain if it is ours and not signed by it yet."""
        return await self.sign_for_domain(message, sender.rpartition("@")[2].lower())

    async def sign_for_domain(self, message: bytes, domain: str) -> bytes:
        """``message`` signed with ``domain``'s keys if it is ours and has not signed it yet."""
        if not domain or signed_by(message, domain):
            return message
        keys = await self.keys(domain)
        if not keys:
            return message
        try:
            return await asyncio.to_thread(sign, message, keys)
        except dkim.DKIMException as exc:
            # e.g. no From: header (RFC 6376 5.4 requires signing it): the message still goes out,
            # unsigned, rather than failing the submission or sticking in the queue for ever
            log_event(log, "warning", "DKIM signing failed; sending unsigned", domain=domain, error=str(exc))
            return message


async def ensure_keys(store: object, domain: str) -> list[DKIMKey]:
    """The domain's active keys, generating a pair if it has none (``domain add`` calls this)."""
    keys = await store.dkim_keys(domain)  # type: ignore[attr-defined]
    if keys:
        return list(keys)
    return await rotate(store, domain)


async def rotate(store: object, domain: str) -> list[DKIMKey]:
    """Retire the domain's active keys and make a new pair; returns the new keys."""
    new = await asyncio.to_thread(generate_keys, domain.lower())
    existing = {k.selector for k in await store.dkim_keys(domain, active_only=False)}  # type: ignore[attr-defined]
    if any(k.selector in existing for k in new):  # two rotations in one second
        await asyncio.sleep(1.1)
        new = await asyncio.to_thread(generate_keys, domain.lower())
    await store.retire_dkim_keys(domain)  # type: ignore[attr-defined]
    for key in new:
        await store.add_dkim_key(key)  # type: ignore[attr-defined]
    return new
