"""SRS: rewritten senders reverse to the original; forged, altered and expired ones are refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarbox.mailauth.srs import DAY, SRSError, forward, is_srs, reverse

SECRET = b"s" * 32
NOW = 1_750_000_000.0


def test_forward_form_and_reverse() -> None:
    rewritten = forward("alice@origin.example", "fwd.example", SECRET, NOW)
    local, _, domain = rewritten.rpartition("@")
    assert domain == "fwd.example" and is_srs(rewritten)
    tag, _hash, _day, origin, original = local.split("=")
    assert (tag, origin, original) == ("SRS0", "origin.example", "alice")
    assert reverse(rewritten, SECRET, NOW + 5 * DAY) == "alice@origin.example"


def test_case_folded_by_a_relay_still_reverses() -> None:
    rewritten = forward("Alice@Origin.example", "fwd.example", SECRET, NOW)
    assert reverse(rewritten.lower(), SECRET, NOW).lower() == "alice@origin.example"


def test_null_sender_is_not_rewritten() -> None:
    assert forward("", "fwd.example", SECRET, NOW) == ""


@pytest.mark.parametrize("address", [
    "SRS0=AAAAAA=AB=origin.example=alice@fwd.example",
    "srs0=x=y@fwd.example",
    "alice@fwd.example",
    "SRS0=====@fwd.example",
])
def test_forged_addresses_are_refused(address: str) -> None:
    with pytest.raises(SRSError):
        reverse(address, SECRET, NOW)


def test_altered_original_is_refused() -> None:
    rewritten = forward("alice@origin.example", "fwd.example", SECRET, NOW)
    with pytest.raises(SRSError, match="forged"):
        reverse(rewritten.replace("=alice@", "=mallory@"), SECRET, NOW)
    with pytest.raises(SRSError, match="forged"):
        reverse(rewritten, b"other secret", NOW)


def test_expired_is_refused() -> None:
    rewritten = forward("alice@origin.example", "fwd.example", SECRET, NOW)
    assert reverse(rewritten, SECRET, NOW + 21 * DAY)
    with pytest.raises(SRSError, match="expired"):
        reverse(rewritten, SECRET, NOW + 22 * DAY)


@given(st.from_regex(r"[a-z0-9.+=_-]{1,20}", fullmatch=True),
       st.from_regex(r"[a-z0-9-]{1,10}\.example", fullmatch=True))
def test_round_trip(local: str, domain: str) -> None:
    assert reverse(forward(f"{local}@{domain}", "fwd.example", SECRET, NOW), SECRET, NOW) == f"{local}@{domain}"
