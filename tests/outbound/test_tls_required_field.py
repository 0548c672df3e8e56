"""RFC 8689 3 / 4.1: which messages carry the sender's waiver of the recipient's TLS policy."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pillarbox.outbound.deliver import OutboundMessage


def outbound(header: str, requiretls: bool = False) -> OutboundMessage:
    raw = f"From: a@a.test\r\nTo: b@b.test\r\n{header}Subject: hi\r\n\r\nTLS-Required: No\r\n".encode()
    return OutboundMessage("q1", "a@a.test", raw, requiretls=requiretls)


def test_one_field_saying_no_waives_the_policy():
    assert outbound("TLS-Required: No\r\n").tls_optional
    assert outbound("tls-required:no\r\n").tls_optional  # ABNF literals are case-insensitive
    assert outbound("TLS-Required:\r\n No \r\n").tls_optional  # folded (FWS)


def test_no_field_another_value_or_two_fields_waive_nothing():
    assert not outbound("").tls_optional  # the body's line is not a header field
    assert not outbound("TLS-Required: Yes\r\n").tls_optional
    assert not outbound("TLS-Required: No\r\nTLS-Required: No\r\n").tls_optional


def test_the_requiretls_parameter_wins_over_the_field():
    assert not outbound("TLS-Required: No\r\n", requiretls=True).tls_optional


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20))
def test_only_the_word_no_waives(value: str):
    assert outbound(f"TLS-Required: {value}\r\n").tls_optional == (value.strip().lower() == "no")
