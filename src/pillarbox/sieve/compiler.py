"""From a parsed script to a checked one: every command known, required, and given the right arguments.

This is where a script is refused at upload rather than at delivery (RFC 5804 PUTSCRIPT/CHECKSCRIPT):
an unknown command or test, an extension used without ``require`` (RFC 5228 3.2), ``require`` after
another command, ``elsif``/``else`` without an ``if``, a tag given twice or a tag of one group beside
another of the same group (2.7), a wrong argument kind or count, an unknown comparator (2.7.3) or
relational operator (RFC 5231), an invalid variable name in ``set`` (RFC 5229 4). What remains for
run time is what depends on the message or on variables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from pillarbox.sieve.dates import DATE_PARTS
from pillarbox.sieve.encoded import decode_encoded_characters
from pillarbox.sieve.errors import SieveSyntaxError
from pillarbox.sieve.parser import Argument, Command, StringList, Tag, Test, parse
from pillarbox.sieve.spec import (
    ADDRESS_PARTS,
    COMMANDS,
    COMPARATORS,
    EXTENSIONS,
    MATCH_TYPES,
    RELATIONS,
    TESTS,
    Signature,
    TagSpec,
)

# RFC 6131 3: "vacation-seconds" implies "vacation"; RFC 5235 3.2: "spamtestplus" implies "spamtest"
_IMPLIES = {"vacation-seconds": "vacation", "spamtestplus": "spamtest"}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Match:
    comparator: str = "i;ascii-casemap"
    type: str = "is"
    relation: str | None = None


@dataclass(frozen=True)
class Node:
    """A checked command or test: tags by name, positional arguments in order (None for an omitted one)."""

    name: str
    tags: Mapping[str, object]
    args: tuple[object, ...]
    tests: tuple[Node, ...] = ()
    block: tuple[Node, ...] | None = None
    line: int = 0
    match: Match | None = None
    address_part: str = "all"


@dataclass(frozen=True)
class Script:
    commands: tuple[Node, ...]
    extensions: frozenset[str]
    size: int


def compile_script(text: str, max_depth: int = 32, max_size: int | None = None) -> Script:
    """The checked form of ``text``, or SieveSyntaxError with the line and the reason."""
    if max_size is not None and len(text.encode()) > max_size:
        raise SieveSyntaxError(f"script larger than {max_size} octets")
    commands = parse(text, max_depth)
    extensions = _requirements(commands)
    compiler = _Compiler(extensions)
    return Script(compiler.block(commands, top=True), extensions, len(text.encode()))


def _requirements(commands: tuple[Command, ...]) -> frozenset[str]:
    required: set[str] = set()
    for command in commands:
        if command.name != "require":
            break
        for argument in command.arguments:
            for name in argument.values if isinstance(argument, StringList) else ():
                if name.lower() not in EXTENSIONS:
                    raise SieveSyntaxError(f"unsupported extension {name!r}", command.line)
                required.add(name.lower())
    implied = {_IMPLIES[name] for name in required if name in _IMPLIES}
    return frozenset(required | implied)


@dataclass
class _Collected:
    """The arguments of one command or test as they are read."""

    name: str
    line: int
    tags: dict[str, object] = field(default_factory=dict)
    positional: list[Argument] = field(default_factory=list)
    comparator: str = "i;ascii-casemap"
    match_type: str | None = None
    relation: str | None = None
    part: str | None = None


class _Compiler:
    def __init__(self, extensions: frozenset[str]) -> None:
        self.extensions = extensions
        self.encoded = "encoded-character" in extensions

    def block(self, commands: tuple[Command, ...], top: bool = False) -> tuple[Node, ...]:
        nodes: list[Node] = []
        previous = None
        for index, command in enumerate(commands):
            if command.name == "require" and not (top and all(c.name == "require" for c in commands[:index])):
                raise SieveSyntaxError("require must come before any other command", command.line)
            if command.name in ("elsif", "else") and previous not in ("if", "elsif"):
                raise SieveSyntaxError(f"{command.name} without a preceding if", command.line)
            nodes.append(self.command(command))
            previous = command.name
        return tuple(node for node in nodes if node.name != "require")

    def command(self, command: Command) -> Node:
        signature = COMMANDS.get(command.name)
        if signature is None:
            raise SieveSyntaxError(f"unknown command {command.name!r}", command.line)
        self._require(signature.extension, command.name, command.line)
        if command.name == "global" and "variables" not in self.extensions:
            raise SieveSyntaxError("global needs require \"variables\"", command.line)
        if signature.block and command.block is None:
            raise SieveSyntaxError(f"{command.name} needs a block", command.line)
        if not signature.block and command.block is not None:
            raise SieveSyntaxError(f"{command.name} takes no block", command.line)
        node = self._node(command.name, signature, command.arguments, command.tests, command.line)
        block = self.block(command.block) if command.block is not None else None
        return Node(node.name, node.tags, node.args, node.tests, block, node.line, node.match, node.address_part)

    def test(self, test: Test) -> Node:
        signature = TESTS.get(test.name)
        if signature is None:
            raise SieveSyntaxError(f"unknown test {test.name!r}", test.line)
        self._require(signature.extension, test.name, test.line)
        return self._node(test.name, signature, test.arguments, test.tests, test.line)

    def _require(self, extension: str | None, what: str, line: int) -> None:
        if extension is not None and extension not in self.extensions:
            raise SieveSyntaxError(f"{what} needs require \"{extension}\"", line)

    def _node(
        self, name: str, signature: Signature, arguments: tuple[Argument, ...], tests: tuple[Test, ...], line: int
    ) -> Node:
        tags, positional, match, part = self._arguments(name, signature, arguments, line)
        args = self._positional(name, signature, positional, line)
        self._check_tests(name, signature, tests, line)
        node = Node(name, MappingProxyType(tags), args, tuple(self.test(t) for t in tests), None, line,
                    match if signature.matching else None, part)
        _check_values(node)
        return node

    def _check_tests(self, name: str, signature: Signature, tests: tuple[Test, ...], line: int) -> None:
        wanted = {"none": (0, 0), "one": (1, 1), "list": (1, 1 << 30)}[signature.tests]
        if not wanted[0] <= len(tests) <= wanted[1]:
            raise SieveSyntaxError(f"{name} takes {'no test' if not wanted[1] else 'a test'}", line)

    def _arguments(
        self, name: str, signature: Signature, arguments: tuple[Argument, ...], line: int
    ) -> tuple[dict[str, object], list[Argument], Match, str]:
        found = _Collected(name, line)
        items = list(arguments)
        index = 0
        while index < len(items):
            item = items[index]
            index += 1
            if not isinstance(item, Tag):
                found.positional.append(item)
            elif found.positional:
                raise SieveSyntaxError(f"tag :{item.name} after the positional arguments of {name}", line)
            else:
                index = self._tag(found, signature, item.name, items, index)
        for group in signature.exclusive:
            if len(group & found.tags.keys()) > 1:
                listed = ", ".join(sorted(":" + t for t in group))
                raise SieveSyntaxError(f"{name}: {listed} exclude each other", line)
        if found.comparator == "i;ascii-numeric" and found.match_type in ("contains", "matches"):
            raise SieveSyntaxError("i;ascii-numeric cannot do :contains or :matches", line)
        match = Match(found.comparator, found.match_type or "is", found.relation)
        return found.tags, found.positional, match, found.part or "all"

    def _tag(self, found: _Collected, signature: Signature, tag: str, items: list[Argument], index: int) -> int:
        """Take the tag (and its value) into ``found``; returns the index after what it used."""
        name, line = found.name, found.line
        if signature.matching and tag == "comparator":
            found.comparator = self._comparator(items, index, line)
            return index + 1
        if signature.matching and tag in MATCH_TYPES:
            if found.match_type is not None:
                raise SieveSyntaxError(f"{name} has two match types", line)
            self._require(MATCH_TYPES[tag], f":{tag}", line)
            found.match_type = tag
            if tag in ("count", "value"):
                found.relation = self._relation(items, index, line)
                return index + 1
            return index
        if signature.address_part and tag in ADDRESS_PARTS:
            if found.part is not None:
                raise SieveSyntaxError(f"{name} has two address parts", line)
            self._require(ADDRESS_PARTS[tag], f":{tag}", line)
            found.part = tag
            return index
        if tag not in signature.tags:
            raise SieveSyntaxError(f"{name} has no tag :{tag}", line)
        if tag in found.tags:
            raise SieveSyntaxError(f"tag :{tag} given twice", line)
        spec = signature.tags[tag]
        self._require(spec.extension, f":{tag}", line)
        found.tags[tag], index = self._tag_value(spec, tag, items, index, line)
        return index

    def _comparator(self, items: list[Argument], index: int, line: int) -> str:
        value = self._single_string(items, index, ":comparator", line).lower()
        if value not in COMPARATORS:
            raise SieveSyntaxError(f"unknown comparator {value!r}", line)
        self._require(COMPARATORS[value], f"comparator {value}", line)
        return value

    def _relation(self, items: list[Argument], index: int, line: int) -> str:
        value = self._single_string(items, index, "a relational match", line).lower()
        if value not in RELATIONS:
            raise SieveSyntaxError(f"unknown relational operator {value!r}", line)
        return value

    def _single_string(self, items: list[Argument], index: int, what: str, line: int) -> str:
        item = items[index] if index < len(items) else None
        if not isinstance(item, StringList) or item.bracketed or len(item.values) != 1:
            raise SieveSyntaxError(f"{what} needs a string", line)
        return self._string(item.values[0])

    def _tag_value(
        self, spec: TagSpec, tag: str, items: list[Argument], index: int, line: int
    ) -> tuple[object, int]:
        if spec.kind == "flag":
            return True, index
        if index >= len(items) or isinstance(items[index], Tag):
            raise SieveSyntaxError(f":{tag} needs a value", line)
        return self._value(spec.kind, items[index], f":{tag}", line), index + 1

    def _value(self, kind: str, item: Argument, what: str, line: int) -> object:
        if kind == "number":
            if not isinstance(item, int):
                raise SieveSyntaxError(f"{what} needs a number", line)
            return item
        if not isinstance(item, StringList):
            raise SieveSyntaxError(f"{what} needs a {'string' if kind == 'string' else 'string list'}", line)
        if kind == "string":
            if item.bracketed or len(item.values) != 1:
                raise SieveSyntaxError(f"{what} needs a single string", line)
            return self._string(item.values[0])
        return tuple(self._string(v) for v in item.values)

    def _string(self, value: str) -> str:
        return decode_encoded_characters(value) if self.encoded else value

    def _positional(self, name: str, signature: Signature, given: list[Argument], line: int) -> tuple[object, ...]:
        kinds = signature.positional
        if signature.optional and len(given) == len(kinds) - 1:
            kinds = kinds[1:] if signature.optional == "leading" else kinds[:-1]
            padding = (None,)
        else:
            padding = ()
        if len(given) != len(kinds):
            raise SieveSyntaxError(f"{name} takes {len(signature.positional)} argument(s), got {len(given)}", line)
        values = tuple(self._value(kind, item, name, line) for kind, item in zip(kinds, given, strict=True))
        if signature.optional == "leading":
            return padding + values
        return values + padding


def _check_values(node: Node) -> None:
    """Constant arguments whose values the RFCs restrict, checked now rather than at delivery."""
    if node.name == "size" and not ({"over", "under"} & node.tags.keys()):
        raise SieveSyntaxError("size needs :over or :under", node.line)
    if node.name == "set" and not _IDENTIFIER.match(str(node.args[0])):
        raise SieveSyntaxError(f"invalid variable name {node.args[0]!r}", node.line)
    if node.name == "global":
        for name in node.args[0]:  # type: ignore[attr-defined]
            if not _IDENTIFIER.match(name):
                raise SieveSyntaxError(f"invalid variable name {name!r}", node.line)
    if node.name == "include" and not _valid_script_name(str(node.args[0])):
        raise SieveSyntaxError(f"invalid script name {node.args[0]!r}", node.line)
    if node.name in ("date", "currentdate"):
        part = str(node.args[-2]).lower()
        if "${" not in part and part not in DATE_PARTS:
            raise SieveSyntaxError(f"unknown date part {part!r}", node.line)


def _valid_script_name(name: str) -> bool:
    """RFC 6609 3.2: a plain name, no path ("/"), as ManageSieve names are (RFC 5804 1.6)."""
    return bool(name) and "/" not in name and not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in name)
