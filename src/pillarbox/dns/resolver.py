"""DNS for every floor that needs it: one resolver object, one override point, failures as data.

Mail decisions hang on DNS answers, and they must tell "does not exist" (a permanent answer: no MX,
no SPF record) from "could not find out" (SERVFAIL, timeout: a temporary error that must never turn
into a verdict). So lookups return records or an empty list for NXDOMAIN/NODATA, and raise
``DNSTemporaryError`` for everything else. The resolver is injected (ARCHITECTURE habit 11): code
takes a ``Resolver``; tests pass ``FakeResolver`` (``dns/fake.py``) or point a real one at a DNS
server on loopback with ``[dns] nameservers``.

DNSSEC: we do not validate signatures ourselves. For DANE (RFC 7672) we trust the AD bit of the
configured resolver, which must then be a validating resolver on a trusted path (loopback).
``tlsa`` returns whether the answer was authenticated.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdatatype
import dns.resolver
import dns.reversename

CACHE_SIZE = 10_000
SOALESS_NEGATIVE_TTL = 60.0
MAX_NEGATIVE_TTL = 3 * 3600.0  # RFC 2308 5: at most one to three hours


class DNSTemporaryError(Exception):
    """SERVFAIL, timeout, refused: the answer is unknown, try again later."""


@dataclass(frozen=True)
class MXRecord:
    preference: int
    host: str
    """Lowercase, without the trailing dot; "" for a null MX (RFC 7505 "." target)."""


@dataclass(frozen=True)
class TLSARecord:
    usage: int
    selector: int
    mtype: int
    data: bytes


class Resolver(Protocol):
    async def mx(self, domain: str) -> list[MXRecord]: ...
    async def addresses(self, host: str) -> list[str]: ...
    async def a(self, host: str) -> list[str]: ...
    async def aaaa(self, host: str) -> list[str]: ...
    async def txt(self, name: str) -> list[bytes]: ...
    async def ptr(self, ip: str) -> list[str]: ...
    async def tlsa(self, name: str) -> tuple[list[TLSARecord], bool]: ...
    async def addresses_authenticated(self, host: str) -> bool: ...
    async def mx_authenticated(self, domain: str) -> bool: ...
    async def canonical(self, host: str) -> tuple[str, bool]: ...


class DNSResolver:
    """dnspython's async resolver with our error rules, a timeout per lookup and an answer cache.

    The cache keeps answers, and "no such name/data" (RFC 2308), until their TTL runs out. It replaces
    dnspython's own cache, every hit of which still runs its whole resolution machinery, while one
    message asks for the same few names several times (SPF, DMARC, the organizational domain).
    Temporary errors are never cached: the next lookup asks again.
    """

    def __init__(self, nameservers: Sequence[tuple[str, int]] = (), timeout: float = 5.0) -> None:
        if nameservers:
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            self._resolver.nameservers = [host for host, _ in nameservers]
            self._resolver.nameserver_ports = {host: port for host, port in nameservers}
        else:
            self._resolver = dns.asyncresolver.Resolver()
        self._resolver.lifetime = timeout
        self._resolver.timeout = timeout
        self._resolver.use_edns(0, dns.flags.DO, 1232)
        self._answers: dict[tuple[str, str], tuple[float, dns.resolver.Answer | None]] = {}

    async def _query(self, name: str, rdtype: str) -> dns.resolver.Answer | None:
        key = (name.lower(), rdtype)
        cached = self._answers.get(key)
        if cached is not None and cached[0] > time.time():
            return cached[1]
        try:
            answer = await self._resolver.resolve(name, rdtype, search=False)
        except dns.resolver.NXDOMAIN as exc:
            responses = exc.kwargs.get("responses") or {}
            self._remember(key, None, _negative_ttl(next(iter(responses.values()), None)))
            return None
        except dns.resolver.NoAnswer as exc:
            self._remember(key, None, _negative_ttl(exc.kwargs.get("response")))
            return None
        except dns.resolver.NoNameservers as exc:  # every server answered SERVFAIL/REFUSED
            raise DNSTemporaryError(f"{rdtype} {name}: {exc}") from exc
        except (dns.exception.Timeout, dns.resolver.LifetimeTimeout) as exc:
            raise DNSTemporaryError(f"{rdtype} {name}: timeout") from exc
        except dns.exception.DNSException as exc:
            raise DNSTemporaryError(f"{rdtype} {name}: {exc}") from exc
        self._remember(key, answer, answer.expiration - time.time())
        return answer

    def _remember(self, key: tuple[str, str], answer: dns.resolver.Answer | None, ttl: float) -> None:
        if ttl <= 0:
            return
        if len(self._answers) >= CACHE_SIZE:
            del self._answers[next(iter(self._answers))]  # the oldest entry
        self._answers[key] = (time.time() + ttl, answer)

    async def mx(self, domain: str) -> list[MXRecord]:
        answer = await self._query(domain, "MX")
        if answer is None:
            return []
        return [MXRecord(r.preference, _host(r.exchange)) for r in answer]

    async def a(self, host: str) -> list[str]:
        answer = await self._query(host, "A")
        return [r.address for r in answer] if answer is not None else []

    async def aaaa(self, host: str) -> list[str]:
        answer = await self._query(host, "AAAA")
        return [r.address for r in answer] if answer is not None else []

    async def addresses(self, host: str) -> list[str]:
        """IPv6 first, then IPv4 (RFC 6724 default preference), for connecting to a host."""
        try:
            ipaddress.ip_address(host)
            return [host]
        except ValueError:
            pass
        return await self.aaaa(host) + await self.a(host)

    async def txt(self, name: str) -> list[bytes]:
        answer = await self._query(name, "TXT")
        return [b"".join(r.strings) for r in answer] if answer is not None else []

    async def ptr(self, ip: str) -> list[str]:
        answer = await self._query(dns.reversename.from_address(ip).to_text(), "PTR")
        return [_host(r.target) for r in answer] if answer is not None else []

    async def tlsa(self, name: str) -> tuple[list[TLSARecord], bool]:
        answer = await self._query(name, "TLSA")
        if answer is None:
            return [], False
        return [TLSARecord(r.usage, r.selector, r.mtype, r.cert) for r in answer], _authenticated(answer)

    async def addresses_authenticated(self, host: str) -> bool:
        """Were the host's address records DNSSEC-validated (AD bit)? RFC 7672 2.2 asks it of a host whose
        TLSA lookup failed: such a host must not be used. Answers come from the cache when we just connected."""
        answers = [await self._query(host, rdtype) for rdtype in ("A", "AAAA")]
        found = [answer for answer in answers if answer is not None]
        return bool(found) and all(_authenticated(answer) for answer in found)

    async def mx_authenticated(self, domain: str) -> bool:
        """Was the domain's MX RRset DNSSEC-validated (AD bit)? REQUIRETLS (RFC 8689 4.2.1) and DANE
        (RFC 7672 2.2.1) trust an MX host's name only then (or through MTA-STS)."""
        return _authenticated(await self._query(domain, "MX"))

    async def canonical(self, host: str) -> tuple[str, bool]:
        """The name ``host``'s CNAME chain ends at (``host`` itself without one), and whether the
        answer was DNSSEC-validated (RFC 7672 2.2.3: only then is the TLSA base name taken from it)."""
        answer = await self._query(host, "A") or await self._query(host, "AAAA")
        if answer is None:
            return host.lower().rstrip("."), False
        return _host(answer.canonical_name), _authenticated(answer)


def _authenticated(answer: dns.resolver.Answer | None) -> bool:
    return answer is not None and bool(answer.response.flags & dns.flags.AD)


def _negative_ttl(response: dns.message.Message | None) -> float:
    """RFC 2308 5: a negative answer lives min(SOA TTL, SOA MINIMUM) of the authority section's SOA.

    One without an SOA "SHOULD NOT be cached", but resolvers in the wild send exactly that (so does
    the one this was measured behind), and asking again for every message turned a flaky upstream
    into temporary SPF failures under load; like dnspython, we keep such an answer briefly."""
    for rrset in response.authority if response is not None else ():
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            return float(min(rrset.ttl, rrset[0].minimum, MAX_NEGATIVE_TTL))
    return SOALESS_NEGATIVE_TTL


def _host(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower() if name != dns.name.root else ""
