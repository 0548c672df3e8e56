"""LIST patterns (RFC 9051 6.3.9): "*" matches anything, "%" anything but the hierarchy delimiter.

The naive way translates a pattern into a regular expression (".*" for "*", "[^/]*" for "%"), which
backtracks: LIST "" "*a*a*a*a*a*a*a*a*a*a*a*a*b" against a mailbox the client named "aaa...a" takes
time exponential in the number of wildcards (a tenth of a second for 24 letters, ten seconds for 32),
all of it on the event loop. Here the pattern runs as the set of its positions reachable after each
character of the name (a Thompson simulation), kept as the bits of an integer: one step per
character, each costing the pattern's length over 64 in machine words.

Position ``i`` means "the tokens before ``i`` have matched". Runs of wildcards are one token (a "*"
among them makes it a "*"), so a wildcard that matches nothing is one shift away.
"""

from __future__ import annotations


class ListPattern:
    def __init__(self, pattern: str, delimiter: str) -> None:
        self.delimiter = delimiter
        self._literal: dict[str, int] = {}  # character → the positions whose token is that character
        self._star = 0  # positions whose token is "*"
        self._percent = 0  # positions whose token is "%"
        position = 0
        for index, char in enumerate(pattern):
            bit = 1 << position
            if char not in "*%":
                self._literal[char] = self._literal.get(char, 0) | bit
            elif index and pattern[index - 1] in "*%":  # the run goes on: one token, a "*" if any is
                if char == "*" and self._percent & bit >> 1:
                    self._percent ^= bit >> 1
                    self._star |= bit >> 1
                continue
            elif char == "*":
                self._star |= bit
            else:
                self._percent |= bit
            position += 1
        self._accept = 1 << position
        self._start = self._skip_wildcards(1)

    def matches(self, name: str) -> bool:
        states = self._start
        for char in name:
            staying = states & (self._star if char == self.delimiter else self._star | self._percent)
            states = self._skip_wildcards(((states & self._literal.get(char, 0)) << 1) | staying)
            if not states:
                return False
        return bool(states & self._accept)

    def _skip_wildcards(self, states: int) -> int:
        """Add the positions after the wildcards at ``states``: a wildcard may match nothing."""
        return states | (states & (self._star | self._percent)) << 1
