"""MX ordering, implicit MX, null MX and smarthost routes."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarbox.config import Endpoint
from pillarbox.dns.fake import TEMPFAIL, FakeResolver
from pillarbox.dns.resolver import DNSTemporaryError, MXRecord
from pillarbox.outbound.mx import NoRoute, NullMX, find_route, mx_hosts, order_mx, relay_for

records = st.lists(st.tuples(st.integers(0, 50), st.sampled_from([f"h{n}.test" for n in range(8)])), min_size=1)


@given(records, st.integers())
def test_order_respects_preference(items, seed):
    mx = [MXRecord(p, h) for p, h in items]
    hosts = order_mx(mx, random.Random(seed))
    best = {h: min(p for p, x in items if x == h) for _, h in items}
    assert sorted(hosts) == sorted(best)
    prefs = [min(p for p, x in items if x == h) for h in hosts]
    assert prefs == sorted(prefs) or len(set(hosts)) != len(hosts)


def test_equal_preferences_are_shuffled():
    mx = [MXRecord(10, f"h{n}.test") for n in range(6)]
    firsts = {order_mx(mx, random.Random(seed))[0] for seed in range(50)}
    assert len(firsts) > 1


def test_null_mx_and_null_mixed_with_real():
    with pytest.raises(NullMX):
        order_mx([MXRecord(0, "")])
    assert order_mx([MXRecord(0, ""), MXRecord(10, "mx.test")]) == ["mx.test"]


def test_implicit_mx_no_route_and_tempfail():
    fake = FakeResolver({("a.test", "A"): ["127.0.0.2"], ("bad.test", "MX"): TEMPFAIL})
    assert asyncio.run(mx_hosts("a.test", fake)) == ["a.test"]
    with pytest.raises(NoRoute):
        asyncio.run(mx_hosts("none.test", fake))
    with pytest.raises(DNSTemporaryError):
        asyncio.run(mx_hosts("bad.test", fake))


def test_smarthost_routes():
    routes = (("example.net", Endpoint("relay.test", 587)),)
    assert relay_for("sub.example.net", routes, None) == Endpoint("relay.test", 587)
    assert relay_for("other.test", routes, Endpoint("smart.test", 25)) == Endpoint("smart.test", 25)
    route = asyncio.run(find_route("example.net", FakeResolver(), 25, routes))
    assert route.relay and route.hosts == ("relay.test",) and route.port == 587
