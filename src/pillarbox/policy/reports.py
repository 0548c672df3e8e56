"""The DMARC aggregate-report recorder backed by the store (``InboundPolicy``'s ``recorder``).

The daily RFC 7489 7.2 aggregate reports are built from these rows and sent by
``policy/dmarc_reports.py``.
"""

from __future__ import annotations

from typing import Protocol

from pillarbox.policy.inbound import DMARCObservation


class _Store(Protocol):
    async def record_dmarc(self, row: dict[str, object]) -> None: ...


class StoreDMARCRecorder:
    def __init__(self, store: _Store) -> None:
        self.store = store

    async def record_dmarc(self, observation: DMARCObservation) -> None:
        row: dict[str, object] = {
            "policy_domain": observation.policy_domain, "source_ip": observation.source_ip,
            "header_from": observation.header_from, "envelope_from": observation.envelope_from,
            "spf_domain": observation.spf_domain, "spf_result": observation.spf_result,
            "dkim": " ".join(f"{domain}:{result}" for domain, result in observation.dkim),
            "dmarc_result": observation.dmarc_result, "spf_aligned": int(observation.spf_aligned),
            "dkim_aligned": int(observation.dkim_aligned), "disposition": observation.disposition,
            "policy": observation.policy,
        }
        await self.store.record_dmarc(row)
