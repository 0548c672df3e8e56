"""Connection screening on port 25: refuse the obvious before a session costs anything.

Most connections to an MX on the Internet come from infected machines that send spam directly. Two
cheap tests catch most of them, the way Postfix's postscreen does:

- **pregreet**: RFC 5321 3.1 has the client wait for the server's greeting, and a real MTA always
  does. Bots often do not: they talk at once. So the greeting waits ``pregreet_delay`` seconds, and a
  client that sent anything meanwhile is refused. A client that waited is greeted at once for the next
  ``PREGREET_PASS_SECONDS`` (a day, as postscreen's ``postscreen_greet_ttl``): a peer that delivers one
  message per connection would otherwise pay the wait on every one.
- **DNS lists** (RFC 5782): the client's address is looked up in each configured zone; each listing
  adds the zone's weight (an allowlist has a negative one) and a total at or above the threshold is
  refused. The lookups run while the pregreet wait runs, so together they cost the longer of the two.

A refused client gets ``554`` instead of ``220`` (RFC 5321 3.1) and ``503`` to every command until it
quits (the session does that). Networks in ``[antispam] allow`` skip every test (and greylisting);
nothing else is exempt, loopback included. Submission and authenticated sessions are never screened:
only the MX role calls this. DNS errors never refuse anyone (the list counts as not listing).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pillarbox.config import AntispamConfig, DNSListSite
from pillarbox.dns.resolver import DNSTemporaryError, Resolver
from pillarbox.net.listener import Connection
from pillarbox.obs import Counter, get_logger, log_event

log = get_logger("antispam")
SCREENED = Counter("pillarbox_antispam_connections_total", "Port 25 connections screened, by outcome", ("result",))
CACHE_SECONDS = 600.0
CACHE_SIZE = 10_000
PREGREET_PASS_SECONDS = 86_400.0
T = TypeVar("T")
PREGREET_READ = 1024


class Outcome(enum.Enum):
    ALLOWED = "allowed"
    """In ``[antispam] allow``: no test, no greylisting."""
    PASSED = "passed"
    DNSBL = "dnsbl"
    PREGREET = "pregreet"


@dataclass(frozen=True)
class ScreenVerdict:
    outcome: Outcome
    score: int = 0
    lists: tuple[str, ...] = ()
    """The zones that listed the client."""
    early: bytes = b""
    """What a pregreeting client sent: the session still reads it (and answers it 503)."""

    @property
    def refused(self) -> bool:
        return self.outcome in (Outcome.DNSBL, Outcome.PREGREET)

    @property
    def trusted(self) -> bool:
        """Skips greylisting: an allowed network, or a client the allowlists vouch for (negative score)."""
        return self.outcome is Outcome.ALLOWED or self.score < 0


def query_name(ip: str, zone: str) -> str:
    """RFC 5782 2.1, 2.4: the address's octets (IPv4) or nibbles (IPv6) in reverse order, then the zone."""
    address = plain_address(ip)
    if isinstance(address, ipaddress.IPv4Address):
        labels = reversed(str(address).split("."))
    else:
        labels = reversed(address.exploded.replace(":", ""))
    return ".".join(labels) + "." + zone


def plain_address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The client's address; an IPv4-mapped IPv6 address (a dual-stack socket) as the IPv4 it is."""
    address = ipaddress.ip_address(ip.partition("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class ConnectionScreen:
    def __init__(self, settings: AntispamConfig, resolver: Resolver,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.resolver = resolver
        self.clock = clock
        self._cache: OrderedDict[str, tuple[float, int, tuple[str, ...]]] = OrderedDict()
        self._waited: OrderedDict[str, float] = OrderedDict()  # client → until when it skips the pregreet wait

    def allowed(self, ip: str) -> bool:
        address = plain_address(ip)
        return any(address in network for network in self.settings.allow)

    async def screen(self, conn: Connection) -> ScreenVerdict:
        """Run before the greeting; the verdict says whether to greet with 220 or refuse with 554."""
        ip = conn.peer[0]
        if self.allowed(ip):
            return self._counted(ScreenVerdict(Outcome.ALLOWED))
        waits = self.settings.pregreet_delay > 0 and not self._passed_pregreet(ip)
        if not self.settings.dnsbl and not waits:
            # nothing to wait for: greet at once, as without screening (a peer that hangs up meanwhile,
            # like a balancer's health check, would make the greeting a write to a closed transport)
            return self._counted(ScreenVerdict(Outcome.PASSED))
        lookups = asyncio.ensure_future(self.dnsbl_score(ip))
        try:
            early = await self._pregreet(conn) if waits else b""
            score, lists = await lookups
        finally:
            lookups.cancel()
        if waits and not early:
            self._remember_pregreet_pass(ip)
        if early:
            verdict = ScreenVerdict(Outcome.PREGREET, score, lists, early)
        elif score >= self.settings.dnsbl_threshold:
            verdict = ScreenVerdict(Outcome.DNSBL, score, lists)
        else:
            verdict = ScreenVerdict(Outcome.PASSED, score, lists)
        if verdict.refused:
            log_event(log, "info", "connection refused", client=ip, reason=verdict.outcome.value, score=score,
                      lists=",".join(lists) or None)
        return self._counted(verdict)

    def _counted(self, verdict: ScreenVerdict) -> ScreenVerdict:
        SCREENED.inc(result=verdict.outcome.value)
        return verdict

    async def _pregreet(self, conn: Connection) -> bytes:
        """What the client sent before it was greeted (b"" for a client that waited, as it must)."""
        delay = self.settings.pregreet_delay
        if delay <= 0:
            return b""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                data = await conn.read(PREGREET_READ)
                return data or b"\r\n"  # a client that hung up without waiting: nothing to greet
        return b""

    async def dnsbl_score(self, ip: str) -> tuple[int, tuple[str, ...]]:
        """The summed weight of the lists that list ``ip`` and their names; cached per address."""
        sites = self.settings.dnsbl
        if not sites:
            return 0, ()
        now = self.clock()
        cached = self._cache.get(ip)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        found = await asyncio.gather(*(self._listed(ip, site) for site in sites))
        listing = tuple(site for site, listed in zip(sites, found, strict=True) if listed)
        score, lists = sum(site.weight for site in listing), tuple(site.zone for site in listing)
        if None not in found:  # an answer we could not get is not cached: the next client asks again
            self._remember(ip, now + CACHE_SECONDS, score, lists)
        return score, lists

    async def _listed(self, ip: str, site: DNSListSite) -> bool | None:
        try:
            answers = await self.resolver.a(query_name(ip, site.zone))
        except DNSTemporaryError as exc:
            log_event(log, "warning", "DNS list lookup failed", client=ip, zone=site.zone, error=str(exc))
            return None
        return any(site.matches(answer) for answer in answers)

    def _passed_pregreet(self, ip: str) -> bool:
        until = self._waited.get(ip)
        return until is not None and until > self.clock()

    def _remember_pregreet_pass(self, ip: str) -> None:
        _put_bounded(self._waited, ip, self.clock() + PREGREET_PASS_SECONDS)

    def _remember(self, ip: str, until: float, score: int, lists: tuple[str, ...]) -> None:
        _put_bounded(self._cache, ip, (until, score, lists))


def _put_bounded(cache: OrderedDict[str, T], key: str, value: T) -> None:
    """Newest last; past ``CACHE_SIZE`` entries the oldest go, so a flood of addresses costs bounded memory."""
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > CACHE_SIZE:
        cache.popitem(last=False)
