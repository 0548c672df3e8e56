"""The pure parts: DNS list names (RFC 5782), answer patterns, list entries, the classifier, the verdict's
fields and scales, rspamd's answers; hypothesis for every parser of outside input."""

from __future__ import annotations

import contextlib
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarbox.antispam.classifier import MAX_EVIDENCE, classify
from pillarbox.antispam.learning import keyword_signal
from pillarbox.antispam.lists import candidates, decide, normalize_pattern
from pillarbox.antispam.rspamd import RspamdError, ScanFacts, _verdict, envelope_address, scan_headers
from pillarbox.antispam.screening import query_name
from pillarbox.antispam.tokens import MAX_TOKENS, features
from pillarbox.antispam.verdict import SpamVerdict, remove_spam_fields
from pillarbox.config import ConfigError, load_config
from pillarbox.mime.header_view import HeaderView
from pillarbox.store.records import TokenCounts


def test_query_names_are_the_rfc_5782_examples():
    assert query_name("192.0.2.99", "bad.example.com") == "99.2.0.192.bad.example.com"  # 2.1
    assert query_name("2001:db8:1:2:3:4:567:89ab", "ugly.example.com") == (  # 2.4
        "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example.com")
    assert query_name("::ffff:192.0.2.99", "bl.test") == "99.2.0.192.bl.test"


def toml_string(text: str) -> str:
    return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\U{ord(c):08x}" for c in text) + '"'


def dnsbl_config(tmp_path, entries: list[str]):
    path = tmp_path / "p.toml"
    path.write_text("[antispam]\ndnsbl = [" + ", ".join(map(toml_string, entries)) + "]\n")
    return load_config(path).antispam.dnsbl


def test_dnsbl_entries_weights_and_answer_patterns(tmp_path):
    plain, weighted, allowlist = dnsbl_config(tmp_path, ["bl.test", "zen.example*3", "wl.test=127.0.[0..9].2*-2"])
    assert (plain.weight, weighted.weight, allowlist.weight) == (1, 3, -2)
    assert plain.matches("127.0.0.4") and not plain.matches("10.0.0.1") and not plain.matches("junk")
    assert allowlist.matches("127.0.9.2") and not allowlist.matches("127.0.10.2") and not allowlist.matches("127.0.1.3")


@given(st.text(max_size=40))
def test_a_dnsbl_entry_is_a_site_or_a_one_line_error(tmp_path_factory, text):
    try:
        dnsbl_config(tmp_path_factory.mktemp("c"), [text])
    except ConfigError as exc:
        assert "\n" not in str(exc) and "antispam.dnsbl" in str(exc)


def test_list_entries_and_the_most_specific_wins():
    assert normalize_pattern(" @Example.COM ") == "example.com"
    assert normalize_pattern("Alice@Example.com") == "alice@example.com"
    with pytest.raises(ValueError):
        normalize_pattern("a b@c.example")
    assert candidates("A@mail.Example.com") == ["a@mail.example.com", "mail.example.com", "example.com", "com"]
    rules = {"example.com": "block", "friend@example.com": "allow", "com": "allow", "tie.test": "allow"}
    assert decide(rules, ["friend@example.com"]) == ("allow", "friend@example.com")
    assert decide(rules, ["other@mail.example.com"]) == ("block", "example.com")
    assert decide(rules, ["x@shop.com"]) == ("allow", "com")
    assert decide({"a.test": "allow", "b.test": "block"}, ["x@a.test", "y@b.test"]) == ("block", "b.test")
    assert decide(rules, ["nobody@elsewhere.org"]) is None


@given(st.text(max_size=80))
def test_list_entries_parse_or_refuse_with_valueerror(text):
    try:
        pattern = normalize_pattern(text)
    except ValueError:
        return
    assert pattern == pattern.lower() and pattern


def counts(spam: int, ham: int, **tokens: tuple[int, int]) -> TokenCounts:
    return TokenCounts(spam, ham, {hash(name): value for name, value in tokens.items()})


def tokens(*names: str) -> dict[int, str]:
    return {hash(name): name for name in names}


def test_no_verdict_before_both_kinds_were_learned():
    assert classify(counts(0, 40, meeting=(0, 30)), tokens("meeting")) is None
    assert classify(counts(40, 0, watches=(30, 0)), tokens("watches")) is None


def test_a_little_training_junks_its_kind_and_not_novel_mail():
    trained = counts(3, 1, watches=(3, 0), cheap=(3, 0), replica=(3, 0), the=(3, 1))
    spammy = classify(trained, tokens("watches", "cheap", "replica", "order", "the"))
    novel = classify(trained, tokens("minutes", "garden", "committee", "survey", "the"))
    assert spammy is not None and spammy.probability > 0.99 and spammy.strongest[0] in ("watches", "cheap", "replica")
    assert novel is not None and novel.probability < 0.5


def test_a_message_moved_out_outweighs_one_moved_in():
    moved_out = counts(2, 1, watches=(2, 1), cheap=(2, 1))
    result = classify(moved_out, tokens("watches", "cheap"))
    assert result is not None and result.probability < 0.5


def test_unseen_tokens_never_count_toward_spam_and_no_token_says_more_than_99_to_1():
    mostly_ham = counts(1, 500, the=(1, 400))
    result = classify(mostly_ham, tokens(*(f"new{i}" for i in range(50))))
    assert result is not None and result.probability == 0.5  # unseen tokens, more ham than spam: nothing
    one = classify(counts(1000, 1000, x=(1000, 0)), tokens("x"))
    assert one is not None and math.isclose(one.probability, 1 / (1 + math.exp(-MAX_EVIDENCE)))


def test_features_leave_out_fields_every_message_shares_and_are_bounded():
    raw = (b"Received: from a by b\r\nTo: bob@example.com\r\nFrom: Deals <deals@offers.test>\r\n"
           b"Subject: =?utf-8?q?Cheap_watches?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           b"Visit http://Shop.Offers.test/x now " + b" ".join(b"w%d" % i for i in range(3000)) + b"\r\n")
    found = set(features(raw, HeaderView.parse(raw)).values())
    assert {"s:cheap", "s:watches", "f:deals@offers.test", "fd:offers.test", "fn:deals", "u:shop.offers.test",
            "ct:text/plain", "cs:utf-8", "visit"} <= found
    assert not any("bob" in t or "received" in t for t in found)
    assert len(found) == MAX_TOKENS
    html = (b"From: a@b.test\r\nContent-Type: text/html\r\n\r\n"
            b'<p>Claim <a href="https://Prize.Example/x">here</a></p>\r\n')
    assert {"u:prize.example", "claim", "here"} <= set(features(html, HeaderView.parse(html)).values())


@given(st.binary(max_size=2000))
def test_features_of_any_bytes(raw):
    assert len(features(raw, HeaderView.parse(raw))) <= MAX_TOKENS


def test_the_verdict_on_sieves_scales_and_in_its_fields():
    junk = SpamVerdict("junk", 0.99, 0.95, "bayes", ("BAYES_SPAM",))
    assert (junk.percent, junk.sieve_score, junk.is_junk) == (52, 6, True)
    assert SpamVerdict("junk", 1.0, 0.95, "blocklist").percent == 100
    assert SpamVerdict("ham", 0.0, 0.95, "allowlist").sieve_score == 1
    assert SpamVerdict("reject", 40.0, 15.0, "rspamd").percent == 100
    assert junk.header_fields("mx.test") == (
        b"X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=0.99 required=0.95 source=bayes host=mx.test\r\n"
        b"\ttests=BAYES_SPAM\r\nX-Spam-Score: 0.99\r\n")


def test_arriving_spam_fields_are_removed_whoever_wrote_them():
    raw = (b"X-Spam-Flag: NO\r\nFrom: a@b.test\r\nX-Spam-Status: No,\r\n score=-100\r\nx-spam-score: -9\r\n"
           b"X-Spamming-Other: kept\r\n\r\nX-Spam-Flag: body text stays\r\n")
    assert remove_spam_fields(raw) == (b"From: a@b.test\r\nX-Spamming-Other: kept\r\n\r\n"
                                       b"X-Spam-Flag: body text stays\r\n", 3)
    assert remove_spam_fields(b"From: a@b.test\r\n\r\nx\r\n") == (b"From: a@b.test\r\n\r\nx\r\n", 0)


def test_rspamd_actions_map_to_what_the_client_hears():
    def answer(action: str) -> bytes:
        return json.dumps({"action": action, "score": 7.5, "required_score": 15,
                           "symbols": {"A": {"name": "A", "score": 5}, "B": {"name": "B", "score": 0},
                                       "C": {"name": "C", "score": -2.5}}}).encode()
    actions = {a: _verdict(answer(a)).action for a in
               ("reject", "soft reject", "rewrite subject", "add header", "greylist", "no action")}
    assert actions == {"reject": "reject", "soft reject": "tempfail", "rewrite subject": "junk", "add header": "junk",
                       "greylist": "ham", "no action": "ham"}
    assert _verdict(answer("add header")).reasons == ("A", "C")
    with pytest.raises(RspamdError):
        _verdict(answer("explode"))


JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, min_size=1, max_size=4) | st.dictionaries(st.text(max_size=10), inner, min_size=1,
                                                                           max_size=4),
    max_leaves=20)


@given(JSON | st.fixed_dictionaries({"action": st.sampled_from(["reject", "no action"]), "score": JSON,
                                     "required_score": JSON, "symbols": JSON}))
def test_any_json_is_an_rspamd_verdict_or_an_rspamd_error(value):
    with contextlib.suppress(RspamdError):
        _verdict(json.dumps(value).encode())


def test_keywords_junk_and_notjunk_mean_nothing_together():
    assert keyword_signal({"$Junk", "\\Seen"}) == "spam"
    assert keyword_signal({"$notjunk"}) == "ham"
    assert keyword_signal({"$Junk", "$NotJunk"}) is None
    assert keyword_signal(set()) is None


def test_rspamd_hears_envelope_addresses_it_can_parse():
    facts = ScanFacts("192.0.2.1", "", "jörg@bücher.test", ["bob@bücher.test", "bob@example.com"], "q1", "mx.test")
    assert scan_headers(facts) == [("IP", "192.0.2.1"), ("Helo", "192.0.2.1"), ("Queue-Id", "q1"),
                                   ("MTA-Name", "mx.test"), ("Rcpt", "bob@xn--bcher-kva.test"),
                                   ("Rcpt", "bob@example.com")]


@given(st.text(max_size=40))
def test_an_envelope_address_reaches_rspamd_as_ascii_or_not_at_all(address):
    told = envelope_address(address)
    assert told is None or told.isascii()
