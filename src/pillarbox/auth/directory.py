"""Who an address is: local accounts, aliases (also catch-all), sub-addressing and postmaster.

Resolution order for ``local@domain`` (domain must be one we serve):
1. an account with that address;
2. an alias with that address (its targets resolved in turn, local or remote);
3. with sub-addressing, ``user+tag`` is tried as ``user`` (steps 1-2);
4. a catch-all alias ``@domain``.
``postmaster@`` and ``abuse@`` of every domain (RFC 5321 4.5.1, RFC 2142) are ordinary aliases that
the administration creates (``admin/postmaster.py``), so ``alias list`` shows who reads them; there
is no hidden fallback. The bare ``<Postmaster>`` of RFC 5321 4.1.1.3 is ``host_postmaster``.
Aliases nest up to ``MAX_ALIAS_DEPTH``; a loop or an over-deep chain is a configuration error that
resolves to nothing rather than hanging.

Lookups are remembered in memory until the store's directory version moves (any change to domains,
accounts or aliases, from any process, moves it), so an RCPT costs no trip to a store thread while
the directory stands still, and an admin's change counts from the next command on (the version is
read at most every ``VERSION_RECHECK`` seconds).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from pillarbox.address import AddressError, normalize_address, split_address
from pillarbox.store.api import Store
from pillarbox.store.records import Account, Alias

MAX_ALIAS_DEPTH = 10
SUBADDRESS_SEPARATOR = "+"
MEMO_LIMIT = 50_000  # remembered answers (many are "no such user" from address probing); then start over
VERSION_RECHECK = 0.01
"""Seconds between two reads of the directory version: the lookups of one SMTP transaction, and of
the transactions around it, share one read (each was a database read that also had to win the GIL
back from the writer thread), and a change counts for every lookup that starts 10 ms after it."""

T = TypeVar("T")


@dataclass
class Resolution:
    """Where mail for one address goes. Empty both ways means: no such local recipient."""

    accounts: list[Account] = field(default_factory=list)
    remote: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.accounts or self.remote)


class Directory:
    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic, hostname: str = "",
                 postmaster: str = "") -> None:
        """``hostname`` and ``postmaster`` (the configuration's keys) say who ``<Postmaster>`` is."""
        self.store = store
        self._clock = clock
        self.hostname = hostname
        self.postmaster = postmaster
        self._memo: dict[tuple[str, str], object] = {}
        self._version: int | None = None
        self._version_read_at = -VERSION_RECHECK

    async def _remembered(self, kind: str, key: str, lookup: Callable[[str], Awaitable[T]]) -> T:
        now = self._clock()
        if now - self._version_read_at >= VERSION_RECHECK:
            self._version_read_at = now
            version = self.store.directory_version()
            if version != self._version:
                self._memo.clear()
                self._version = version
        if len(self._memo) >= MEMO_LIMIT:
            self._memo.clear()
        try:
            return self._memo[kind, key]  # type: ignore[return-value]
        except KeyError:
            answer = self._memo[kind, key] = await lookup(key)
            return answer

    async def _has_domain(self, domain: str) -> bool:
        return await self._remembered("domain", domain, self.store.has_domain)

    async def _account(self, address: str) -> Account | None:
        return await self._remembered("account", address, self.store.get_account)

    async def _alias(self, address: str) -> Alias | None:
        return await self._remembered("alias", address, self.store.get_alias)

    async def is_local_domain(self, domain: str) -> bool:
        try:
            return await self._has_domain(domain)
        except AddressError:
            return False

    async def resolve(self, address: str) -> Resolution:
        """Resolve a recipient address of a local domain. Raises AddressError when malformed."""
        result = Resolution()
        await self._resolve_into(normalize_address(address), result, depth=0, seen=set())
        return result

    async def host_postmaster(self) -> str | None:
        """The address ``RCPT TO:<Postmaster>`` (no domain: this host's postmaster, RFC 5321 4.1.1.3)
        stands for: the configured ``postmaster``, else postmaster@ the served domain that is the
        host name or its closest parent, else postmaster@ the oldest served domain; None with no domain."""
        if self.postmaster:
            return self.postmaster
        labels = self.hostname.split(".") if self.hostname else []
        for start in range(len(labels)):
            if await self.is_local_domain(".".join(labels[start:])):
                return "postmaster@" + ".".join(labels[start:])
        domains = await self._remembered("domains", "", lambda _: self.store.list_domains())
        oldest = min(domains, key=lambda d: (d.created, d.name), default=None)
        return f"postmaster@{oldest.name}" if oldest is not None else None

    async def may_use(self, account: Account, address: str) -> bool:
        """May this account send as ``address`` (MAIL FROM, and the From:/Sender: fields)? Its own
        address (with any +tag); an alias that reaches it (not a catch-all: owning every address of
        a domain is too broad a right to get by accident); or an address, or a whole ``@domain``,
        an administrator granted it (``pillarbox user grant``)."""
        try:
            normalized = normalize_address(address)
        except AddressError:
            return False
        base = _strip_subaddress(normalized)
        if account.address in (normalized, base):
            return True
        granted = await self._remembered("grants", account.address, self.store.sender_grants)
        if {normalized, base, "@" + normalized.rpartition("@")[2]} & set(granted):
            return True
        for candidate in dict.fromkeys((normalized, base)):
            if await self._alias(candidate) is not None:
                reached = Resolution()
                await self._resolve_exact(candidate, reached, depth=0, seen=set())
                return any(found.id == account.id for found in reached.accounts)
        return False

    async def _resolve_into(self, address: str, result: Resolution, depth: int, seen: set[str]) -> None:
        if address in seen or depth > MAX_ALIAS_DEPTH:
            return
        seen.add(address)
        local, domain = split_address(address)
        if not await self._has_domain(domain):
            if depth > 0:  # an alias may forward off the server
                _add_unique(result.remote, address)
            return
        for candidate in _candidates(address, local, domain):
            if await self._resolve_exact(candidate, result, depth, seen):
                return

    async def _resolve_exact(self, address: str, result: Resolution, depth: int, seen: set[str]) -> bool:
        account = await self._account(address) if not address.startswith("@") else None
        if account is not None:
            _add_account(result, account)
            return True
        alias = await self._alias(address)
        if alias is None:
            return False
        for target in alias.targets:
            await self._resolve_into(target, result, depth + 1, seen)
        return True


def _candidates(address: str, local: str, domain: str) -> list[str]:
    candidates = [address]
    base = _strip_subaddress(address)
    if base != address:
        candidates.append(base)
    candidates.append(f"@{domain}")
    return candidates


def _strip_subaddress(address: str) -> str:
    local, _, domain = address.rpartition("@")
    base, sep, _tag = local.partition(SUBADDRESS_SEPARATOR)
    return f"{base}@{domain}" if sep and base else address


def _add_account(result: Resolution, account: Account) -> None:
    if all(found.id != account.id for found in result.accounts):
        result.accounts.append(account)


def _add_unique(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)
