"""i;unicode-casemap (RFC 5051): titlecase, then decomposed; what SORT and THREAD compare."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pillarbox.imap.sort import display_name
from pillarbox.mime.addresses import parse_address_list
from pillarbox.mime.casemap import casemap


def test_titlecase_puts_brackets_and_underscores_after_letters() -> None:
    """With lowercase (0x61-0x7A) "[" (0x5B) and "_" (0x5F) would come first; titlecase is 0x41-0x5A."""
    assert sorted(["_under", "zebra", "[open", "Apple"], key=casemap) == ["Apple", "zebra", "[open", "_under"]


def test_accents_and_compatibility_forms() -> None:
    assert casemap("Élodie") == "E\u0301LODIE"
    assert casemap("ǆ") == casemap("Ǆ") == casemap("ǅ") == "DZ\u030c"  # titlecase, decomposed, titlecased again
    assert casemap("ß") == "ß"  # no one-character titlecase: the character itself (RFC 5051 uses UnicodeData's)
    assert casemap("ﬁ") == "FI" and casemap("K") == "K"  # ligature, Kelvin sign


@given(st.text())
def test_prepared_strings_stay_prepared(text: str) -> None:
    assert casemap(casemap(text)) == casemap(text)


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_ascii_case_does_not_matter(text: str) -> None:
    assert casemap(text.lower()) == casemap(text.upper()) == casemap(text.swapcase())


def test_display_value_of_a_group_is_its_name() -> None:
    """RFC 5957 3: the group's start marker has no addr-name and no addr-host, so its addr-mailbox."""
    assert display_name(parse_address_list("Undisclosed recipients:;")) == "UNDISCLOSED RECIPIENTS"
    assert display_name(parse_address_list("crew: bob@x.test, amy@x.test;")) == "CREW"
    assert display_name(parse_address_list("=?utf-8?q?=C3=89lodie?= <e@x.test>")) == "E\u0301LODIE"
    assert display_name(parse_address_list("e@x.test")) == "E@X.TEST"
    assert display_name(()) == ""
