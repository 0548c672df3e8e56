"""The login throttle: per IP it slows and stops, per account it only delays untrusted networks; all
counted in the store, so every process shares it."""

from __future__ import annotations

import asyncio

import pytest

from pillarbox.auth.throttle import Attempt, LoginThrottle, Standing, ThrottleSettings, network_of
from pillarbox.store.api import Store
from tests.stores import open_another

WINDOW = 900.0


async def fail(throttle: LoginThrottle, ip: str, account: str | None) -> Attempt | None:
    """One wrong password: the check is recorded pending, then settled as a failure."""
    attempt = await throttle.begin(ip, account)
    if attempt is not None:
        await throttle.failed(attempt)
    return attempt


def test_failures_slow_down_then_lock_the_ip_and_age_out(with_store):
    now = [1_000_000.0]

    async def body(store: Store) -> None:
        throttle = LoginThrottle(store, ThrottleSettings(max_ip_failures=3), clock=lambda: now[0])
        assert await throttle.standing("192.0.2.1", "Bob@Example.com") == Standing(0, 0)
        delays = []
        for _ in range(3):
            delays.append(throttle.failure_delay(await throttle.standing("192.0.2.1", "bob@example.com")))
            assert await fail(throttle, "192.0.2.1", "BOB@example.com") is not None  # names in any case
        assert delays == [1.0, 1.5, 2.0]
        assert throttle.is_locked(await throttle.standing("192.0.2.1", None))
        assert await throttle.begin("192.0.2.1", "bob@example.com") is None  # locked: not even counted
        assert await throttle.standing("192.0.2.1", "bob@example.com") == Standing(3, 3)
        assert not throttle.is_locked(await throttle.standing("192.0.2.2", "bob@example.com"))
        now[0] += WINDOW + 1  # the failures age out
        assert await throttle.standing("192.0.2.1", "bob@example.com") == Standing(0, 0)

    with_store(body)


def test_a_pending_check_counts_only_once_settled_and_a_success_forgets_it(with_store):
    async def body(store: Store) -> None:
        throttle = LoginThrottle(store)
        await fail(throttle, "192.0.2.1", "bob@example.com")
        attempt = await throttle.begin("192.0.2.1", "bob@example.com")
        assert isinstance(attempt, Attempt) and attempt.standing == Standing(1, 1)
        assert await throttle.standing("192.0.2.1", "bob@example.com") == Standing(1, 1)  # pending: not yet
        await throttle.succeeded(attempt, "192.0.2.1", "bob@example.com")
        assert await throttle.standing("192.0.2.1", "bob@example.com") == Standing(1, 1)

    with_store(body)


def test_parallel_guesses_from_one_ip_get_the_limit_checked_and_no_more(with_store):
    async def body(store: Store) -> None:
        throttle = LoginThrottle(store, ThrottleSettings(max_ip_failures=10))
        attempts = await asyncio.gather(*(fail(throttle, "192.0.2.9", "bob@example.com") for _ in range(20)))
        assert sum(a is not None for a in attempts) == 10
        assert throttle.is_locked(await throttle.standing("192.0.2.9", None))

    with_store(body)


def test_parallel_right_passwords_from_one_ip_wait_for_a_slot_but_all_get_in(with_store):
    """Fifty users behind one address at once: at most ten checks run together, none is refused."""

    async def body(store: Store) -> None:
        throttle = LoginThrottle(store, ThrottleSettings(max_ip_failures=10))
        running, most = 0, 0

        async def login(n: int) -> bool:
            nonlocal running, most
            attempt = await throttle.begin("192.0.2.10", f"user{n}@example.com")
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.01)  # the check
            running -= 1
            await throttle.succeeded(attempt, "192.0.2.10", f"user{n}@example.com")
            return attempt is not None

        assert all(await asyncio.gather(*(login(n) for n in range(50))))
        assert most <= 10
        assert await throttle.standing("192.0.2.10", None) == Standing(0, 0)

    with_store(body)


def test_many_ips_guessing_one_account_delay_only_untrusted_networks(with_store):
    """The owner's network keeps logging in at once; elsewhere the delay grows with the failures, capped."""
    settings = ThrottleSettings(account_failures=5, account_delay=2.0, max_account_delay=9.0)

    async def body(store: Store) -> None:
        throttle = LoginThrottle(store, settings)
        await throttle.succeeded(None, "198.51.100.7", "carol@example.com")  # her usual network
        delays = []
        for n in range(8):
            await fail(throttle, f"203.0.{n}.1", "carol@example.com")
            standing = await throttle.standing("192.0.2.200", "carol@example.com")
            assert not throttle.is_locked(standing)
            delays.append(await throttle.account_delay("192.0.2.200", "carol@example.com", standing))
            assert await throttle.account_delay("198.51.100.99", "carol@example.com", standing) == 0.0  # same /24
        assert delays == [0.0, 0.0, 0.0, 0.0, 2.0, 4.0, 6.0, 8.0]
        assert await throttle.account_delay("192.0.2.200", "carol@example.com", Standing(0, 50)) == 9.0  # capped
        assert await throttle.account_delay("192.0.2.200", "dave@example.com", Standing(0, 0)) == 0.0

    with_store(body)


def test_a_trusted_network_expires_after_its_days(with_store):
    now = [5_000_000.0]
    settings = ThrottleSettings(account_failures=1, trusted_for=30 * 86400)

    async def body(store: Store) -> None:
        throttle = LoginThrottle(store, settings, clock=lambda: now[0])
        await throttle.succeeded(None, "2001:db8:1:2::5", "bob@example.com")
        under_attack = Standing(0, 3)
        assert await throttle.account_delay("2001:db8:1:2:ffff::1", "bob@example.com", under_attack) == 0.0
        assert await throttle.account_delay("2001:db8:1:3::1", "bob@example.com", under_attack) > 0  # another /64
        now[0] += 31 * 86400
        assert await throttle.account_delay("2001:db8:1:2::5", "bob@example.com", under_attack) > 0

    with_store(body)


@pytest.mark.parametrize(("ip", "network"), [
    ("192.0.2.77", "192.0.2.0/24"),
    ("::ffff:192.0.2.77", "192.0.2.0/24"),
    ("2001:db8:a:b:c:d:e:f", "2001:db8:a:b::/64"),
    ("not an address", "not an address"),
])
def test_network_of(ip: str, network: str) -> None:
    assert network_of(ip) == network


def test_another_process_sees_the_failures(with_store):
    """Two stores on one data: two server processes (``workers``) on a data_dir, or two nodes."""

    async def body(store: Store) -> None:
        other = await open_another(store)
        try:
            settings = ThrottleSettings(max_ip_failures=2)
            mine, theirs = LoginThrottle(store, settings), LoginThrottle(other, settings)
            await fail(mine, "192.0.2.7", "bob@example.com")
            await fail(theirs, "192.0.2.7", "bob@example.com")
            assert mine.is_locked(await mine.standing("192.0.2.7", None))
            assert theirs.is_locked(await theirs.standing("192.0.2.7", None))
        finally:
            await other.close()

    with_store(body)
