"""An in-memory ``Resolver`` for unit tests: records by (name, type), failures as data."""

from __future__ import annotations

from dataclasses import dataclass, field

from pillarbox.dns.resolver import DNSTemporaryError, MXRecord, TLSARecord

TEMPFAIL = object()
"""Put this as a name's value to make its lookups raise DNSTemporaryError."""


@dataclass
class FakeResolver:
    records: dict[tuple[str, str], object] = field(default_factory=dict)
    authenticated: set[str] = field(default_factory=set)
    queries: list[tuple[str, str]] = field(default_factory=list)

    def _get(self, name: str, rdtype: str) -> list:  # type: ignore[type-arg]
        key = (name.lower().rstrip("."), rdtype)
        self.queries.append(key)
        value = self.records.get(key, [])
        if value is TEMPFAIL:
            raise DNSTemporaryError(f"{rdtype} {name}: SERVFAIL (fake)")
        return list(value)  # type: ignore[call-overload]

    async def mx(self, domain: str) -> list[MXRecord]:
        return [MXRecord(pref, host) for pref, host in self._get(domain, "MX")]

    async def a(self, host: str) -> list[str]:
        return self._get(host, "A")

    async def aaaa(self, host: str) -> list[str]:
        return self._get(host, "AAAA")

    async def addresses(self, host: str) -> list[str]:
        return await self.aaaa(host) + await self.a(host)

    async def txt(self, name: str) -> list[bytes]:
        return [t if isinstance(t, bytes) else t.encode() for t in self._get(name, "TXT")]

    async def ptr(self, ip: str) -> list[str]:
        return self._get(ip, "PTR")

    async def tlsa(self, name: str) -> tuple[list[TLSARecord], bool]:
        return [TLSARecord(*r) for r in self._get(name, "TLSA")], name.lower() in self.authenticated

    async def addresses_authenticated(self, host: str) -> bool:
        return host.lower() in self.authenticated

    async def mx_authenticated(self, domain: str) -> bool:
        return domain.lower() in self.authenticated

    async def canonical(self, host: str) -> tuple[str, bool]:
        """Follows ("name", "CNAME") records; validated when every name on the way is authenticated."""
        name, secure = host.lower().rstrip("."), True
        for _ in range(8):
            secure = secure and name in self.authenticated
            targets = self._get(name, "CNAME")
            if not targets:
                break
            name = str(targets[0]).lower().rstrip(".")
        return name, secure
