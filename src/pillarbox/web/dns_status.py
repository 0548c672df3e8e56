"""What each domain publishes in DNS, for the dashboard, without a DNS lookup per page load.

A full check (``domain.check``: MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, A, PTR) costs a dozen lookups
and, with a slow or dead resolver, up to ``CHECK_TIMEOUT`` seconds: too much for every load of the
dashboard, and the records change rarely. So each domain's last result is kept here for
``[web] dns_status_ttl`` seconds; the dashboard shows what is kept and, for a domain whose result is
missing or older, starts a check in the background (at most one per domain, ``PARALLEL`` at once) and
says "checking". The domain page's "check now" result is kept too. The web face runs in the primary
process only, so one cache serves it; on several nodes each keeps its own (nothing to share).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pillarbox.obs import get_logger, log_event

CHECK_TIMEOUT = 10.0
PARALLEL = 4
log = get_logger("web")
Check = Callable[[str], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class DomainStatus:
    checked: float
    problems: int
    summary: str
    """"all published", or the items wrong: "MISSING DKIM, WRONG SPF"."""


def timed_out(domain: str) -> dict[str, Any]:
    """A check's result when the DNS did not answer within ``CHECK_TIMEOUT``."""
    return {"domain": domain, "problems": 1, "findings": [{
        "status": "ERROR", "item": "DNS", "problem": True, "detail": "the DNS did not answer in time", "publish": ""}]}


async def check_in_time(check: Check, domain: str) -> dict[str, Any]:
    try:
        return await asyncio.wait_for(check(domain), CHECK_TIMEOUT)
    except TimeoutError:
        return timed_out(domain)


class DnsStatusCache:
    def __init__(self, check: Check, clock: Callable[[], float], ttl: float) -> None:
        self.check = check
        self.clock = clock
        self.ttl = ttl
        self.known: dict[str, DomainStatus] = {}
        self.running: dict[str, asyncio.Task[None]] = {}
        self.slots = asyncio.Semaphore(PARALLEL)

    def statuses(self, domains: Iterable[str]) -> dict[str, DomainStatus | None]:
        """The kept status of each domain (None: never checked yet); stale ones are checked again."""
        now, domains = self.clock(), list(domains)
        for domain in domains:
            status = self.known.get(domain)
            if (status is None or now - status.checked >= self.ttl) and domain not in self.running:
                self.running[domain] = asyncio.create_task(self._refresh(domain), name=f"dns-status {domain}")
        return {domain: self.known.get(domain) for domain in domains}

    def keep(self, domain: str, result: dict[str, Any]) -> None:
        wrong = [f"{f['status']} {f['item']}" for f in result["findings"] if f["problem"]]
        summary = ", ".join(dict.fromkeys(wrong)) or "all published"
        self.known[domain] = DomainStatus(self.clock(), int(result["problems"]), summary)

    async def _refresh(self, domain: str) -> None:
        try:
            async with self.slots:
                self.keep(domain, await check_in_time(self.check, domain))
        except Exception as exc:  # a domain deleted meanwhile, a bug: the dashboard must still load
            log_event(log, "warning", "DNS status check failed", domain=domain, error=str(exc))
        finally:
            self.running.pop(domain, None)
