"""Sending limits and bounce tracking with a fake clock against the real store."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pillarbox.antispam.sending import LimitReached, SendingLimits
from pillarbox.config import AntispamConfig
from pillarbox.store.api import Store
from tests import stores

SETTINGS = replace(AntispamConfig(), max_messages_per_hour=2, max_recipients_per_hour=0, max_bounces_per_hour=3)


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def with_account(tmp_path: Path, store_url: str | None) -> tuple[Store, object]:
    store = await stores.open_store(tmp_path / "data", store_url)
    await store.add_domain("example.com")
    return store, await store.add_account("bob@example.com", "x", None)


@pytest.mark.parametrize("backend", stores.BACKENDS)
def test_the_hour_slides(tmp_path: Path, store_url, run):
    async def body() -> None:
        store, bob = await with_account(tmp_path, store_url)
        clock = Clock()
        limits = SendingLimits(store, SETTINGS, clock)
        try:
            for _ in range(2):
                assert await limits.check_message(bob) is None  # type: ignore[arg-type]
                await limits.sent(bob, "bob@example.com", ["x@remote.test"])  # type: ignore[arg-type]
            assert await limits.check_message(bob) == LimitReached("messages", 2)  # type: ignore[arg-type]
            assert await limits.check_recipient(bob, 10_000) is None  # type: ignore[arg-type]  # 0: no limit
            clock.now += 3601
            assert await limits.check_message(bob) is None  # type: ignore[arg-type]
        finally:
            await store.close()

    run(body())


@pytest.mark.parametrize("backend", stores.BACKENDS)
def test_an_account_that_bounces_a_lot_is_held_when_configured(tmp_path: Path, store_url, run):
    async def body() -> None:
        store, bob = await with_account(tmp_path, store_url)
        clock = Clock()
        try:
            reporting = SendingLimits(store, SETTINGS, clock)
            await reporting.bounced("bob@example.com", 3)
            assert await reporting.check_message(bob) is None  # type: ignore[arg-type]  # reported, not held
            holding = SendingLimits(store, replace(SETTINGS, hold_suspects=True), clock)
            await holding.bounced("bob@example.com", 1)
            assert await holding.check_message(bob) == LimitReached("held")  # type: ignore[arg-type]
            policy = await store.sending_policy(bob.id)  # type: ignore[attr-defined]
            assert policy.held_reason == "4 bounces in an hour"
            await holding.bounced("nobody@example.com", 5)  # not an account: nothing to do
        finally:
            await store.close()

    run(body())
