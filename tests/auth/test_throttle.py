"""The login throttle: counted per IP and per account, in the store, so every process shares it."""

from __future__ import annotations

from tests.stores import open_another

from pillarbox.auth.throttle import WINDOW_SECONDS, LoginThrottle, Standing
from pillarbox.store.api import Store


def test_failures_slow_down_then_lock_the_ip_and_a_success_clears_only_the_account(with_store):
    now = [1_000_000.0]

    async def body(store: Store) -> None:
        throttle = LoginThrottle(store, max_failures=3, clock=lambda: now[0])
        assert await throttle.standing("192.0.2.1", "Bob@Example.com") == Standing(0, 0)
        delays = []
        for _ in range(3):
            standing = await throttle.standing("192.0.2.1", "bob@example.com")
            assert not throttle.is_locked(standing)
            delays.append(throttle.failure_delay(standing))
            await throttle.record_failure("192.0.2.1", "BOB@example.com")  # account names in any case
        assert delays == [1.0, 1.5, 2.0]
        assert throttle.is_locked(await throttle.standing("192.0.2.1", None))
        assert not throttle.is_locked(await throttle.standing("192.0.2.2", "bob@example.com"))
        await throttle.record_success("bob@example.com")
        assert await throttle.standing("192.0.2.1", "bob@example.com") == Standing(3, 0)
        now[0] += WINDOW_SECONDS + 1  # the failures age out
        assert await throttle.standing("192.0.2.1", "bob@example.com") == Standing(0, 0)

    with_store(body)


def test_many_ips_guessing_one_account_lock_the_account(with_store):
    async def body(store: Store) -> None:
        throttle = LoginThrottle(store, max_failures=2)
        for n in range(6):
            await throttle.record_failure(f"198.51.100.{n}", "carol@example.com")
        assert throttle.is_locked(await throttle.standing("203.0.113.9", "carol@example.com"))
        assert not throttle.is_locked(await throttle.standing("203.0.113.9", "dave@example.com"))

    with_store(body)


def test_another_process_sees_the_failures(with_store):
    """Two stores on one data_dir, as two server processes (``workers``) have."""

    async def body(store: Store) -> None:
        other = await open_another(store)
        try:
            mine, theirs = LoginThrottle(store, max_failures=2), LoginThrottle(other, max_failures=2)
            await mine.record_failure("192.0.2.7", "bob@example.com")
            await theirs.record_failure("192.0.2.7", "bob@example.com")
            assert mine.is_locked(await mine.standing("192.0.2.7", None))
            assert theirs.is_locked(await theirs.standing("192.0.2.7", None))
        finally:
            await other.close()

    with_store(body)
