"""Sender Rewriting Scheme: forward mail to another domain without failing SPF, and route its bounces back.

The problem: we forward alice@origin.example's message to bob@dest.example. If we keep MAIL FROM
<alice@origin.example>, dest checks origin's SPF record against *our* IP and it fails. If we put our
own address there instead, bounces come to us and the real sender never learns of them, and we have
built a way to launder any sender through us. SRS (Shevek's scheme, as in libsrs2 and Postfix's
postsrsd) writes the original sender into a local part of our domain, signed and dated:

    SRS0=HHHHHH=TT=origin.example=alice@forwarder.example

``TT`` is the day (days since the epoch, modulo 1024, two base32 characters) and ``HHHHHH`` the start
of an HMAC-SHA256 over day, domain and local part with a secret only this server knows, in base32
so that an MTA folding the local part to lower case does not break it (compared case-insensitively).
A bounce to such an address is accepted only when the hash is right and the day is at most
``max_age_days`` old: a forged or replayed address is refused, and we are no open relay.

An address that is already SRS0 from another forwarder is simply wrapped again (its local part keeps
its own hash for that forwarder to check when the bounce reaches it). The null sender is never
rewritten: a bounce being forwarded stays a bounce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from pillarbox.errors import PillarboxError

PREFIX = "SRS0"
HASH_LENGTH = 6
DAY = 86400
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
MAX_AGE_DAYS = 21  # libsrs2's default


class SRSError(PillarboxError):
    """Not an SRS address of ours, or forged, or too old."""


def _day(now: float) -> str:
    day = int(now // DAY) % 1024
    return _ALPHABET[day >> 5] + _ALPHABET[day & 31]


def _hash(secret: bytes, day: str, domain: str, local: str) -> str:
    digest = hmac.new(secret, f"{day.upper()}={domain.lower()}={local.lower()}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:HASH_LENGTH]


def is_srs(address: str) -> bool:
    return address[:5].upper() == PREFIX + "="


def forward(sender: str, domain: str, secret: bytes, now: float | None = None) -> str:
    """The envelope sender for a copy of mail from ``sender`` that we send on from ``domain``."""
    if not sender:
        return sender
    local, at, origin = sender.rpartition("@")
    if not at or not local:
        raise SRSError(f"cannot rewrite sender {sender!r}")
    day = _day(time.time() if now is None else now)
    return f"{PREFIX}={_hash(secret, day, origin, local)}={day}={origin}={local}@{domain}"


def reverse(address: str, secret: bytes, now: float | None = None, max_age_days: int = MAX_AGE_DAYS) -> str:
    """The original sender hidden in our SRS0 ``address``, or SRSError."""
    local = address.rpartition("@")[0]
    parts = local.split("=", 4)
    if len(parts) != 5 or parts[0].upper() != PREFIX:
        raise SRSError("not an SRS0 address")
    _, given_hash, day, origin, original_local = parts
    if not origin or not original_local or len(day) != 2 or any(c not in _ALPHABET for c in day.upper()):
        raise SRSError("malformed SRS0 address")
    expected = _hash(secret, day, origin, original_local)
    if not hmac.compare_digest(given_hash.upper().encode(), expected.encode()):
        raise SRSError("SRS0 hash does not match (forged)")
    today = int((time.time() if now is None else now) // DAY) % 1024
    stamped = _ALPHABET.index(day[0].upper()) << 5 | _ALPHABET.index(day[1].upper())
    if (today - stamped) % 1024 > max_age_days:
        raise SRSError("SRS0 address expired")
    return f"{original_local}@{origin}"
