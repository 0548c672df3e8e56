"""The dashboard's DNS status per domain: checked in the background, kept for ``[web] dns_status_ttl``
seconds, never a DNS lookup per page load (a fake resolver counts the lookups; the clock is injected)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from tests.web.in_process import serve_site

from pillarbox.dns.fake import TEMPFAIL, FakeResolver

TTL = 600


def zone() -> FakeResolver:
    return FakeResolver({
        ("example.com", "MX"): [(10, "mx.test")],
        ("example.com", "TXT"): ["v=spf1 mx -all"],
        ("_dmarc.example.com", "TXT"): ["v=DMARC1; p=quarantine; rua=mailto:postmaster@example.com"],
        ("mx.test", "A"): ["127.0.0.1"],
    })


def dns_cell(page: str, domain: str) -> str:
    row = re.search(rf'<a href="/admin/domains/{re.escape(domain)}">.*?</tr>', page, re.S)
    assert row, page
    return re.sub(r"<[^>]+>", " ", re.search(r'<td class="dns">(.*?)</td>', row.group(), re.S).group(1)).strip()


async def settled(client: httpx.AsyncClient, domain: str) -> str:
    """Load the dashboard until the background check has answered (each load lets the loop run it)."""
    for _ in range(200):
        cell = dns_cell((await client.get("/admin")).text, domain)
        if cell != "checking…":
            return cell
    raise AssertionError("the DNS status never came")


def test_dashboard_keeps_each_domains_dns_status(run, tmp_path: Path) -> None:
    async def body() -> None:
        resolver = zone()
        async with serve_site(tmp_path / "data", resolver, dns_status_ttl=TTL) as site:
            await site.store.add_domain("broken.test")
            resolver.records[("broken.test", "MX")] = TEMPFAIL
            client, _ = await site.login()
            assert dns_cell((await client.get("/admin")).text, "example.com") == "checking…"
            example = await settled(client, "example.com")
            assert example == "MISSING MTA-STS, MISSING TLS-RPT"
            assert "ERROR MX" in await settled(client, "broken.test")
            lookups = len(resolver.queries)
            for _ in range(5):
                page = (await client.get("/admin")).text
            assert len(resolver.queries) == lookups  # the page loads did no DNS
            assert "just now" in page

            resolver.records[("example.com", "MX")] = [(10, "elsewhere.test")]
            site.clock.advance(TTL - 1)
            await client.get("/admin")
            assert len(resolver.queries) == lookups and "9 min ago" in (await client.get("/admin")).text
            site.clock.advance(1)  # stale now: shown as it was while it is checked again
            assert "WRONG MX" not in dns_cell((await client.get("/admin")).text, "example.com")
            for _ in range(200):
                if "WRONG MX" in dns_cell((await client.get("/admin")).text, "example.com"):
                    break
            assert len(resolver.queries) > lookups and "WRONG MX" in dns_cell((await client.get("/admin")).text,
                                                                               "example.com")

            resolver.records[("example.com", "MX")] = [(10, "mx.test")]
            site.clock.advance(60)
            check = await client.get("/admin/domains/example.com", params={"check": "1"})  # "check now" is kept
            assert check.status_code == 200 and "check-results" in check.text
            assert "WRONG MX" not in dns_cell((await client.get("/admin")).text, "example.com")
            await client.aclose()

    run(body(), timeout=60)
