"""Trends for the dashboard as inline SVG (no script, no external file, nothing the CSP would block):
delivery attempts per hour over the last day (stacked by result), bounces per hour on their own scale
(a handful disappears beside thousands of deliveries), the queue's size over the day (from the
samples ``queue/sampler.py`` records), and outcomes per destination domain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pillarbox.store.web_records import DeliveryCount, QueueSample

RESULTS = ("delivered", "deferred", "bounced")
HOURS = 24
BAR_WIDTH = 12
WIDTH = HOURS * (BAR_WIDTH + 2)
HEIGHT = 80
DAY = HOURS * 3600


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    height: int
    result: str
    count: int
    hour: int


def _first_hour(now: int) -> int:
    return now // 3600 * 3600 - (HOURS - 1) * 3600


def hourly(counts: Sequence[DeliveryCount], now: int, results: Sequence[str] = RESULTS) -> dict[str, object]:
    """Stacked bars of ``results``, one per hour of the last ``HOURS``; the template draws them as <rect>s."""
    first = _first_hour(now)
    per_hour: dict[tuple[int, str], int] = {}
    for c in counts:
        if c.result in results:
            per_hour[(c.hour, c.result)] = per_hour.get((c.hour, c.result), 0) + c.count
    totals = [sum(per_hour.get((first + h * 3600, r), 0) for r in results) for h in range(HOURS)]
    peak = max(totals)
    scale = max(peak, 1)
    bars = []
    for h in range(HOURS):
        y = HEIGHT
        for result in results:
            count = per_hour.get((first + h * 3600, result), 0)
            if count:  # at least a pixel for a count, all inside the box
                top = max(y - max(round(count * HEIGHT / scale), 1), 0)
                bars.append(Bar(h * (BAR_WIDTH + 2), top, y - top, result, count, (first + h * 3600) // 3600 % 24))
                y = top
    return {"bars": bars, "width": WIDTH, "height": HEIGHT, "bar_width": BAR_WIDTH, "peak": peak,
            "total": sum(totals)}


def queue_line(samples: Sequence[QueueSample], now: int, current: Mapping[str, int]) -> dict[str, object]:
    """Recipients waiting in the queue (pending and held) over the last day, as a polyline and the area
    under it, ending with the queue as it is ``now`` (``current``: recipients by state)."""
    first = now - DAY
    live = QueueSample(now, current.get("pending", 0), current.get("held", 0), current.get("failed", 0))
    shown = [s for s in samples if first <= s.at < now] + [live]
    peak = max(s.pending + s.held for s in shown)
    points = [(round((s.at - first) * WIDTH / DAY), HEIGHT - round((s.pending + s.held) * HEIGHT / max(peak, 1)))
              for s in shown]
    line = " ".join(f"{x},{y}" for x, y in points)
    area = f"{points[0][0]},{HEIGHT} {line} {points[-1][0]},{HEIGHT}"
    return {"points": line, "area": area, "width": WIDTH, "height": HEIGHT, "peak": peak,
            "now": live.pending + live.held, "samples": len(shown) - 1}


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
