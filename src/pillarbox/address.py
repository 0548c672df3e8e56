"""Mail address normalisation shared by every floor: how two spellings of one address compare equal.

Domains are case-insensitive (RFC 5321 2.4) and may arrive as A-labels (xn--) or U-labels; we keep
the lowercase U-label form. Local parts are case-sensitive in theory, but every mainstream server
treats them case-insensitively and users expect it, so Pillarbox folds them too. Sub-addressing
(``user+tag``) is resolved by the directory, not here.

Two strengths: ``normalize_address`` compares an address already in use (a lookup must still find
what an older version stored), while ``mailbox_address`` admits a new one (a user, an alias, a
target, a grant, a forwarding address): RFC 5321 4.1.2's Mailbox, with RFC 6531 3.3's UTF-8, so
that ``<b>x</b>@example.com`` can never become an account.
"""

from __future__ import annotations

import re

from pillarbox.errors import PillarboxError

_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9\u00a0-\U0010ffff-]{1,63}(?<!-)$")
UTF8_NON_ASCII = "\u0080-\U0010ffff"  # RFC 6531 3.3, as decoded code points
ATEXT = r"A-Za-z0-9!#$%&'*+\-/=?^_`{|}~"  # RFC 5322 3.2.3
QTEXT_SMTP = r"\x20\x21\x23-\x5b\x5d-\x7e"  # RFC 5321 4.1.2: %d32-33 / %d35-91 / %d93-126
# Dot-string = Atom *("."  Atom) ; Atom = 1*atext (RFC 6531: atext =/ UTF8-non-ascii)
DOT_STRING = re.compile(rf"[{ATEXT}{UTF8_NON_ASCII}]+(?:\.[{ATEXT}{UTF8_NON_ASCII}]+)*")
# Quoted-string = DQUOTE *QcontentSMTP DQUOTE ; QcontentSMTP = qtextSMTP / quoted-pairSMTP
QUOTED_STRING = re.compile(rf'"(?:[{QTEXT_SMTP}{UTF8_NON_ASCII}]|\\[\x20-\x7e])*"')
MAX_LOCAL_PART = 64  # RFC 5321 4.5.3.1.1, in octets


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


def mailbox_address(address: str) -> str:
    """A new address held to RFC 5321's ``Mailbox = Local-part "@" Domain``, normalised.

    ``Local-part = Dot-string / Quoted-string`` (4.1.2), at most 64 octets (4.5.3.1.1); the domain
    as ``normalize_domain`` wants it (an address-literal names no domain we could serve or reach
    by MX, so it is refused too). Raises AddressError naming what is wrong.
    """
    text = address.strip()
    local, sep, domain = text.rpartition("@")
    pattern = QUOTED_STRING if local.startswith('"') else DOT_STRING
    if not sep or not pattern.fullmatch(local):
        raise AddressError(f"not a mail address (RFC 5321: local-part@domain, the local part of letters, digits,"
                           f" !#$%&'*+-/=?^_`{{|}}~ and dots, or quoted): {text!r}")
    local = local.lower()  # the limit holds for what is kept: lower case can be longer ("İ" is "i̇")
    if len(local.encode("utf-8")) > MAX_LOCAL_PART:
        raise AddressError(f"the part before @ is longer than {MAX_LOCAL_PART} octets: {text!r}")
    return f"{local}@{normalize_domain(domain)}"
