"""The Authenticator with a fake clock: an unknown user costs the same work and is answered at the same
moment as a wrong password; the verified-credentials cache saves argon2id only where it may."""

from __future__ import annotations

from functools import partial
from typing import TypeVar

import pytest

from pillarbox.auth.authenticator import Authenticator, LoginRefused
from pillarbox.auth.login_cache import LoginCache
from pillarbox.auth.passwords import CHEAP, HashParameters, PasswordHashing, make_credentials
from pillarbox.auth.throttle import LoginThrottle, ThrottleSettings
from pillarbox.store.sqlite.store import SQLiteStore

T = TypeVar("T")
PASSWORD = "correct horse battery"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


class CountingHashing(PasswordHashing):
    """Real (cheap) hashing, inline, each check counted and taking ``work`` seconds of fake time: a
    real user's hash may be slower or faster to check than the dummy one."""

    def __init__(self, time: FakeTime, parameters: HashParameters = CHEAP) -> None:
        super().__init__(parameters)
        self.time, self.checks, self.work = time, [], {True: 0.3, False: 0.02}

    async def run(self, fn: partial[T]) -> T:
        return fn()

    def verify(self, password_hash: str | None, password: str) -> bool:
        self.checks.append(password_hash is not None)
        self.time.now += self.work[password_hash is not None]
        return super().verify(password_hash, password)


async def make(store: SQLiteStore, hashing_parameters: HashParameters = CHEAP) -> tuple[Authenticator, FakeTime]:
    time = FakeTime()
    await store.add_domain("example.com")
    await store.add_account("bob@example.com", *make_credentials(PASSWORD))
    throttle = LoginThrottle(store, ThrottleSettings(failure_delay=1.0))
    cache = LoginCache(ttl=600, size=100, clock=time)
    return Authenticator(store, throttle, CountingHashing(time, hashing_parameters), cache, time, time.sleep), time


async def refused_at(auth: Authenticator, time: FakeTime, ip: str, user: str, password: str) -> float:
    started = time.now
    with pytest.raises(LoginRefused):
        await auth.login("imap", ip, user, password, secure=True)
    return time.now - started


def test_an_unknown_user_costs_the_same_work_and_is_answered_at_the_same_moment(with_store):
    async def body(store: SQLiteStore) -> None:
        auth, time = await make(store)
        hashing = auth.hashing
        assert isinstance(hashing, CountingHashing)
        wrong = await refused_at(auth, time, "192.0.2.1", "bob@example.com", "wrong")
        unknown = await refused_at(auth, time, "192.0.2.2", "nobody@example.com", "wrong")
        malformed = await refused_at(auth, time, "192.0.2.3", "not an address", "wrong")
        assert hashing.checks == [True, False, False]  # one argon2id check each, a dummy one for no user
        assert wrong == unknown == malformed == 1.0  # the failure delay after the start, whatever the work took

    with_store(body)


def test_the_cache_spares_argon2_for_a_right_password_and_nothing_else(with_store):
    async def body(store: SQLiteStore) -> None:
        auth, time = await make(store)
        hashing = auth.hashing
        assert isinstance(hashing, CountingHashing)
        for _ in range(3):
            await auth.login("imap", "192.0.2.1", "bob@example.com", PASSWORD, secure=True)
        assert hashing.checks == [True]
        await refused_at(auth, time, "192.0.2.1", "bob@example.com", "wrong")  # a wrong one is always checked
        assert hashing.checks == [True, True]
        time.now += 601  # the TTL runs from the check, not from the last use
        await auth.login("imap", "192.0.2.1", "bob@example.com", PASSWORD, secure=True)
        assert hashing.checks == [True, True, True]

    with_store(body)


def test_a_cached_password_does_not_outlive_a_change_or_unlock_a_locked_address(with_store):
    async def body(store: SQLiteStore) -> None:
        auth, time = await make(store)
        await auth.login("imap", "192.0.2.1", "bob@example.com", PASSWORD, secure=True)
        for n in range(10):
            await refused_at(auth, time, "198.51.100.1", "bob@example.com", f"guess {n}")
        await refused_at(auth, time, "198.51.100.1", "bob@example.com", PASSWORD)  # locked: the cache is not asked
        await store.set_password("bob@example.com", *make_credentials("new password"))  # by another process
        await refused_at(auth, time, "192.0.2.1", "bob@example.com", PASSWORD)
        await auth.login("imap", "192.0.2.1", "bob@example.com", "new password", secure=True)

    with_store(body)


def test_no_login_without_tls(with_store):
    async def body(store: SQLiteStore) -> None:
        auth, _time = await make(store)
        with pytest.raises(LoginRefused):
            await auth.login("imap", "127.0.0.1", "bob@example.com", PASSWORD, secure=False)
        with pytest.raises(LoginRefused):
            auth.start_sasl("smtp", "127.0.0.1", "PLAIN", secure=False)

    with_store(body)


def test_an_upgrade_never_undoes_a_password_changed_meanwhile(with_store):
    """The hashes are remade from the password just checked, but only if the stored hash is still the
    one that was checked (compare-and-set in the store)."""

    async def body(store: SQLiteStore) -> None:
        stronger = HashParameters(argon2_memory_kib=16, argon2_time_cost=1, argon2_parallelism=1,
                                  scram_iterations=5000)
        auth, _time = await make(store, stronger)
        before = await store.get_credentials("bob@example.com")
        assert before is not None and auth.hashing.needs_upgrade(before.password_hash, before.scram_sha256)
        await auth.login("imap", "192.0.2.1", "bob@example.com", PASSWORD, secure=True)
        after = await store.get_credentials("bob@example.com")
        assert after is not None and not auth.hashing.needs_upgrade(after.password_hash, after.scram_sha256)
        assert not await store.replace_credentials("bob@example.com", before.password_hash, "x", None)
        assert await store.get_credentials("bob@example.com") == after

    with_store(body)
