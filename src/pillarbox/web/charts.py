"""Trends for the dashboard as inline SVG (no script, no external file): deliveries and bounces per
hour over the last day, and outcomes per destination domain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pillarbox.store.web_records import DeliveryCount

RESULTS = ("delivered", "deferred", "bounced")
HOURS = 24
BAR_WIDTH = 12
HEIGHT = 80


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    height: int
    result: str
    count: int
    hour: int


def hourly(counts: Sequence[DeliveryCount], now: int) -> dict[str, object]:
    """Stacked bars, one per hour of the last ``HOURS``; the template draws them as <rect>s."""
    first = now // 3600 * 3600 - (HOURS - 1) * 3600
    per_hour: dict[tuple[int, str], int] = {}
    for c in counts:
        per_hour[(c.hour, c.result)] = per_hour.get((c.hour, c.result), 0) + c.count
    totals = [sum(per_hour.get((first + h * 3600, r), 0) for r in RESULTS) for h in range(HOURS)]
    peak = max([*totals, 1])
    bars = []
    for h in range(HOURS):
        y = HEIGHT
        for result in RESULTS:
            count = per_hour.get((first + h * 3600, result), 0)
            height = round(count * HEIGHT / peak)
            if count:
                y -= height
                hour = (first + h * 3600) // 3600 % 24
                bars.append(Bar(h * (BAR_WIDTH + 2), y, max(height, 1), result, count, hour))
    return {"bars": bars, "width": HOURS * (BAR_WIDTH + 2), "height": HEIGHT, "bar_width": BAR_WIDTH, "peak": peak}


def by_domain(counts: Sequence[DeliveryCount]) -> list[dict[str, object]]:
    """Per destination domain: the count of each result and the share delivered, most mail first."""
    table: dict[str, dict[str, int]] = {}
    for c in counts:
        results = table.setdefault(c.domain, dict.fromkeys(RESULTS, 0))
        results[c.result] = results.get(c.result, 0) + c.count
    rows = []
    for domain, results in table.items():
        total = sum(results.values())
        rows.append({"domain": domain, **results, "total": total,
                     "delivered_share": round(100 * results["delivered"] / total) if total else 0})
    return sorted(rows, key=lambda row: (-int(row["total"]), str(row["domain"])))
