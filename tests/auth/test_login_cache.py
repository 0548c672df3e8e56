"""The verified-credentials cache on its own: TTL, invalidation by the stored hash, bounded size."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pillarbox.auth.login_cache import LoginCache
from pillarbox.store.records import Credentials


def credentials(address: str = "bob@example.com", password_hash: str = "$argon2id$one") -> Credentials:
    return Credentials(1, address, password_hash, None)


def test_remembers_a_password_for_its_ttl_only():
    now = [0.0]
    cache = LoginCache(ttl=60, size=10, clock=lambda: now[0])
    assert not cache.verified(credentials(), "secret")
    cache.remember(credentials(), "secret")
    assert cache.verified(credentials(), "secret")
    assert not cache.verified(credentials(), "Secret")
    now[0] = 59.9
    assert cache.verified(credentials(), "secret")
    now[0] = 60
    assert not cache.verified(credentials(), "secret") and len(cache) == 0


def test_a_new_stored_hash_makes_the_entry_miss():
    cache = LoginCache(ttl=60, size=10)
    cache.remember(credentials(), "secret")
    assert not cache.verified(credentials(password_hash="$argon2id$two"), "secret")


def test_one_entry_per_account_and_the_least_recently_used_go_first():
    cache = LoginCache(ttl=60, size=3)
    for n in range(3):
        cache.remember(credentials(f"u{n}@example.com"), "secret")
    cache.remember(credentials("u0@example.com"), "other")  # replaces u0's entry, and u0 is now the newest
    assert len(cache) == 3
    cache.remember(credentials("u3@example.com"), "secret")
    assert not cache.verified(credentials("u1@example.com"), "secret")
    assert cache.verified(credentials("u0@example.com"), "other")
    assert cache.verified(credentials("u3@example.com"), "secret")


def test_a_ttl_or_size_of_zero_turns_it_off():
    for cache in (LoginCache(ttl=0, size=10), LoginCache(ttl=60, size=0)):
        cache.remember(credentials(), "secret")
        assert not cache.verified(credentials(), "secret")


@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), min_size=1, max_size=30))
def test_never_more_entries_than_its_size_and_never_a_wrong_password(logins: list[tuple[str, str]]):
    cache = LoginCache(ttl=60, size=5)
    for user, password in logins:
        cache.remember(credentials(user), password)
        assert len(cache) <= 5
        assert not cache.verified(credentials(user), password + "x")
