"""The "variables" extension (RFC 5229): ``${name}`` and ``${1}`` in strings, and ``set``'s modifiers.

Expansion is one pass: a value that itself contains ``${...}`` is not expanded again (3). Names are
case-insensitive; an unknown variable expands to the empty string; a reference that is not well
formed (``${``, ``${a-b}``, ``${ns.name}`` of a namespace we do not have) stays as written. Values
are cut at ``MAX_VALUE`` characters (RFC 5229 3 lets an implementation limit them) and a script
may hold at most ``MAX_VARIABLES`` of them, so a loop of ``set`` cannot grow memory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pillarbox.sieve.errors import LimitExceeded

MAX_VALUE = 4096
MAX_VARIABLES = 256
MAX_MATCH_VARIABLES = 10  # ${0}..${9}; RFC 5229 3.2 requires at least these
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*|[0-9]+)\}")
_WILDCARDS = re.compile(r"([*?\\])")


class Variables:
    """One script's variables and its match variables (the captures of the last successful :matches)."""

    def __init__(self, shared: dict[str, str] | None = None) -> None:
        self.values: dict[str, str] = {}
        self.shared = shared if shared is not None else {}
        self.globals: set[str] = set()
        self.matched: tuple[str, ...] = ()

    def get(self, name: str) -> str:
        if name.isdigit():
            index = int(name)
            return self.matched[index] if index < len(self.matched) else ""
        name = name.lower()
        if name in self.globals:
            return self.shared.get(name, "")
        return self.values.get(name, "")

    def set(self, name: str, value: str) -> None:
        name = name.lower()
        target = self.shared if name in self.globals else self.values
        if name not in target and len(self.values) + len(self.shared) >= MAX_VARIABLES:
            raise LimitExceeded(f"more than {MAX_VARIABLES} variables")
        target[name] = value[:MAX_VALUE]

    def set_matched(self, captures: Sequence[str]) -> None:
        self.matched = tuple(c[:MAX_VALUE] for c in captures[:MAX_MATCH_VARIABLES])

    def expand(self, text: str) -> str:
        if "${" not in text:
            return text
        return _REFERENCE.sub(lambda m: self.get(m.group(1)), text)


_MODIFIERS: Mapping[str, tuple[int, object]] = {
    "lower": (40, lambda v: v.lower()),
    "upper": (40, lambda v: v.upper()),
    "lowerfirst": (30, lambda v: v[:1].lower() + v[1:]),
    "upperfirst": (30, lambda v: v[:1].upper() + v[1:]),
    "quotewildcard": (20, lambda v: _WILDCARDS.sub(r"\\\1", v)),
    "length": (10, lambda v: str(len(v))),
}


def apply_modifiers(value: str, modifiers: Sequence[str]) -> str:
    """RFC 5229 4.1: modifiers apply from the highest precedence (40) down to the lowest (10)."""
    for name in sorted(modifiers, key=lambda m: -_MODIFIERS[m][0]):
        value = _MODIFIERS[name][1](value)  # type: ignore[operator]
    return value


def modifier_names() -> frozenset[str]:
    return frozenset(_MODIFIERS)
