"""Sieve tests (RFC 5228 5 and the extensions' tests): a checked test node and the run state → bool.

``allof``/``anyof`` stop at the first test that decides (5.2, 5.3 allow it). A successful ``:matches``
sets the match variables ``${0}``..``${9}`` (RFC 5229 3.2). ``:index`` (RFC 5260 6) picks one field of
each named header, counted from the end with ``:last``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pillarbox.mime.addresses import parse_address_list
from pillarbox.sieve import actions as act
from pillarbox.sieve.compiler import Node
from pillarbox.sieve.context import Question
from pillarbox.sieve.dates import date_part, header_datetime, in_zone, parse_zone
from pillarbox.sieve.errors import SieveRuntimeError
from pillarbox.sieve.matching import evaluate
from pillarbox.sieve.message import header_values, raw_values

if TYPE_CHECKING:
    from pillarbox.sieve.state import RunState

SUBADDRESS_SEPARATOR = "+"


def evaluate_test(state: RunState, node: Node) -> bool:
    handler = _TESTS.get(node.name)
    if handler is None:  # the compiler only lets known tests through
        raise SieveRuntimeError(f"unknown test {node.name}", node.line)
    return handler(state, node)


def compare(state: RunState, node: Node, values: Sequence[str], keys: Sequence[str]) -> bool:
    assert node.match is not None
    outcome = evaluate(node.match, values, state.expand_all(keys), state.budget)
    if outcome.matched and outcome.captures is not None and state.uses("variables"):
        state.frame.variables.set_matched(outcome.captures)
    return outcome.matched


def indexed(node: Node, values: list[str]) -> list[str]:
    index = node.tags.get("index")
    if index is None:
        return values
    position = int(index)  # type: ignore[call-overload]
    if not 1 <= position <= len(values):
        return []
    return [values[-position] if node.tags.get("last") else values[position - 1]]


def _header(state: RunState, node: Node) -> bool:
    names, keys = node.args
    values = [v for name in state.expand_all(names) for v in indexed(node, header_values(state.fields, name))]
    return compare(state, node, values, keys)  # type: ignore[arg-type]


def address_part(address: str, part: str) -> str | None:
    """RFC 5228 2.7.4 and RFC 5233 4; None when the part does not exist (no ``+`` for ``:detail``)."""
    local, at, domain = address.rpartition("@")
    if not at:
        local, domain = address, ""
    if part == "localpart":
        return local
    if part == "domain":
        return domain
    if part in ("user", "detail"):
        user, separator, detail = local.partition(SUBADDRESS_SEPARATOR)
        if part == "user":
            return user
        return detail if separator else None
    return address


def _address(state: RunState, node: Node) -> bool:
    names, keys = node.args
    addresses = []
    for name in state.expand_all(names):  # type: ignore[arg-type]
        for value in indexed(node, raw_values(state.fields, name)):
            addresses.extend(a.addr_spec for a in parse_address_list(value) if a.addr_spec)
    parts = [p for p in (address_part(a, node.address_part) for a in addresses) if p is not None]
    return compare(state, node, parts, keys)  # type: ignore[arg-type]


def _envelope(state: RunState, node: Node) -> bool:
    names, keys = node.args
    envelope = state.view.envelope
    known = {"from": envelope.sender, "to": envelope.recipient, "auth": envelope.auth}
    values = []
    for name in state.expand_all(names):  # type: ignore[arg-type]
        value = known.get(name.lower())
        if value is None or (name.lower() == "auth" and not value):
            continue
        part = address_part(value, node.address_part) if value else ("" if node.address_part == "all" else None)
        if part is not None:
            values.append(part)
    return compare(state, node, values, keys)  # type: ignore[arg-type]


def _exists(state: RunState, node: Node) -> bool:
    present = {f.name.lower() for f in state.fields}
    return all(name.lower() in present for name in state.expand_all(node.args[0]))  # type: ignore[arg-type]


def _size(state: RunState, node: Node) -> bool:
    limit = int(node.args[0])  # type: ignore[call-overload]
    if node.tags.get("over"):
        return state.view.size > limit
    if node.tags.get("under"):
        return state.view.size < limit
    raise SieveRuntimeError("size needs :over or :under", node.line)


def _string(state: RunState, node: Node) -> bool:
    sources, keys = node.args
    values = state.expand_all(sources)  # type: ignore[arg-type]
    if node.match is not None and node.match.type == "count":
        values = [v for v in values if v]  # RFC 5229 5: empty strings are not counted
    return compare(state, node, values, keys)  # type: ignore[arg-type]


def _hasflag(state: RunState, node: Node) -> bool:
    names, keys = node.args
    flags = []
    for source in (names or (None,)):  # type: ignore[union-attr]
        flags.extend(state.flag_source(source).split())
    return compare(state, node, flags, keys)  # type: ignore[arg-type]


def _body(state: RunState, node: Node) -> bool:
    state.budget.spend(1 + state.view.size // 4096)
    if node.tags.get("raw"):
        texts = [state.view.body_raw()]
    else:
        content = node.tags.get("content")
        texts = state.view.body_parts(tuple(state.expand_all(content)) if content is not None else None)  # type: ignore[arg-type]
    assert node.match is not None
    if node.match.type in ("count", "value"):
        raise SieveRuntimeError("body cannot use :count or :value", node.line)
    return compare(state, node, texts, node.args[0])  # type: ignore[arg-type]


def _date(state: RunState, node: Node) -> bool:
    name, part, keys = node.args
    zone = _zone_of(state, node)
    values = []
    for raw in indexed(node, header_values(state.fields, state.expand(str(name)))):
        moment = header_datetime(str(name), raw)
        if moment is None:
            continue
        shown = moment if node.tags.get("originalzone") else in_zone(moment, zone)
        value = date_part(shown, state.expand(str(part)))
        if value is not None:
            values.append(value)
    return compare(state, node, values, keys)  # type: ignore[arg-type]


def _currentdate(state: RunState, node: Node) -> bool:
    part, keys = node.args
    value = date_part(in_zone(state.context.now, _zone_of(state, node)), state.expand(str(part)))
    return compare(state, node, [value] if value is not None else [], keys)  # type: ignore[arg-type]


def _zone_of(state: RunState, node: Node):  # type: ignore[no-untyped-def]
    zone = node.tags.get("zone")
    if zone is None:
        return state.context.local_zone
    return parse_zone(state.expand(str(zone))) or state.context.local_zone  # RFC 5260 4.1: invalid → local


def _duplicate(state: RunState, node: Node) -> bool:
    """RFC 7352: seen before (by this account) within the period? Tracked once the run succeeds."""
    if "uniqueid" in node.tags:
        value: str | None = state.expand(str(node.tags["uniqueid"]))
    else:
        found = header_values(state.fields, state.expand(str(node.tags.get("header", "Message-ID"))))
        value = found[0].strip() if found else None
    if value is None:
        return False
    handle = state.expand(str(node.tags.get("handle", "")))
    key = hashlib.sha256(f"duplicate\0{handle}\0{value}".encode()).hexdigest()
    seen = bool(state.ask(Question("duplicate", (key,))))
    limits = state.context.limits
    seconds = min(int(node.tags.get("seconds", limits.duplicate_default_seconds)), limits.duplicate_max_seconds)  # type: ignore[call-overload]
    if not seen or node.tags.get("last"):
        state.actions.append(act.Remember(key, seconds, refresh=seen))
    return seen


def _mailboxexists(state: RunState, node: Node) -> bool:
    return all(bool(state.ask(Question("mailbox", (name,)))) for name in state.expand_all(node.args[0]))  # type: ignore[arg-type]


def _spamtest(state: RunState, node: Node) -> bool:
    verdict = state.context.spam
    if node.tags.get("percent"):
        value = str(verdict.percent) if verdict is not None else "0"
    else:
        value = str(verdict.score) if verdict is not None else "0"
    return compare(state, node, [value], [str(node.args[0])])


def _environment(state: RunState, node: Node) -> bool:
    name, keys = node.args
    value = state.context.environment.get(state.expand(str(name)).lower())
    return value is not None and compare(state, node, [value], keys)  # type: ignore[arg-type]


def _not(state: RunState, node: Node) -> bool:
    return not state.test(node.tests[0])


_TESTS: dict[str, Callable[[RunState, Node], bool]] = {
    "true": lambda state, node: True,
    "false": lambda state, node: False,
    "not": _not,
    "allof": lambda state, node: all(state.test(t) for t in node.tests),
    "anyof": lambda state, node: any(state.test(t) for t in node.tests),
    "header": _header,
    "address": _address,
    "envelope": _envelope,
    "exists": _exists,
    "size": _size,
    "string": _string,
    "hasflag": _hasflag,
    "body": _body,
    "date": _date,
    "currentdate": _currentdate,
    "duplicate": _duplicate,
    "mailboxexists": _mailboxexists,
    "spamtest": _spamtest,
    "environment": _environment,
}
