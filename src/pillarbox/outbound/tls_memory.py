"""TLS that never downgrades: each destination domain is held to the best TLS it was ever seen with.

Opportunistic TLS (RFC 7435) takes what the peer offers, so an attacker on the path who strips STARTTLS
from the EHLO reply, or answers with a certificate of its own, gets the mail in clear or for itself.
DANE and MTA-STS close that for domains that publish them; for the rest, remember (per domain, in the
store) the best seen so far — none, TLS with a certificate we could not verify, TLS verified for the MX
name under our trust store — and ask at least that of every later connection (as chasquid does):

- never seen with TLS: try verifying the certificate; if it does not verify, take TLS unverified (and
  plaintext if the peer offers no STARTTLS), as opportunistic TLS always did;
- seen unverified: STARTTLS must be offered and the handshake succeed;
- seen verified: the certificate must verify for the MX host name.

A connection that offers less is not used: the mail is deferred (it goes out once the peer is whole
again), the failure counted for TLS-RPT and logged. A genuine change of the peer's setup is accepted
with ``pillarbox tls forget DOMAIN``. Domains with DANE or MTA-STS keep their own, stricter policy and
only add to the memory; a smarthost route is configured TLS and is not remembered.
"""

from __future__ import annotations

from typing import Protocol

from pillarbox.outbound.connect import Session
from pillarbox.outbound.tlspolicy import HostPolicy

NONE, UNVERIFIED, VERIFIED = 0, 1, 2
LEVEL_NAMES = {NONE: "none", UNVERIFIED: "unverified", VERIFIED: "verified"}
VERIFYING = frozenset({"dane", "sts", "sts-testing", "requiretls", "tls-pinned", "probe"})
"""Policies whose TLS, when the session has it, was verified (a failed verification falls back to an
``opportunistic`` session, so the kind tells what was had)."""
GUARDS = frozenset({"tls-seen", "tls-pinned"})


class TLSMemory(Protocol):
    async def tls_seen(self, domain: str) -> int: ...
    async def raise_tls_seen(self, domain: str, level: int) -> None: ...


def guarded(policy: HostPolicy, seen: int) -> HostPolicy:
    """The policy for a host of a domain last seen with ``seen``: only an opportunistic one changes."""
    if policy.kind != "opportunistic":
        return policy
    kind = "tls-pinned" if seen >= VERIFIED else "tls-seen" if seen == UNVERIFIED else "probe"
    return HostPolicy(kind, policy.policy_domain)


def achieved(session: Session) -> int:
    """The TLS a session has."""
    if session.client.tls is None:
        return NONE
    return VERIFIED if session.policy.kind in VERIFYING else UNVERIFIED
