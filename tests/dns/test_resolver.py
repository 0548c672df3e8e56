"""The resolver's answer cache: answers until their TTL, negative answers as RFC 2308 says, errors never."""

from __future__ import annotations

import asyncio

import pytest

from pillarbox.dns.resolver import DNSResolver, DNSTemporaryError
from tests.dnsserver import DNSServer


def _resolver(server: DNSServer) -> DNSResolver:
    return DNSResolver([server.address], timeout=2.0)


def test_an_answer_is_asked_for_once_while_its_ttl_lasts():
    server = DNSServer({("a.test", "TXT"): ['"v=spf1 -all"']})
    try:
        async def run() -> None:
            resolver = _resolver(server)
            for _ in range(3):
                assert await resolver.txt("A.test") == [b"v=spf1 -all"]
        asyncio.run(run())
        assert server.queries.count(("a.test", "TXT")) == 1
    finally:
        server.close()


@pytest.mark.parametrize(("negative_ttl", "asked"), [(300, 1), (0, 3), (None, 1)],
                         ids=["soa-minimum", "soa-minimum-zero", "no-soa-kept-briefly"])
def test_no_such_name_is_cached_only_as_long_as_its_soa_allows(negative_ttl: int | None, asked: int):
    server = DNSServer({("a.test", "TXT"): ['"x"']}, negative_ttl=negative_ttl)
    try:
        async def run() -> None:
            resolver = _resolver(server)
            for _ in range(3):
                assert await resolver.txt("_dmarc.nowhere.test") == []
                assert await resolver.mx("a.test") == []  # NODATA
        asyncio.run(run())
        assert server.queries.count(("_dmarc.nowhere.test", "TXT")) == asked
        assert server.queries.count(("a.test", "MX")) == asked
    finally:
        server.close()


def test_a_temporary_failure_is_asked_again():
    server = DNSServer({}, servfail=["broken.test"], negative_ttl=300)
    try:
        async def run() -> None:
            resolver = _resolver(server)
            for _ in range(2):
                with pytest.raises(DNSTemporaryError):
                    await resolver.txt("broken.test")
        asyncio.run(run())
        assert server.queries.count(("broken.test", "TXT")) >= 2
    finally:
        server.close()
