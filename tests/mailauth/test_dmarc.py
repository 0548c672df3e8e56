"""DMARC: record parsing, discovery with the organizational domain, alignment, p/sp/pct."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pillarbox.dns.fake import TEMPFAIL, FakeResolver
from pillarbox.mailauth.dkim_verify import DKIMResult
from pillarbox.mailauth.dmarc import (
    Policy,
    aligned,
    check,
    check_message,
    discover,
    from_domains,
    parse_record,
    strictest,
)
from pillarbox.mailauth.psl import organizational_domain
from pillarbox.mailauth.spf import SPFResult, SPFVerdict


def dmarc(records: dict, from_domain: str, spf: SPFVerdict | None = None, dkim=(), sample=lambda: 0.0):
    return asyncio.run(check(FakeResolver(records), from_domain, spf, list(dkim), sample))


def spf_pass(domain: str) -> SPFVerdict:
    return SPFVerdict(SPFResult.PASS, domain, "mailfrom")


def dkim_pass(domain: str, partial: bool = False) -> DKIMResult:
    return DKIMResult("pass", domain=domain, selector="s", partial=partial)


def rec(name: str, text: str) -> dict:
    return {(f"_dmarc.{name}", "TXT"): [text]}


def test_parse_record() -> None:
    record = parse_record("v=DMARC1; p=reject; sp=quarantine; pct=50; adkim=s; aspf=s; rua=mailto:r@example.com")
    assert record is not None
    assert (record.policy, record.subdomain_policy, record.pct, record.adkim, record.aspf) == (
        Policy.REJECT, Policy.QUARANTINE, 50, "s", "s")
    assert record.rua == ("mailto:r@example.com",)
    assert parse_record("v=DMARC1; p=bogus") is None
    assert parse_record("v=DMARC1; p=bogus; rua=mailto:r@example.com").policy is Policy.NONE  # 6.6.3
    assert parse_record("v=spf1 -all") is None
    assert parse_record("p=reject; v=DMARC1") is None  # v must come first


@pytest.mark.parametrize(("domain", "org"), [
    ("example.com", "example.com"), ("a.b.example.com", "example.com"),
    ("mail.example.co.uk", "example.co.uk"), ("co.uk", "co.uk"),
])
def test_organizational_domain(domain: str, org: str) -> None:
    assert organizational_domain(domain) == org


def test_alignment_modes() -> None:
    assert aligned("mail.example.com", "example.com", "r")
    assert not aligned("mail.example.com", "example.com", "s")
    assert aligned("Example.COM", "example.com", "s")
    assert not aligned("example.co.uk", "other.co.uk", "r")  # public suffix is not an org domain
    assert not aligned("evil.test", "example.com", "r")


def test_discovery_falls_back_to_org_domain() -> None:
    records = rec("example.com", "v=DMARC1; p=reject")
    found = asyncio.run(discover(FakeResolver(records), "news.example.com"))
    assert found is not None and found.domain == "example.com"
    assert asyncio.run(discover(FakeResolver({}), "example.com")) is None
    two = {("_dmarc.example.com", "TXT"): ["v=DMARC1; p=reject", "v=DMARC1; p=none"]}
    assert asyncio.run(discover(FakeResolver(two), "example.com")) is None


def test_pass_by_aligned_spf_or_dkim() -> None:
    records = rec("example.com", "v=DMARC1; p=reject")
    assert dmarc(records, "example.com", spf=spf_pass("bounce.example.com")).result == "pass"
    assert dmarc(records, "example.com", dkim=[dkim_pass("example.com")]).result == "pass"
    verdict = dmarc(records, "example.com", spf=spf_pass("evil.test"), dkim=[dkim_pass("evil.test")])
    assert verdict.result == "fail" and verdict.disposition is Policy.REJECT


def test_strict_alignment() -> None:
    records = rec("example.com", "v=DMARC1; p=quarantine; adkim=s; aspf=s")
    assert dmarc(records, "example.com", spf=spf_pass("bounce.example.com")).result == "fail"
    assert dmarc(records, "example.com", dkim=[dkim_pass("mail.example.com")]).result == "fail"
    assert dmarc(records, "example.com", dkim=[dkim_pass("example.com")]).result == "pass"


def test_partial_dkim_does_not_satisfy_dmarc() -> None:
    records = rec("example.com", "v=DMARC1; p=reject")
    assert dmarc(records, "example.com", dkim=[dkim_pass("example.com", partial=True)]).result == "fail"


def test_spf_fail_does_not_align() -> None:
    records = rec("example.com", "v=DMARC1; p=reject")
    verdict = dmarc(records, "example.com", spf=SPFVerdict(SPFResult.SOFTFAIL, "example.com", "mailfrom"))
    assert verdict.result == "fail"


def test_subdomain_policy() -> None:
    records = rec("example.com", "v=DMARC1; p=reject; sp=quarantine")
    assert dmarc(records, "example.com").disposition is Policy.REJECT
    assert dmarc(records, "sub.example.com").disposition is Policy.QUARANTINE
    # a subdomain with its own record uses that record's p
    records.update(rec("sub.example.com", "v=DMARC1; p=none"))
    assert dmarc(records, "sub.example.com").disposition is Policy.NONE


def test_pct_sampling() -> None:
    records = rec("example.com", "v=DMARC1; p=reject; pct=25")
    assert dmarc(records, "example.com", sample=lambda: 0.10).disposition is Policy.REJECT
    sampled_out = dmarc(records, "example.com", sample=lambda: 0.90)
    assert sampled_out.result == "fail" and sampled_out.disposition is Policy.QUARANTINE
    quarantine = rec("example.com", "v=DMARC1; p=quarantine; pct=0")
    assert dmarc(quarantine, "example.com", sample=lambda: 0.0).disposition is Policy.NONE


def test_none_and_temperror() -> None:
    assert dmarc({}, "example.com").result == "none"
    assert dmarc({("_dmarc.example.com", "TXT"): TEMPFAIL}, "example.com").result == "temperror"
    records = rec("example.com", "v=DMARC1; p=reject")
    key_trouble = [DKIMResult("temperror", domain="example.com")]
    assert dmarc(records, "example.com", dkim=key_trouble).result == "temperror"


def test_from_domains_and_several_from() -> None:
    raw = b"From: A <a@Example.com>, b@other.test\r\nFrom: c@example.com\r\nSubject: x\r\n\r\nbody\r\n"
    assert from_domains(raw) == ["example.com", "other.test"]
    assert from_domains(b"Subject: no from\r\n\r\n") == []
    records = {**rec("example.com", "v=DMARC1; p=none"), **rec("other.test", "v=DMARC1; p=reject")}
    verdicts = asyncio.run(check_message(FakeResolver(records), raw, None, [], lambda: 0.0))
    decisive = strictest(verdicts)
    assert decisive is not None and decisive.from_domain == "other.test" and decisive.disposition is Policy.REJECT


ORG_REJECTS = rec("example.com", "v=DMARC1; p=reject")


@pytest.mark.parametrize("published", [
    ["v=DMARC1; p=none", "v=DMARC1; p=none; rua=mailto:r@example.com"],  # two records (6.6.3 step 5)
    ["v=DMARC1; p=bogus"],  # invalid p and no rua (step 6.2)
    ["v=DMARC1; sp=reject"],  # no p at all
    ["v=DMARC1"],
    ["V = DMARC1 ;p=reject=x", "v=spf1 -all"],
])
def test_an_unusable_record_at_the_from_domain_is_no_policy_not_the_org_domains(published: list[str]) -> None:
    """6.6.3: the organizational domain is asked only when the From domain publishes no DMARC record."""
    records = {**ORG_REJECTS, ("_dmarc.news.example.com", "TXT"): published}
    assert asyncio.run(discover(FakeResolver(records), "news.example.com")) is None
    verdict = dmarc(records, "news.example.com")
    assert verdict.result == "none" and verdict.disposition is Policy.NONE


@pytest.mark.parametrize("published", [
    [],
    ["v=spf1 -all", "google-site-verification=x"],
    ["v=dmarc1; p=none"],  # the version value must be exactly "DMARC1" (6.3): not a DMARC record
    ["v=DMARC10; p=none"],
])
def test_no_dmarc_record_at_the_from_domain_falls_back(published: list[str]) -> None:
    records = {**ORG_REJECTS, ("_dmarc.news.example.com", "TXT"): published}
    found = asyncio.run(discover(FakeResolver(records), "news.example.com"))
    assert found is not None and found.domain == "example.com"


def test_invalid_p_with_rua_is_p_none_at_the_from_domain() -> None:
    records = {**ORG_REJECTS, **rec("news.example.com", "v=DMARC1; p=rejectt; rua=mailto:r@example.com")}
    found = asyncio.run(discover(FakeResolver(records), "news.example.com"))
    assert found is not None and (found.domain, found.record.policy) == ("news.example.com", Policy.NONE)


@pytest.mark.parametrize(("pct", "expected"), [
    ("50", 50), ("0", 0), ("100", 100), ("050", 50), (" 7 ", 7),
    ("-5", 100), ("101", 100), ("150", 100), ("1000", 100), ("+50", 100), ("50.5", 100), ("", 100), ("x", 100),
])
def test_pct_outside_0_to_100_is_100(pct: str, expected: int) -> None:
    record = parse_record(f"v=DMARC1; p=reject; pct={pct}")
    assert record is not None and record.pct == expected


def test_other_malformed_tags_take_their_defaults() -> None:
    record = parse_record("v=DMARC1; adkim=x; aspf=; p=quarantine; fo=1; unknown=tag; p=none; rua=ftp://x")
    assert record is not None
    assert (record.policy, record.adkim, record.aspf, record.rua) == (Policy.QUARANTINE, "r", "r", ())
    assert parse_record("v=DMARC1; p=reject; sp=bogus") is None  # invalid sp, no rua (6.6.3 step 6)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["v", "p", "sp", "pct", "adkim", "aspf", "rua", "fo", "x", " P "]),
                          st.sampled_from(["DMARC1", "reject", "none", "quarantine", "s", "r", "-1", "101", "33",
                                           "mailto:a@b.test", "", "=", " ; "])), max_size=8))
def test_parse_record_never_raises_and_keeps_pct_in_range(tags: list[tuple[str, str]]) -> None:
    text = "; ".join(f"{name}={value}" for name, value in tags)
    record = parse_record(text)
    if record is not None:
        assert 0 <= record.pct <= 100 and record.adkim in "rs" and record.aspf in "rs"
        assert text.startswith("v=DMARC1")
