"""MTA-STS (RFC 8461): policy parsing, MX matching, the cache, and failures counted for TLS-RPT."""

from __future__ import annotations

import ssl

import pytest

from pillarbox.dns.fake import TEMPFAIL, FakeResolver
from pillarbox.outbound.mtasts import (
    MTASTS,
    PolicyError,
    PolicyFetchError,
    fetch_failure_type,
    mx_matches,
    parse_policy,
    parse_txt,
)

POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mx.b.test\r\nmx: *.backup.b.test\r\nmax_age: 86400\r\n"


def test_parse_policy_and_txt():
    policy = parse_policy(POLICY, "1")
    assert (policy.mode, policy.mx, policy.max_age) == ("enforce", ("mx.b.test", "*.backup.b.test"), 86400)
    assert policy.allows("MX.b.test.") and policy.allows("a.backup.b.test") and not policy.allows("a.b.backup.b.test")
    assert parse_txt([b"v=STSv1; id=abc123"]) == "abc123"
    assert parse_txt([b"v=STSv1; id=a", b"v=STSv1; id=b"]) is None
    with pytest.raises(PolicyError):
        parse_policy("version: STSv1\nmode: enforce\nmax_age: 1\n")  # no mx


def test_wildcard_is_one_label():
    assert mx_matches("x.b.test", "*.b.test") and not mx_matches("b.test", "*.b.test")


def test_fetch_failure_types():
    assert fetch_failure_type(ssl.SSLCertVerificationError("bad")) == "sts-webpki-invalid"
    assert fetch_failure_type(PolicyError("bad mode")) == "sts-policy-invalid"
    assert fetch_failure_type(PolicyFetchError("HTTP status 404")) == "sts-policy-fetch-error"
    assert fetch_failure_type(ConnectionRefusedError()) == "sts-policy-fetch-error"


def make(store, resolver, fetched: list, answer, now: list[float]) -> tuple[MTASTS, list]:
    failures: list[tuple[str, str]] = []

    async def on_failure(domain: str, result: str) -> None:
        failures.append((domain, result))

    sts = MTASTS(store, resolver, clock=lambda: now[0], on_failure=on_failure)

    async def fetch(domain: str) -> str:
        fetched.append(domain)
        if isinstance(answer[0], BaseException):
            raise answer[0]
        return answer[0]

    sts.fetch = fetch  # type: ignore[method-assign]
    return sts, failures


def test_cache_id_change_and_failures(with_store):
    resolver = FakeResolver({("_mta-sts.b.test", "TXT"): ["v=STSv1; id=one"]})
    fetched: list[str] = []
    answer: list[object] = [POLICY]
    now = [1000.0]

    async def body(store) -> None:
        sts, failures = make(store, resolver, fetched, answer, now)
        assert (await sts.policy("b.test")).mode == "enforce"
        assert (await sts.policy("b.test")).mode == "enforce"
        assert fetched == ["b.test"]  # same id: from the cache
        resolver.records[("_mta-sts.b.test", "TXT")] = ["v=STSv1; id=two"]
        answer[0] = PolicyFetchError("HTTP status 404")
        assert (await sts.policy("b.test")).mode == "enforce"  # new id, fetch fails: the cached policy holds (5.1)
        assert failures == [("b.test", "sts-policy-fetch-error")]
        resolver.records[("_mta-sts.b.test", "TXT")] = TEMPFAIL
        assert (await sts.policy("b.test")).mode == "enforce"  # DNS blocked: still the cache
        now[0] += 86401
        assert await sts.policy("b.test") is None  # expired and no TXT answer

    with_store(body)


def test_invalid_policy_without_cache_is_none_and_reported(with_store):
    resolver = FakeResolver({("_mta-sts.c.test", "TXT"): ["v=STSv1; id=x"]})

    async def body(store) -> None:
        sts, failures = make(store, resolver, [], ["version: STSv1\nmode: sometimes\nmax_age: 5\n"], [0.0])
        assert await sts.policy("c.test") is None
        assert failures == [("c.test", "sts-policy-invalid")]

    with_store(body)
