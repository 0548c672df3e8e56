"""Sieve's grammar (RFC 5228 8.2) from tokens to a tree of commands and tests.

    commands  = *command
    command   = identifier arguments (";" / block)
    block     = "{" commands "}"
    arguments = *argument [ test / test-list ]
    argument  = string-list / number / tag
    test      = identifier arguments
    test-list = "(" test *("," test) ")"

The parser descends recursively, but never deeper than ``max_depth`` blocks plus nested tests: a
script of a million ``{`` or ``not`` is refused with one clear error long before Python's stack is at
risk (the issue's "no recursion on input size"). Meaning (which commands exist, what arguments they
take) is the compiler's business; this module only knows shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

from pillarbox.sieve.errors import SieveSyntaxError
from pillarbox.sieve.lexer import Token, tokenize

MAX_DEPTH = 32


@dataclass(frozen=True)
class Tag:
    name: str


@dataclass(frozen=True)
class StringList:
    values: tuple[str, ...]
    bracketed: bool
    """Written as ``[...]`` (a one-element list) rather than a single string."""


Argument = Tag | int | StringList


@dataclass(frozen=True)
class Test:
    name: str
    arguments: tuple[Argument, ...]
    tests: tuple[Test, ...]
    line: int


@dataclass(frozen=True)
class Command:
    name: str
    arguments: tuple[Argument, ...]
    tests: tuple[Test, ...]
    block: tuple[Command, ...] | None
    line: int


def parse(text: str, max_depth: int = MAX_DEPTH) -> tuple[Command, ...]:
    """The commands of the script ``text``, or SieveSyntaxError."""
    return _Parser(tokenize(text), max_depth).script()


class _Parser:
    def __init__(self, tokens: list[Token], max_depth: int) -> None:
        self.tokens = tokens
        self.pos = 0
        self.max_depth = max_depth

    def script(self) -> tuple[Command, ...]:
        commands = self._commands(0)
        if self.pos < len(self.tokens):
            raise SieveSyntaxError(f"unexpected {self._describe()}", self.tokens[self.pos].line)
        return commands

    def _peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _line(self) -> int:
        token = self._peek()
        return token.line if token else (self.tokens[-1].line if self.tokens else 1)

    def _describe(self) -> str:
        token = self._peek()
        if token is None:
            return "end of script"
        return f"{token.kind} {token.value!r}" if token.kind in ("identifier", "tag", "number") else repr(token.kind)

    def _expect(self, kind: str) -> Token:
        token = self._peek()
        if token is None or token.kind != kind:
            raise SieveSyntaxError(f"expected {kind!r}, found {self._describe()}", self._line())
        self.pos += 1
        return token

    def _deeper(self, depth: int) -> int:
        if depth >= self.max_depth:
            raise SieveSyntaxError(f"nesting deeper than {self.max_depth} levels", self._line())
        return depth + 1

    def _commands(self, depth: int) -> tuple[Command, ...]:
        commands = []
        while (token := self._peek()) is not None and token.kind == "identifier":
            commands.append(self._command(depth))
        return tuple(commands)

    def _command(self, depth: int) -> Command:
        name = self._expect("identifier")
        arguments, tests = self._arguments(depth)
        token = self._peek()
        if token is not None and token.kind == ";":
            self.pos += 1
            return Command(str(name.value), arguments, tests, None, name.line)
        if token is not None and token.kind == "{":
            self.pos += 1
            block = self._commands(self._deeper(depth))
            self._expect("}")
            return Command(str(name.value), arguments, tests, block, name.line)
        raise SieveSyntaxError(f"expected ';' or '{{' after {name.value}, found {self._describe()}", self._line())

    def _arguments(self, depth: int) -> tuple[tuple[Argument, ...], tuple[Test, ...]]:
        arguments: list[Argument] = []
        while (token := self._peek()) is not None:
            if token.kind == "tag":
                arguments.append(Tag(str(token.value)))
            elif token.kind == "number":
                arguments.append(int(token.value))
            elif token.kind in ("string", "["):
                arguments.append(self._string_list())
                continue
            else:
                break
            self.pos += 1
        token = self._peek()
        if token is not None and token.kind == "identifier":
            return tuple(arguments), (self._test(self._deeper(depth)),)
        if token is not None and token.kind == "(":
            return tuple(arguments), self._test_list(self._deeper(depth))
        return tuple(arguments), ()

    def _string_list(self) -> StringList:
        token = self._peek()
        assert token is not None
        if token.kind == "string":
            self.pos += 1
            return StringList((str(token.value),), False)
        self.pos += 1
        values = [str(self._expect("string").value)]
        while (token := self._peek()) is not None and token.kind == ",":
            self.pos += 1
            values.append(str(self._expect("string").value))
        self._expect("]")
        return StringList(tuple(values), True)

    def _test(self, depth: int) -> Test:
        name = self._expect("identifier")
        arguments, tests = self._arguments(depth)
        return Test(str(name.value), arguments, tests, name.line)

    def _test_list(self, depth: int) -> tuple[Test, ...]:
        self._expect("(")
        tests = [self._test(depth)]
        while (token := self._peek()) is not None and token.kind == ",":
            self.pos += 1
            tests.append(self._test(depth))
        self._expect(")")
        return tuple(tests)
