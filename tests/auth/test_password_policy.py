"""The password policy (auth/passwords.check_password) on its own."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarbox.auth.passwords import WeakPassword, check_password


@given(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=8, max_size=64),
       st.integers(min_value=1, max_value=8))
def test_long_enough_and_not_the_address_passes(password: str, minimum: int):
    if password.casefold() == "bob@example.com":
        return
    check_password(password, "bob@example.com", minimum)  # printable ASCII: SASLprep leaves it as it is


@pytest.mark.parametrize("password", ["", "1234567", "bob@example.com", "Bob@Example.Com", "BOB"])
def test_refused(password: str):
    with pytest.raises(WeakPassword):
        check_password(password, "bob@example.com", 8)


def test_the_minimum_is_a_setting_and_counts_characters_not_bytes():
    check_password("ünïcødé", "bob@example.com", 7)
    with pytest.raises(WeakPassword, match="at least 13 characters"):
        check_password("twelve chars", "bob@example.com", 13)
