"""LIST patterns ("*", "%") match as the regular expressions they mean, in time linear in the name."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from pillarbox.imap.list_pattern import ListPattern
from tests.complexity import assert_linear


def as_regex(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c) for c in pattern) + r"\Z")


@given(st.text(alphabet="ab/*%", max_size=8), st.text(alphabet="ab/", max_size=10))
def test_same_answers_as_the_regular_expression(pattern: str, name: str) -> None:
    assert ListPattern(pattern, "/").matches(name) == bool(as_regex(pattern).match(name))


def test_examples() -> None:
    assert ListPattern("INBOX/%", "/").matches("INBOX/Sent") and not ListPattern("INBOX/%", "/").matches("INBOX/a/b")
    assert ListPattern("*", "/").matches("") and ListPattern("%*%", "/").matches("a/b")
    assert not ListPattern("", "/").matches("x") and ListPattern("", "/").matches("")


def test_many_wildcards_against_a_long_name_cost_linear_time() -> None:
    """As a regular expression this pattern takes 10 s on a 32-letter name: it backtracks through
    every way to spread the a's over the wildcards."""
    pattern = ListPattern("*a" * 12 + "*b", "/")
    assert_linear(pattern.matches, lambda n: "a" * n, 2_000)
