"""Hostile scripts and messages: deep nesting, huge strings, wildcard storms, include loops, limits.

Every one ends in a clear SieveSyntaxError at upload or in implicit keep with an error at delivery:
never a RecursionError, never a hang, never a lost message.
"""

from __future__ import annotations

import contextlib
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pillarbox.sieve.actions import Keep
from pillarbox.sieve.compiler import compile_script
from pillarbox.sieve.context import Limits
from pillarbox.sieve.errors import LimitExceeded, SieveSyntaxError
from pillarbox.sieve.parser import parse
from tests.sieve.helpers import execute


@pytest.mark.parametrize("script", [
    "if " + "not " * 100_000 + "true { keep; }",
    "if true { " * 100_000 + "keep;" + " }" * 100_000,
    "if " + "anyof(" * 100_000 + "true" + ")" * 100_000 + " { keep; }",
    "[" * 100_000,
])
def test_deep_nesting_is_refused_without_recursion(script: str) -> None:
    with pytest.raises(SieveSyntaxError, match=r"nesting deeper than|expected"):
        compile_script(script)


def test_nesting_within_the_limit_compiles() -> None:
    compile_script("if " + "not " * 30 + "true { keep; }")


def test_script_size_limit() -> None:
    with pytest.raises(SieveSyntaxError, match="larger than"):
        compile_script('keep; # ' + "x" * 70_000, max_size=65_536)


def test_huge_strings_are_cut_in_variables() -> None:
    huge = "x" * 200_000
    script = f'require ["variables", "fileinto"]; set "a" "{huge}"; set "b" "${{a}}${{a}}"; fileinto "${{b}}";'
    result = execute(script)
    assert result.error is None
    assert len(result.actions[0].mailbox) == 4096  # type: ignore[union-attr]


def _wildcard_cost(length: int) -> float:
    header = "a" * length + "b"
    message = f"Subject: {header}\r\n\r\nx\r\n".encode()
    pattern = "*a" * 60 + "*c*b"  # the tail matches, the middle cannot: a backtracking matcher explodes
    script = f'if header :matches "subject" "{pattern}" {{ discard; }}'
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        assert execute(script, message).actions == (Keep(implicit=True),)
        best = min(best, time.perf_counter() - start)
    return best


def test_matches_with_many_wildcards_is_linear() -> None:
    small, large = _wildcard_cost(20_000), _wildcard_cost(160_000)
    assert large < small * 40  # linear is ~8x; quadratic would be 64x, backtracking never ends


def test_step_limit_is_the_cpu_limit() -> None:
    header = "x" * 100_000
    message = f"Subject: {header}\r\n\r\nx\r\n".encode()
    script = "if anyof(" + ", ".join(['header :contains "subject" "nothing"'] * 200) + ") { discard; }"
    result = execute(script, message, limits=Limits(max_steps=10_000))
    assert isinstance(result.error, LimitExceeded) and result.actions == (Keep(implicit=True),)


def test_action_and_redirect_limits() -> None:
    many = 'require ["fileinto"];' + "".join(f'fileinto "f{i}";' for i in range(40))
    result = execute(many)
    assert isinstance(result.error, LimitExceeded) and result.actions == (Keep(implicit=True),)
    redirects = "".join(f'redirect "u{i}@example.net";' for i in range(5))
    result = execute(redirects)
    assert isinstance(result.error, LimitExceeded) and "redirects" in str(result.error)


def test_invalid_redirect_address_is_a_runtime_error() -> None:
    result = execute('redirect "not an address";')
    assert result.error is not None and result.actions == (Keep(implicit=True),)


def test_include_loop_through_two_scripts() -> None:
    a = 'require "include"; include "b";'
    b = 'require "include"; include "a";'
    result = execute(a, includes={("personal", "a"): a, ("personal", "b"): b})
    assert result.error is not None and "loop" in str(result.error)


def test_include_count_limit() -> None:
    lib = 'require "include"; return;'
    script = 'require "include";' + 'include "lib";' * 40
    result = execute(script, includes={("personal", "lib"): lib})
    assert isinstance(result.error, LimitExceeded)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ifelsrequt:;{}[](),"\\#*/ \n\r\t0123456789KMG.:xtext')), max_size=300))
def test_parser_raises_only_its_own_error(text: str) -> None:
    with contextlib.suppress(SieveSyntaxError):
        compile_script(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_parser_on_any_text(text: str) -> None:
    with contextlib.suppress(SieveSyntaxError):
        parse(text)


_strings = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=20)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_strings, st.lists(_strings, min_size=1, max_size=3)), max_size=5))
def test_strings_survive_quoting(pairs: list[tuple[str, list[str]]]) -> None:
    """Any string, quoted as 2.4.2 says, parses back to itself."""
    lines = [f'if header :contains {_quote(name)} [{", ".join(map(_quote, keys))}] {{ keep; }}' for name, keys in pairs]
    commands = parse("\n".join(lines))
    assert [(c.tests[0].arguments[1].values, c.tests[0].arguments[2].values) for c in commands] == [  # type: ignore[union-attr]
        ((name,), tuple(keys)) for name, keys in pairs
    ]
