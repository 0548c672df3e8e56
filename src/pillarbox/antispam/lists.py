"""Per-user allow and block lists: which entry decides for a sender, before any filter runs.

An entry is an address (``alice@example.com``) or a domain (``example.com``, also written
``@example.com``), which covers its subdomains too. The sender is every From: address and the
envelope sender (MAIL FROM). The most specific matching entry wins (an address over a domain, a
longer domain over a shorter one); where an allow and a block entry are equally specific, block wins.

A block entry always sends the message to Junk. An allow entry keeps it out of Junk, but only when the
message did not fail sender authentication (DMARC, or SPF where the domain has no DMARC policy): anyone
can write a friend's address in From:, and a list that a forger could use would be an open door.
Addresses the user sent mail to are allowed automatically (``source = sent``); the user's own entries
always take precedence over those.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pillarbox.address import AddressError, normalize_address, normalize_domain

ALLOW, BLOCK = "allow", "block"
ACTIONS = (ALLOW, BLOCK)
CORRESPONDENTS_KEPT = 5000
"""Remembered correspondents per user (the most recent); a user's own entries are not counted."""


def normalize_pattern(text: str) -> str:
    """An entry as stored: a lower-case address or domain. Raises ValueError with a one-line reason."""
    text = text.strip()
    try:
        if "@" in text.lstrip("@"):
            return normalize_address(text).lower()
        return normalize_domain(text.lstrip("@"))
    except AddressError:
        raise ValueError(f"not an address or a domain: {text!r}") from None


def candidates(address: str) -> list[str]:
    """The entries that could match ``address``, most specific first: itself, its domain, each parent."""
    address = address.strip().lower()
    if "@" not in address:
        return []
    domain = address.rpartition("@")[2].rstrip(".")
    labels = domain.split(".")
    return [address] + [".".join(labels[i:]) for i in range(len(labels)) if labels[i]]


def decide(rules: Mapping[str, str], senders: Iterable[str]) -> tuple[str, str] | None:
    """(action, matching entry) of the most specific entry for any of ``senders``; block on a tie."""
    matches = [pattern for sender in senders
               if (pattern := next((p for p in candidates(sender) if p in rules), None)) is not None]
    if not matches:
        return None
    best = max(matches, key=lambda p: ("@" in p, p.count("."), rules[p] == BLOCK))
    return rules[best], best
