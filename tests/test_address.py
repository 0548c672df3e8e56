"""New addresses follow RFC 5321's Mailbox (RFC 6531 for UTF-8); lookups stay lenient."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarbox.address import AddressError, mailbox_address, normalize_address

ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~"
atoms = st.text(st.sampled_from(ATEXT) | st.characters(min_codepoint=0xA0, max_codepoint=0x2FFF,
                                                       categories=("L", "N")), min_size=1, max_size=8)
dot_strings = st.lists(atoms, min_size=1, max_size=4).map(".".join).filter(lambda s: len(s.lower().encode()) <= 64)
OUTSIDE_ATEXT = '<>()[]\\,;:@" \t\r\n\x00\x7f'


@given(dot_strings)
def test_every_dot_string_is_admitted_and_normalised_once(local: str) -> None:
    admitted = mailbox_address(f"{local}@Example.COM")
    assert admitted == f"{local.lower()}@example.com"
    assert mailbox_address(admitted) == admitted == normalize_address(admitted)


@given(dot_strings, st.sampled_from(OUTSIDE_ATEXT), dot_strings)
def test_a_character_outside_atext_is_refused_unquoted(before: str, bad: str, after: str) -> None:
    with pytest.raises(AddressError):
        mailbox_address(f"{before}{bad}{after}@example.com")


@pytest.mark.parametrize("address", [
    "<b>x</b>@example.com", "a b@example.com", "a..b@example.com", ".a@example.com", "a.@example.com",
    "@example.com", "a@", "a@b@", "a(comment)@example.com", '"unterminated@example.com', "a@exa mple.com",
    "a@[127.0.0.1]", "x" * 65 + "@example.com", "a@-example.com", '"a"b"@example.com',
])
def test_not_mailboxes(address: str) -> None:
    with pytest.raises(AddressError):
        mailbox_address(address)


def test_the_length_limit_holds_for_the_address_kept():
    """RFC 5321 4.5.3.1.1's 64 octets hold for the lower-cased local part that is stored: "İ" (2 octets)
    is "i̇" (3 octets) in lower case."""
    assert mailbox_address("a" * 64 + "@example.com") == "a" * 64 + "@example.com"
    with pytest.raises(AddressError):
        mailbox_address("\u0130" * 32 + "@example.com")


@pytest.mark.parametrize(("address", "admitted"), [
    ("Bob@Example.com", "bob@example.com"), ("o'brien+tag@example.com", "o'brien+tag@example.com"),
    ('"john doe"@example.com', '"john doe"@example.com'), ('"a@b"@example.com', '"a@b"@example.com'),
    ('"q\\"uote"@example.com', '"q\\"uote"@example.com'), ("jösé@bücher.example", "jösé@bücher.example"),
    ("用户@例子.广告", "用户@例子.广告"), (" pad@example.com ", "pad@example.com"),
])
def test_mailboxes(address: str, admitted: str) -> None:
    assert mailbox_address(address) == admitted


def test_lookups_stay_lenient() -> None:
    """An address an older version stored must stay reachable, to be deleted."""
    assert normalize_address("<b>x</b>@example.com") == "<b>x</b>@example.com"
