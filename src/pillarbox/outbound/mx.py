"""Where mail for a domain goes: MX records, the implicit MX, the null MX, and smarthosts.

RFC 5321 5.1: look up the domain's MX records and try them in order of preference, lowest first;
hosts of equal preference are tried in random order, to spread the load. If there is no MX record
but the domain has an address (A or AAAA), the domain itself is the one "implicit MX" of
preference 0. An error while looking up (SERVFAIL, timeout) is not "no MX": it is a temporary
failure, and the message waits.

RFC 7505: a domain that receives no mail publishes one MX record with the root "." as target and
preference 0 (the "null MX"); mail to it is refused at once with 5.1.10, never retried. The RFC
says a null MX must be the only MX; a domain that lists it next to real hosts is misconfigured,
and we ignore the null entry then (the real hosts may still work).

A smarthost (``[outbound] relay`` globally, or ``[outbound.routes]`` per destination) replaces the
MX lookup entirely: the route is that one host and port.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from pillarbox.config import Endpoint
from pillarbox.dns.resolver import DNSTemporaryError, MXRecord, Resolver


class NullMX(Exception):
    """The domain says it accepts no mail (RFC 7505): 5.1.10, never retried."""


class NoRoute(Exception):
    """No MX and no address: the domain cannot receive mail (5.1.2 bad destination system)."""


@dataclass(frozen=True)
class Route:
    hosts: tuple[str, ...]
    """Host names (or IP literals) to try in order."""
    port: int
    relay: bool = False
    """A smarthost: AUTH and TLS as configured, MX-based policies (MTA-STS, DANE) do not apply."""


def order_mx(records: Sequence[MXRecord], rng: random.Random | None = None) -> list[str]:
    """Hosts by preference, shuffled within equal preference; null MX raises NullMX (RFC 7505)."""
    real = [r for r in records if r.host]
    if records and not real:
        raise NullMX("domain publishes a null MX (RFC 7505)")
    rng = rng or random.Random()
    shuffled = list(real)
    rng.shuffle(shuffled)
    shuffled.sort(key=lambda r: r.preference)  # stable: equal preferences keep the random order
    return list(dict.fromkeys(r.host for r in shuffled))


async def mx_hosts(domain: str, resolver: Resolver, rng: random.Random | None = None) -> list[str]:
    """The hosts to try for ``domain``; raises NullMX, NoRoute, or DNSTemporaryError."""
    records = await resolver.mx(domain)
    if records:
        return order_mx(records, rng)
    if await resolver.addresses(domain):
        return [domain]  # the implicit MX (RFC 5321 5.1)
    raise NoRoute(f"{domain} has no MX and no address")


def relay_for(domain: str, routes: Sequence[tuple[str, Endpoint]], default: Endpoint | None) -> Endpoint | None:
    """The smarthost for ``domain``: a route for it or a parent domain, else the global relay."""
    labels = domain.lower().rstrip(".").split(".")
    table = dict(routes)
    for n in range(len(labels)):
        found = table.get(".".join(labels[n:]))
        if found is not None:
            return found
    return default


async def find_route(domain: str, resolver: Resolver, port: int, routes: Sequence[tuple[str, Endpoint]] = (),
                     relay: Endpoint | None = None, rng: random.Random | None = None) -> Route:
    smarthost = relay_for(domain, routes, relay)
    if smarthost is not None:
        return Route((smarthost.host,), smarthost.port, relay=True)
    return Route(tuple(await mx_hosts(domain, resolver, rng)), port)


__all__ = ["DNSTemporaryError", "NoRoute", "NullMX", "Route", "find_route", "mx_hosts", "order_mx", "relay_for"]
