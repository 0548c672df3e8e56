"""The dashboard's trends as charts: delivery attempts and bounces per hour over 24 hours, and the queue's
size over time from the samples the primary records (``queue/sampler.py``); the clock is injected."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from tests.web.in_process import START, serve_site

from pillarbox.queue.sampler import KEEP, QueueSampler
from pillarbox.store.records import OutboundRecipient, OutboundRequest
from pillarbox.store.web_records import DeliveryCount, QueueSample
from pillarbox.web import charts

NOW = int(START)


async def queue_mail(site, *recipients: str) -> str:  # type: ignore[no-untyped-def]
    request = OutboundRequest("admin@example.com", tuple(OutboundRecipient(r) for r in recipients))
    outcome = await site.store.deliver_and_queue(b"Subject: x\r\n\r\nx\r\n", [], request, None)
    return outcome.queue_id


def svg(page: str, chart_id: str) -> str:
    found = re.search(rf'<svg class="chart" id="{chart_id}".*?</svg>', page, re.S)
    assert found, page
    return found.group()


def test_dashboard_draws_deliveries_bounces_and_the_queue(run, tmp_path: Path) -> None:
    async def body() -> None:
        async with serve_site(tmp_path / "data") as site:
            sampler = QueueSampler(site.store)
            site.clock.advance(-6 * 3600)  # six hours ago: an empty queue, two deliveries, one bounce
            await sampler.sample()
            await site.store.count_delivery("remote.test", "delivered", 2)
            await site.store.count_delivery("remote.test", "bounced", 1)
            for hour in range(6):  # then the queue grows, one sample an hour
                site.clock.advance(3600)
                held = await queue_mail(site, f"a{hour}@remote.test", f"b{hour}@remote.test")
                await sampler.sample()
            await site.store.hold_queue_entry(held, True)
            await site.store.count_delivery("remote.test", "deferred", 5)
            await sampler.sample()  # in the same second as the last one: it takes its place

            client, _ = await site.login()
            page = (await client.get("/admin")).text
            assert re.search(r'id="queue-size">6<', page) and "10 pending, 2 held" in page
            deliveries = svg(page, "deliveries-chart")
            assert deliveries.count("<rect") == 3 and "2 delivered" in deliveries and "5 deferred" in deliveries
            bounces = svg(page, "bounces-chart")
            assert bounces.count("<rect") == 1 and "1 bounced" in bounces
            queue = svg(page, "queue-chart")
            points = re.search(r'<polyline points="([^"]+)"', queue).group(1).split()
            heights = [int(p.split(",")[1]) for p in points]
            assert len(points) == 7 and heights[0] == charts.HEIGHT and heights[-1] == 0  # empty, then the peak
            assert heights == sorted(heights, reverse=True)  # it only grew
            assert "now 12 · peak 12" in page
            await client.aclose()

    run(body())


def test_old_samples_go(run, tmp_path: Path) -> None:
    async def body() -> None:
        async with serve_site(tmp_path / "data") as site:
            sampler = QueueSampler(site.store)
            await sampler.sample()
            site.clock.advance(KEEP + 1)
            await queue_mail(site, "x@remote.test")
            await sampler.sample()
            samples = await site.store.queue_samples(0)
            assert [(s.at, s.pending) for s in samples] == [(int(site.clock()), 1)]

    run(body())


@given(st.lists(st.tuples(st.integers(NOW - 2 * charts.DAY, NOW + 600), st.integers(0, 10**6),
                          st.integers(0, 1000)), max_size=50))
def test_queue_line_stays_in_the_box(raw: list[tuple[int, int, int]]) -> None:
    samples = [QueueSample(at, pending, held, 0) for at, pending, held in sorted(raw)]
    chart = charts.queue_line(samples, NOW, {"pending": 3})
    for point in str(chart["points"]).split():
        x, y = map(int, point.split(","))
        assert 0 <= x <= charts.WIDTH and 0 <= y <= charts.HEIGHT


@given(st.lists(st.tuples(st.integers(0, 30), st.sampled_from(charts.RESULTS), st.integers(1, 10**6)), max_size=60))
def test_bars_stay_in_the_box(raw: list[tuple[int, str, int]]) -> None:
    hour = NOW // 3600 * 3600
    counts = [DeliveryCount(hour - ago * 3600, "d.test", result, n) for ago, result, n in raw]
    chart = charts.hourly(counts, NOW)
    for bar in chart["bars"]:  # type: ignore[attr-defined]
        assert 0 <= bar.x < charts.WIDTH and bar.y >= 0 and bar.y + bar.height <= charts.HEIGHT
    assert chart["total"] == sum(n for ago, _, n in raw if ago < charts.HOURS)


def test_dashboard_shows_the_acme_certificates(run, tmp_path: Path) -> None:
    """The quickstart's ACME manager writes its status; the dashboard lists each certificate, a failing one
    marked, its error as text."""
    acme = {"directory": "https://acme.test/dir", "certificates": [
        {"name": "mx", "names": ["mx.test", "mta-sts.example.com"], "not_after": NOW + 60 * 86400,
         "next_attempt": NOW + 40 * 86400, "failures": 0, "last_error": ""},
        {"name": "other", "names": ["autoconfig.example.com"], "not_after": None, "next_attempt": NOW + 600,
         "failures": 3, "last_error": "<b>rateLimited</b>"}]}

    async def body() -> None:
        async with serve_site(tmp_path / "data") as site:
            async def status() -> dict[str, object]:
                return {"acme": acme}

            site.services.status = status
            client, _ = await site.login()
            page = (await client.get("/admin")).text
            table = re.search(r'<table id="acme">.*?</table>', page, re.S).group()
            assert "mx.test, mta-sts.example.com" in table and "2027-03-16 08:00" in table
            assert '<tr class="problem"><td>autoconfig.example.com' in table and "&lt;b&gt;rateLimited" in table
            await client.aclose()

    run(body())
