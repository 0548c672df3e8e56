"""SPF (RFC 7208) against an in-memory resolver, including cases from the RFC 7208 test suite."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pillarbox.dns.fake import TEMPFAIL, FakeResolver
from pillarbox.mailauth.spf import SPFError, SPFResult, check_host, parse_record


def spf(records: dict, ip: str, domain: str = "example.com", sender: str | None = None, helo: str = "mail.example.com"):
    resolver = FakeResolver(records)
    sender = sender if sender is not None else f"user@{domain}"
    return asyncio.run(check_host(resolver, ip, domain, sender, helo=helo, now=1_000_000))


def txt(name: str, *texts: str) -> dict:
    return {(name, "TXT"): list(texts)}


@pytest.mark.parametrize(("record", "result"), [
    ("v=spf1 ip4:192.0.2.0/24 -all", SPFResult.PASS),
    ("v=spf1 ip4:198.51.100.1 -all", SPFResult.FAIL),
    ("v=spf1 ip4:198.51.100.1 ~all", SPFResult.SOFTFAIL),
    ("v=spf1 ip4:198.51.100.1 ?all", SPFResult.NEUTRAL),
    ("v=spf1 ip4:198.51.100.1", SPFResult.NEUTRAL),
    ("v=spf1 -ip4:192.0.2.7 +all", SPFResult.FAIL),
    ("V=SPF1 IP4:192.0.2.7 -ALL", SPFResult.PASS),
])
def test_qualifiers(record: str, result: SPFResult) -> None:
    assert spf(txt("example.com", record), "192.0.2.7").result is result


def test_none_without_record_and_with_other_txt() -> None:
    assert spf({}, "192.0.2.7").result is SPFResult.NONE
    assert spf(txt("example.com", "google-site-verification=x", "v=spf10 -all"), "192.0.2.7").result is SPFResult.NONE


def test_two_records_is_permerror() -> None:
    assert spf(txt("example.com", "v=spf1 -all", "v=spf1 +all"), "192.0.2.7").result is SPFResult.PERMERROR


def test_temperror_on_servfail() -> None:
    verdict = spf({("example.com", "TXT"): TEMPFAIL}, "192.0.2.7")
    assert verdict.result is SPFResult.TEMPERROR


def test_temperror_inside_include() -> None:
    records = {**txt("example.com", "v=spf1 include:other.test -all"), ("other.test", "TXT"): TEMPFAIL}
    assert spf(records, "192.0.2.7").result is SPFResult.TEMPERROR


@pytest.mark.parametrize("record", [
    "v=spf1 foo:bar -all",  # unknown mechanism
    "v=spf1 ip4:192.0.2.300 -all",
    "v=spf1 ip4:192.0.2.0/33 -all",
    "v=spf1 ip4:192.0.2.0/032 -all",  # leading zero in the CIDR length
    "v=spf1 a:foo.example.com/129 -all",
    "v=spf1 redirect=a.test redirect=b.test",
    "v=spf1 include -all",
    "v=spf1 a:foo.-bar -all",
    "v=spf1 a:example.123 -all",  # toplabel must not be all digits
    "v=spf1 exists:%{x}.example.com -all",  # unknown macro letter
    "v=spf1 exists:%{i0}.example.com -all",  # zero labels
    "v=spf1 exists:%{c}.example.com -all",  # c only in exp
    "v=spf1 -all%",
])
def test_syntax_errors_are_permerror(record: str) -> None:
    # %{i0} is valid syntax but fails when expanded; both are permerrors
    assert spf(txt("example.com", record), "192.0.2.7").result is SPFResult.PERMERROR


def test_unknown_modifier_is_ignored() -> None:
    assert spf(txt("example.com", "v=spf1 foo=bar ip4:192.0.2.7 -all"), "192.0.2.7").result is SPFResult.PASS


def test_a_and_mx_with_dual_cidr() -> None:
    records = {
        **txt("example.com", "v=spf1 a/24//64 mx:mx.test -all"),
        ("example.com", "A"): ["192.0.2.1"],
        ("example.com", "AAAA"): ["2001:db8::1"],
        ("mx.test", "MX"): [(10, "mail.mx.test")],
        ("mail.mx.test", "A"): ["198.51.100.9"],
    }
    assert spf(records, "192.0.2.200").result is SPFResult.PASS
    assert spf(records, "2001:db8::ffff").result is SPFResult.PASS
    assert spf(records, "2001:db9::1").result is SPFResult.FAIL
    assert spf(records, "198.51.100.9").result is SPFResult.PASS
    assert spf(records, "198.51.100.10").result is SPFResult.FAIL


def test_ip6_and_ipv4_mapped_client() -> None:
    records = txt("example.com", "v=spf1 ip6:2001:db8::/32 ip4:192.0.2.0/24 -all")
    assert spf(records, "2001:db8:1::5").result is SPFResult.PASS
    assert spf(records, "::ffff:192.0.2.9").result is SPFResult.PASS  # treated as the IPv4 address
    assert spf(records, "2001:db9::5").result is SPFResult.FAIL


def test_include_semantics() -> None:
    base = txt("example.com", "v=spf1 include:inc.test -all")
    assert spf({**base, **txt("inc.test", "v=spf1 ip4:192.0.2.7 -all")}, "192.0.2.7").result is SPFResult.PASS
    # a fail inside an include is just "no match": evaluation continues to -all
    assert spf({**base, **txt("inc.test", "v=spf1 -all")}, "192.0.2.7").result is SPFResult.FAIL
    base_neutral = txt("example.com", "v=spf1 include:inc.test ?all")
    assert spf({**base_neutral, **txt("inc.test", "v=spf1 -all")}, "192.0.2.7").result is SPFResult.NEUTRAL
    # include of a domain without SPF is a permerror (5.2)
    assert spf(base, "192.0.2.7").result is SPFResult.PERMERROR
    assert spf({**base, **txt("inc.test", "v=spf1 ip4:1.2.3.4 foo:x")}, "192.0.2.7").result is SPFResult.PERMERROR


def test_redirect_semantics() -> None:
    base = txt("example.com", "v=spf1 redirect=red.test")
    assert spf({**base, **txt("red.test", "v=spf1 ip4:192.0.2.7 -all")}, "192.0.2.7").result is SPFResult.PASS
    assert spf({**base, **txt("red.test", "v=spf1 ~all")}, "192.0.2.7").result is SPFResult.SOFTFAIL
    assert spf(base, "192.0.2.7").result is SPFResult.PERMERROR  # target without a record
    # redirect is ignored when all is present
    both = txt("example.com", "v=spf1 ?all redirect=red.test")
    assert spf({**both, **txt("red.test", "v=spf1 -all")}, "192.0.2.7").result is SPFResult.NEUTRAL


def test_lookup_limit() -> None:
    records = txt("example.com", "v=spf1 " + " ".join(f"a:h{i}.test" for i in range(11)) + " -all")
    for i in range(11):
        records[(f"h{i}.test", "A")] = ["198.51.100.1"]
    verdict = spf(records, "192.0.2.7")
    assert verdict.result is SPFResult.PERMERROR and "10 DNS lookups" in verdict.reason
    # exactly ten is fine
    records[("example.com", "TXT")] = ["v=spf1 " + " ".join(f"a:h{i}.test" for i in range(10)) + " -all"]
    assert spf(records, "192.0.2.7").result is SPFResult.FAIL


def test_lookup_limit_counts_nested_includes() -> None:
    records = txt("example.com", "v=spf1 include:i0.test -all")
    for i in range(11):
        records.update(txt(f"i{i}.test", f"v=spf1 include:i{i + 1}.test -all"))
    assert spf(records, "192.0.2.7").result is SPFResult.PERMERROR


def test_include_loop_stops_at_the_limit() -> None:
    assert spf(txt("example.com", "v=spf1 include:example.com -all"), "192.0.2.7").result is SPFResult.PERMERROR


def test_void_lookup_limit() -> None:
    records = txt("example.com", "v=spf1 a:n1.test a:n2.test a:n3.test -all")
    verdict = spf(records, "192.0.2.7")
    assert verdict.result is SPFResult.PERMERROR and "void" in verdict.reason
    records[("example.com", "TXT")] = ["v=spf1 a:n1.test a:n2.test -all"]
    assert spf(records, "192.0.2.7").result is SPFResult.FAIL


def test_mx_limit() -> None:
    records = {**txt("example.com", "v=spf1 mx -all"),
               ("example.com", "MX"): [(i, f"mx{i}.test") for i in range(11)]}
    assert spf(records, "192.0.2.7").result is SPFResult.PERMERROR


def test_ptr_mechanism() -> None:
    records = {
        **txt("example.com", "v=spf1 ptr -all"),
        ("192.0.2.7", "PTR"): ["host.example.com", "other.test"],
        ("host.example.com", "A"): ["192.0.2.7"],
    }
    assert spf(records, "192.0.2.7").result is SPFResult.PASS
    records[("host.example.com", "A")] = ["192.0.2.8"]  # not validated by the forward lookup
    assert spf(records, "192.0.2.7").result is SPFResult.FAIL


def test_exists_with_macros() -> None:
    records = {
        **txt("example.com", "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all"),
        ("7.2.0.192.user._spf.example.com", "A"): ["127.0.0.2"],
    }
    assert spf(records, "192.0.2.7", sender="user@example.com").result is SPFResult.PASS
    assert spf(records, "192.0.2.7", sender="other@example.com").result is SPFResult.FAIL


# RFC 7208 7.4 examples: sender strong-bad@email.example.com, IP 192.0.2.3 / 2001:db8::cb01
@pytest.mark.parametrize(("spec", "expanded"), [
    ("%{s}", "strong-bad@email.example.com"),
    ("%{o}", "email.example.com"),
    ("%{d}", "email.example.com"),
    ("%{d4}", "email.example.com"),
    ("%{d3}", "email.example.com"),
    ("%{d2}", "example.com"),
    ("%{d1}", "com"),
    ("%{dr}", "com.example.email"),
    ("%{d2r}", "example.email"),
    ("%{l}", "strong-bad"),
    ("%{l-}", "strong.bad"),
    ("%{lr}", "strong-bad"),
    ("%{lr-}", "bad.strong"),
    ("%{l1r-}", "strong"),
    ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
    ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
    ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
    ("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
    ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
])
def test_rfc_macro_examples(spec: str, expanded: str) -> None:
    from pillarbox.mailauth import spf as module

    context = module._Context(FakeResolver(), module.ipaddress.ip_address("192.0.2.3"),
                              "strong-bad@email.example.com", "mx.example.org", "unknown", 0)
    assert asyncio.run(module._expand(context, spec, "email.example.com")) == expanded


def test_ipv6_macro_example() -> None:
    from pillarbox.mailauth import spf as module

    context = module._Context(FakeResolver(), module.ipaddress.ip_address("2001:db8::cb01"),
                              "strong-bad@email.example.com", "mx.example.org", "unknown", 0)
    expanded = asyncio.run(module._expand(context, "%{ir}.%{v}._spf.%{d2}", "email.example.com"))
    assert expanded == "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"


def test_explanation_on_fail() -> None:
    records = {**txt("example.com", "v=spf1 -all exp=explain.example.com"),
               **txt("explain.example.com", "%{i} is not one of %{d}'s designated mail servers.")}
    verdict = spf(records, "192.0.2.7")
    assert verdict.result is SPFResult.FAIL
    assert verdict.explanation == "192.0.2.7 is not one of example.com's designated mail servers."


def test_empty_local_part_and_bad_domain() -> None:
    records = txt("example.com", "v=spf1 exists:%{l}.x.test -all")
    records[("postmaster.x.test", "A")] = ["127.0.0.2"]
    assert spf(records, "192.0.2.7", sender="@example.com").result is SPFResult.PASS
    assert spf({}, "192.0.2.7", domain="localhost", sender="a@localhost").result is SPFResult.NONE


def test_timeout_is_temperror() -> None:
    class Slow(FakeResolver):
        async def txt(self, name: str) -> list[bytes]:
            await asyncio.sleep(5)
            return []

    async def run():
        return await check_host(Slow(), "192.0.2.7", "example.com", "a@example.com", timeout=0.05)

    assert asyncio.run(run()).result is SPFResult.TEMPERROR


@pytest.mark.parametrize("record", [
    "v=spf1 a:",  # RFC 7208 test suite a-empty-domain (5.3/2: "domain-spec cannot be empty")
    "v=spf1 mx:",  # mx-empty-domain
    "v=spf1 a:/24 -all",
    "v=spf1 mx://64 -all",
    "v=spf1 ip4:192.0.2.7 a: -all",  # a syntax error anywhere is a permerror, even after a match (4.6)
    "v=spf1 -all exp=%{r}.example.com",  # exp-only-macro-char (7.3): r only in explanation text
    "v=spf1 ip4:192.0.2.7 exists:%{c}.example.com -all",
    "v=spf1 ip4:192.0.2.7 a:%{t}.example.com -all",
    "v=spf1 redirect=%{r}.example.com",
])
def test_rfc7208_suite_syntax_cases(record: str) -> None:
    verdict = spf(txt("example.com", record), "192.0.2.7")
    assert verdict.result is SPFResult.PERMERROR, verdict


def test_c_r_t_expand_in_explanation_text() -> None:
    """exp-txt-macro-char: the explanation text may use c, r and t; the domain-specs may not."""
    records = {**txt("example.com", "v=spf1 -all exp=%{ir}.example.com"),
               **txt("7.2.0.192.example.com", "Connections from %{c} to %{r} at %{t} not authorized.")}
    resolver = FakeResolver(records)
    verdict = asyncio.run(check_host(resolver, "192.0.2.7", "example.com", "a@example.com", receiver="mx.test",
                                     now=1_000_000))
    assert verdict.result is SPFResult.FAIL
    assert verdict.explanation == "Connections from 192.0.2.7 to mx.test at 1000000 not authorized."


def test_unknown_modifiers_keep_the_grammar_letters() -> None:
    """An unknown modifier is never expanded, so its macro letters are only checked against the grammar."""
    assert spf(txt("example.com", "v=spf1 ip4:192.0.2.7 note=%{c}.%{r} -all"), "192.0.2.7").result is SPFResult.PASS


_TERMS = st.sampled_from(["a", "a:", "mx:", "a:example.com", "mx/24", "a//64", "ip4:192.0.2.0/24", "-all", "~all",
                          "include:%{d}", "exists:%{c}.x.test", "exists:%{i}.x.test", "redirect=%{r}.x.test",
                          "exp=%{d}.x.test", "exp=%{t}", "note=%{t}", "ptr:", "%", "a:%{h}", "mx:foo.-bar"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_TERMS, st.text(max_size=12)), max_size=6))
def test_parse_record_gives_a_record_or_a_permerror(terms: list[str]) -> None:
    """Any record text either parses or is a permerror; a c/r/t macro or an empty ':' never parses."""
    text = "v=spf1 " + " ".join(terms)
    try:
        record = parse_record(text)
    except SPFError as error:
        assert error.result is SPFResult.PERMERROR
        return
    assert record is not None
    domain_specs = [t.domain_spec or "" for t in record.terms] + [record.redirect or "", record.exp or ""]
    assert not any(letter in spec for spec in domain_specs for letter in ("%{c}", "%{r}", "%{t}"))
    assert not any(term in ("a:", "mx:") for term in text.split(" "))
