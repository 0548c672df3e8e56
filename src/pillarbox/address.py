"""Mail address normalisation shared by every floor: how two spellings of one address compare equal.

Domains are case-insensitive (RFC 5321 2.4) and may arrive as A-labels (xn--) or U-labels; we keep
the lowercase U-label form. Local parts are case-sensitive in theory, but every mainstream server
treats them case-insensitively and users expect it, so Pillarbox folds them too. Sub-addressing
(``user+tag``) is resolved by the directory, not here.
"""

from __future__ import annotations

import re

from pillarbox.errors import PillarboxError

_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9\u00a0-\U0010ffff-]{1,63}(?<!-)$")


class AddressError(PillarboxError):
    """A malformed address or domain name."""


def normalize_domain(domain: str) -> str:
    domain = domain.strip().rstrip(".").lower()
    if not domain or len(domain) > 253:
        raise AddressError(f"invalid domain name: {domain!r}")
    labels = domain.split(".")
    decoded = []
    for label in labels:
        if label.startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except UnicodeError as exc:
                raise AddressError(f"invalid domain name: {domain!r}") from exc
        if not _DOMAIN_LABEL.match(label):
            raise AddressError(f"invalid domain name: {domain!r}")
        decoded.append(label)
    return ".".join(decoded)


def split_address(address: str) -> tuple[str, str]:
    """Split ``local@domain`` into its normalised parts; the local part may be quoted."""
    local, sep, domain = address.strip().rpartition("@")
    if not sep or not local or len(local) > 64 or any(c in local for c in "\r\n\0"):
        raise AddressError(f"invalid address: {address!r}")
    if local.startswith('"') != local.endswith('"') or (not local.startswith('"') and " " in local):
        raise AddressError(f"invalid address: {address!r}")
    return local.lower(), normalize_domain(domain)


def normalize_address(address: str) -> str:
    local, domain = split_address(address)
    return f"{local}@{domain}"
