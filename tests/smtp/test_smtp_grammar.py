"""RFC 5321 4.1.2 productions: examples from the RFC, then hostile cases."""

from __future__ import annotations

import pytest

from pillarbox.errors import ProtocolError
from pillarbox.smtp import grammar, replies
from pillarbox.smtp.grammar import parse_mail, parse_rcpt, split_address


def error_of(call, *args, **kwargs):  # type: ignore[no-untyped-def]
    with pytest.raises(ProtocolError) as info:
        call(*args, **kwargs)
    return info.value.reply


# -- MAIL ------------------------------------------------------------------------------------------


def test_mail_simple() -> None:
    mail = parse_mail("FROM:<Smith@bar.com>")
    assert mail.address == "Smith@bar.com" and mail.params == {} and not mail.had_source_route


def test_null_reverse_path() -> None:
    assert parse_mail("FROM:<>").address is None


@pytest.mark.parametrize("argument", ["from:<a@b.example>", "From: <a@b.example>", "FROM:   <a@b.example>"])
def test_lenient_case_and_space_after_colon(argument: str) -> None:
    assert parse_mail(argument).address == "a@b.example"


@pytest.mark.parametrize("argument", ["FROM:a@b.example", "FROM:<a@b.example", "FROM a@b", "TO:<a@b>", ""])
def test_angle_brackets_and_keyword_required(argument: str) -> None:
    assert error_of(parse_mail, argument).code == 501


def test_mail_parameters() -> None:
    mail = parse_mail("FROM:<a@b.example> SIZE=1000 BODY=8bitmime RET=hdrs ENVID=QQ+2BQ AUTH=<>")
    assert mail.size == 1000 and mail.body == "8BITMIME" and mail.ret == "HDRS"
    assert mail.envid == "QQ+Q" and mail.params["AUTH"] == "<>"


def test_mail_several_spaces_between_parameters() -> None:
    assert parse_mail("FROM:<a@b.example>  SIZE=5   BODY=7BIT").params == {"SIZE": "5", "BODY": "7BIT"}


@pytest.mark.parametrize(
    "params",
    [
        "SIZE=abc",
        "SIZE=",
        "SIZE=123456789012345678901",
        "BODY=9BIT",
        "RET=ALL",
        "SMTPUTF8=yes",
        "ENVID=a=b",
        "ENVID=" + "x" * 101,
        "SIZE=1 SIZE=2",
        "REQUIRETLS=1",
        "AUTH",
    ],
)
def test_bad_mail_parameter_values(params: str) -> None:
    assert error_of(parse_mail, f"FROM:<a@b.example> {params}").code == 501


@pytest.mark.parametrize("params", ["FOO=bar", "NOTIFY=NEVER", "XCLIENT"])
def test_unknown_mail_parameter_is_555(params: str) -> None:
    assert error_of(parse_mail, f"FROM:<a@b.example> {params}").code == 555


def test_garbage_after_path() -> None:
    assert error_of(parse_mail, "FROM:<a@b.example>SIZE=1").code == 501


# -- RCPT ------------------------------------------------------------------------------------------


def test_rcpt_simple_and_postmaster() -> None:
    assert parse_rcpt("TO:<Jones@XYZ.COM>", smtputf8=False).address == "Jones@XYZ.COM"
    assert parse_rcpt("TO:<Postmaster>", smtputf8=False).address == "Postmaster"
    assert parse_rcpt("to:<postmaster@example.org>", smtputf8=False).address == "postmaster@example.org"


def test_null_forward_path_refused() -> None:
    assert error_of(parse_rcpt, "TO:<>", smtputf8=False) == replies.BAD_RECIPIENT_SYNTAX.with_text(
        "Null path not allowed here"
    )


def test_source_route_is_dropped_but_recorded() -> None:
    rcpt = parse_rcpt("TO:<@hosta.int,@jkl.org:userc@d.bar.org>", smtputf8=False)
    assert rcpt.address == "userc@d.bar.org" and rcpt.had_source_route
    assert parse_mail("FROM:<@a.example:u@b.example>").had_source_route


@pytest.mark.parametrize("path", ["<@:u@b>", "<@a.example u@b>", "<a.example:u@b>", "<@a..b:u@b.example>"])
def test_bad_source_routes(path: str) -> None:
    assert error_of(parse_rcpt, f"TO:{path}", smtputf8=False).code == 501


def test_percent_hack_is_just_a_local_part() -> None:
    rcpt = parse_rcpt("TO:<user%other.example@relay.example>", smtputf8=False)
    assert rcpt.address == "user%other.example@relay.example" and not rcpt.had_source_route
    assert split_address(rcpt.address) == ("user%other.example", "relay.example")


def test_quoted_local_part_may_hold_at_and_angle_bracket() -> None:
    rcpt = parse_rcpt('TO:<"a>b@c"@example.org> NOTIFY=SUCCESS,FAILURE', smtputf8=False)
    assert rcpt.address == '"a>b@c"@example.org'
    assert rcpt.notify == frozenset({"SUCCESS", "FAILURE"})
    assert split_address(rcpt.address) == ("a>b@c", "example.org")


def test_quoted_pair_in_local_part() -> None:
    rcpt = parse_rcpt(r'TO:<"joe\"q\\x"@example.org>', smtputf8=False)
    assert split_address(rcpt.address) == ('joe"q\\x', "example.org")


@pytest.mark.parametrize(
    "domain", ["[192.0.2.1]", "[IPv6:2001:db8::1]", "[ipv6:::1]", "[x-tag:some@thing]", "example.org"]
)
def test_address_literals(domain: str) -> None:
    assert parse_rcpt(f"TO:<u@{domain}>", smtputf8=False).address == f"u@{domain}"


@pytest.mark.parametrize(
    "domain", ["[256.1.1.1]", "[1.2.3]", "[IPv6:2001:db8::g]", "[IPv6:1.2.3.4]", "[]", "-a.example", "a..b", "a_b.c"]
)
def test_bad_domains(domain: str) -> None:
    assert error_of(parse_rcpt, f"TO:<u@{domain}>", smtputf8=False).code == 501


@pytest.mark.parametrize("local", ["a..b", ".a", "a.", "a b", "(comment)a", ""])
def test_bad_local_parts(local: str) -> None:
    assert error_of(parse_rcpt, f"TO:<{local}@example.org>", smtputf8=False).code == 501


def test_length_limits() -> None:
    """4.5.3.1: local part 64, domain 255, path 256 octets."""
    assert parse_rcpt(f"TO:<{'a' * 64}@example.org>", smtputf8=False)
    assert error_of(parse_rcpt, f"TO:<{'a' * 65}@example.org>", smtputf8=False).code == 501
    long_domain = ".".join(["a" * 60] * 5)  # 304 octets
    assert error_of(parse_rcpt, f"TO:<u@{long_domain}>", smtputf8=False) == replies.PATH_TOO_LONG
    domain_250 = ".".join(["a" * 49] * 5)  # 249 octets
    assert error_of(parse_rcpt, f"TO:<{'b' * 10}@{domain_250}>", smtputf8=False) == replies.PATH_TOO_LONG


def test_rcpt_parameters() -> None:
    rcpt = parse_rcpt("TO:<a@b.example> NOTIFY=never ORCPT=rfc822;joe+40example.org", smtputf8=False)
    assert rcpt.notify == frozenset({"NEVER"})
    assert rcpt.orcpt == ("rfc822", "joe@example.org")


@pytest.mark.parametrize(
    "params", ["NOTIFY=NEVER,SUCCESS", "NOTIFY=SUCCESS,SUCCESS", "NOTIFY=SOMETIMES", "ORCPT=rfc822", "ORCPT=;x"]
)
def test_bad_rcpt_parameters(params: str) -> None:
    assert error_of(parse_rcpt, f"TO:<a@b.example> {params}", smtputf8=False).code == 501


def test_mail_parameter_on_rcpt_is_555() -> None:
    assert error_of(parse_rcpt, "TO:<a@b.example> SIZE=10", smtputf8=False).code == 555


# -- SMTPUTF8 (RFC 6531) ---------------------------------------------------------------------------


def test_utf8_refused_without_smtputf8() -> None:
    assert error_of(parse_mail, "FROM:<jöran@example.org>") == replies.NON_ASCII_ADDRESS
    assert error_of(parse_rcpt, "TO:<user@bücher.example>", smtputf8=False) == replies.NON_ASCII_ADDRESS


def test_utf8_accepted_with_smtputf8() -> None:
    mail = parse_mail("FROM:<jöran@bücher.example> SMTPUTF8")
    assert mail.smtputf8 and mail.address == "jöran@bücher.example"
    rcpt = parse_rcpt("TO:<用户@例子.广告>", smtputf8=True)
    assert rcpt.address == "用户@例子.广告"
    assert parse_rcpt('TO:<"ü x"@example.org>', smtputf8=True).address == '"ü x"@example.org'


def test_utf8_local_part_length_counts_octets() -> None:
    assert error_of(parse_rcpt, f"TO:<{'ü' * 33}@example.org>", smtputf8=True).code == 501


# -- helpers ---------------------------------------------------------------------------------------


def test_split_address_normalizes_domain() -> None:
    assert split_address("Joe@Example.ORG") == ("Joe", "example.org")
    assert split_address("joe@Bücher.example") == ("joe", "xn--bcher-kva.example")
    assert split_address('"j@o"@[IPv6:2001:DB8::1]') == ("j@o", "[ipv6:2001:db8::1]")
    assert split_address("Postmaster") == ("Postmaster", "")


def test_xtext_round_trip() -> None:
    text = "a+b=c d\u00e9"
    assert grammar.decode_xtext(grammar.encode_xtext(text)) == text
    assert grammar.encode_xtext("a+b=c") == "a+2Bb+3Dc"


@pytest.mark.parametrize("domain", ["mail.example.org", "[192.0.2.1]", "localhost", "WIN_PC"])
def test_helo_domain_is_lenient(domain: str) -> None:
    assert grammar.parse_helo_domain(domain) == domain


@pytest.mark.parametrize("argument", ["", "two words", "bad\x01"])
def test_helo_domain_needs_one_token(argument: str) -> None:
    assert error_of(grammar.parse_helo_domain, argument).code == 501


@pytest.mark.parametrize("address", ['"unterminated@x', '"', "@", "", '"a"b@c'])
def test_split_address_never_raises(address: str) -> None:
    local, domain = split_address(address)
    assert isinstance(local, str) and isinstance(domain, str)
