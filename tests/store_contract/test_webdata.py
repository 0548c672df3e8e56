"""The web face's rows (``store.api.WebStore``) on every backend: sessions, tokens, app passwords,
logins, settings, received reports, delivery counts, queue samples; an account's rows go with it."""

from __future__ import annotations

from pathlib import Path

from pillarbox.store.api import Backend
from tests import stores
from tests.conftest import run_against


def test_web_rows_round_trip_and_go_with_their_account(with_store):
    async def body(store: Backend) -> None:
        await store.add_domain("example.com")
        await store.add_account("bob@example.com", "hash", None)
        await store.set_admin("bob@example.com", True)
        assert (await store.get_account("bob@example.com")).admin
        await store.add_web_session("s1", "bob@example.com", "csrf", "192.0.2.1", 3600)
        session = await store.get_web_session("s1")
        assert (session.address, session.admin, session.csrf, session.ip) == ("bob@example.com", True, "csrf",
                                                                              "192.0.2.1")
        token = await store.add_api_token("bob@example.com", "ci", "th")
        assert [t.name for t in await store.api_tokens("bob@example.com")] == ["ci"]
        assert (await store.find_api_token("th")).id == token and await store.find_api_token("nope") is None
        assert (await store.api_tokens())[0].last_used is not None
        app = await store.add_app_password("bob@example.com", "phone", "ph")
        assert await store.use_app_password("bob@example.com", "ph")
        assert not await store.use_app_password("bob@example.com", "wrong")
        assert [p.id for p in await store.app_passwords("bob@example.com")] == [app]
        await store.record_login("bob@example.com", "imap", "192.0.2.2")
        assert [(r.protocol, r.ip) for r in await store.recent_logins("bob@example.com")] == [("imap", "192.0.2.2")]
        await store.set_account_setting("bob@example.com", "vacation", {"on": True})
        await store.set_account_setting("bob@example.com", "forward", "x@remote.test")
        await store.set_account_setting("bob@example.com", "forward", None)
        assert await store.account_settings("bob@example.com") == {"vacation": {"on": True}}
        assert await store.add_received_report("dmarc", "google.com", "r1", "example.com", 10, 20, [{"n": 1}])
        assert not await store.add_received_report("dmarc", "google.com", "r1", "example.com", 10, 20, [])
        [report] = await store.received_reports("dmarc", since=15)
        assert (report.reporter, report.begin, report.end, report.rows) == ("google.com", 10, 20, [{"n": 1}])
        await store.count_delivery("Remote.TEST", "delivered")
        await store.count_delivery("remote.test", "delivered", 2)
        assert [(c.domain, c.result, c.count) for c in await store.delivery_counts(0)] == [
            ("remote.test", "delivered", 3)]
        assert await store.delete_app_password("bob@example.com", app)
        await store.delete_account("bob@example.com")
        assert await store.get_web_session("s1") is None and await store.api_tokens() == []

    with_store(body)


def test_queue_samples_one_per_second_and_old_ones_go(tmp_path: Path, store_url: str | None):
    now = [1000.0]

    async def body(store: Backend) -> None:
        await store.record_queue_sample({"pending": 3, "held": 1}, keep=100)
        await store.record_queue_sample({"pending": 4, "failed": 2}, keep=100)  # the same second: replaced
        now[0] = 1050.0
        await store.record_queue_sample({"held": 5}, keep=100)
        assert [(s.at, s.pending, s.held, s.failed) for s in await store.queue_samples(0)] == [
            (1000, 4, 0, 2), (1050, 0, 5, 0)]
        now[0] = 1120.0
        await store.record_queue_sample({}, keep=100)
        assert [s.at for s in await store.queue_samples(1050)] == [1050, 1120]
        now[0] = 1151.0
        await store.record_queue_sample({}, keep=100)
        assert [s.at for s in await store.queue_samples(0)] == [1120, 1151]

    run_against(lambda: stores.open_store(tmp_path / "data", store_url, clock=lambda: now[0]), body)
