"""What a Sieve run asks its host to do (ARCHITECTURE habit 14: interpreters return actions).

``headers`` on a filing action is the message's header block as edited by "editheader" at the moment
the action ran (None: unchanged), so that delivery stores, and redirects, what the script saw.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keep:
    flags: tuple[str, ...] | None = None
    """IMAP flags to set (RFC 5232); None: the message's flags as delivery would set them."""
    headers: bytes | None = None
    implicit: bool = False


@dataclass(frozen=True)
class FileInto:
    mailbox: str
    flags: tuple[str, ...] | None = None
    create: bool = False
    copy: bool = False
    headers: bytes | None = None


@dataclass(frozen=True)
class Redirect:
    address: str
    copy: bool = False
    headers: bytes | None = None


@dataclass(frozen=True)
class Reject:
    reason: str
    extended: bool = False
    """ereject: refuse in the SMTP dialogue when at all possible (RFC 5429 2.1)."""


@dataclass(frozen=True)
class Discard:
    pass


@dataclass(frozen=True)
class Vacation:
    reason: str
    seconds: int
    subject: str | None
    from_: str | None
    addresses: tuple[str, ...]
    mime: bool
    handle: str
    """Tells replies of different vacation commands apart (RFC 5230 4.2); defaults to a hash of the rest."""


@dataclass(frozen=True)
class Remember:
    """Record a "duplicate" key for ``seconds`` once the run succeeded (RFC 7352 3)."""

    key: str
    seconds: int
    refresh: bool


Action = Keep | FileInto | Redirect | Reject | Discard | Vacation | Remember
