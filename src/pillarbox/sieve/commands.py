"""Sieve action commands: each appends an action (or changes the run's state) and checks its limits.

RFC 5228 2.10.3: sending the same message to the same place twice is done once, so a second keep or
fileinto of one mailbox and a second redirect to one address are dropped here. 4.2: a redirect's
address must be a valid mailbox; a bad one (after variables) is a runtime error, so implicit keep.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from pillarbox.address import AddressError, split_address
from pillarbox.mime.envelope import decode_header_value
from pillarbox.sieve import actions as act
from pillarbox.sieve.compiler import Node
from pillarbox.sieve.conditions import compare, indexed
from pillarbox.sieve.errors import LimitExceeded, SieveRuntimeError
from pillarbox.sieve.message import HeaderField, header_block
from pillarbox.sieve.state import RunState
from pillarbox.sieve.variables import apply_modifiers, modifier_names

PROTECTED_FIELDS = frozenset({"received", "auto-submitted"})
"""RFC 5293 4.1 / 4.2: a script must not remove trace fields, and may not forge or hide Auto-Submitted."""
MAX_FIELD_VALUE = 4096
_FIELD_NAME = re.compile(r"[!-9;-~]+\Z")


def execute_command(state: RunState, node: Node) -> None:
    handler = _COMMANDS.get(node.name)
    if handler is None:
        raise SieveRuntimeError(f"unknown command {node.name}", node.line)
    handler(state, node)


def _headers(state: RunState) -> bytes | None:
    return header_block(state.fields) if state.fields_edited else None


def _flags_of(state: RunState, node: Node) -> tuple[str, ...] | None:
    given = node.tags.get("flags")
    if given is not None:
        return tuple(_split_flags(state.expand_all(given)))  # type: ignore[arg-type]
    return tuple(state.flags) if state.flags_used else None


def _keep(state: RunState, node: Node) -> None:
    flags = _flags_of(state, node)
    state.implicit_keep = False
    if any(isinstance(a, act.Keep) and a.flags == flags for a in state.actions):
        return
    state.add(act.Keep(flags, _headers(state)))


def _discard(state: RunState, node: Node) -> None:
    state.implicit_keep = False
    state.add(act.Discard())


def _fileinto(state: RunState, node: Node) -> None:
    mailbox = state.expand(str(node.args[0]))
    if not mailbox:
        raise SieveRuntimeError("fileinto an empty mailbox name", node.line)
    copy = bool(node.tags.get("copy"))
    if not copy:
        state.implicit_keep = False
    if any(isinstance(a, act.FileInto) and a.mailbox == mailbox for a in state.actions):
        return
    state.add(act.FileInto(mailbox, _flags_of(state, node), bool(node.tags.get("create")), copy, _headers(state)))


def _redirect(state: RunState, node: Node) -> None:
    address = state.expand(str(node.args[0])).strip()
    if address.startswith("<") and address.endswith(">"):
        address = address[1:-1]
    try:
        split_address(address)
    except AddressError:
        raise SieveRuntimeError(f"redirect to an invalid address {address!r}", node.line) from None
    copy = bool(node.tags.get("copy"))
    if not copy:
        state.implicit_keep = False
    if any(isinstance(a, act.Redirect) and a.address.lower() == address.lower() for a in state.actions):
        return
    state.redirects += 1
    if state.redirects > state.context.limits.max_redirects:
        raise LimitExceeded(f"more than {state.context.limits.max_redirects} redirects")
    state.add(act.Redirect(address, copy, _headers(state)))


def _reject(state: RunState, node: Node) -> None:
    state.implicit_keep = False
    state.add(act.Reject(state.expand(str(node.args[0])), extended=node.name == "ereject"))


def _split_flags(values: list[str]) -> list[str]:
    """RFC 5232 3: flags are separated by spaces; duplicates (case-insensitively) are dropped."""
    seen: dict[str, str] = {}
    for value in values:
        for flag in value.split():
            seen.setdefault(flag.lower(), flag)
    return list(seen.values())


def _flag_command(state: RunState, node: Node) -> None:
    variable, given = node.args
    current = _split_flags([state.flag_source(variable)])
    change = _split_flags(state.expand_all(given))  # type: ignore[arg-type]
    if node.name == "setflag":
        result = change
    elif node.name == "addflag":
        result = _split_flags([*current, *change])
    else:
        removed = {f.lower() for f in change}
        result = [f for f in current if f.lower() not in removed]
    if variable is None:
        state.flags, state.flags_used = result, True
    else:
        state.frame.variables.set(state.expand(str(variable)), " ".join(result))


def _set(state: RunState, node: Node) -> None:
    name, value = node.args
    modifiers = [m for m in node.tags if m in modifier_names()]
    state.frame.variables.set(str(name), apply_modifiers(state.expand(str(value)), modifiers))


def _vacation(state: RunState, node: Node) -> None:
    """RFC 5230 4: the reply itself, and whether it may go out, is the host's (vacation.py)."""
    if any(isinstance(a, act.Vacation) for a in state.actions):
        raise SieveRuntimeError("more than one vacation action", node.line)
    limits = state.context.limits
    if "seconds" in node.tags:
        seconds = int(node.tags["seconds"])  # type: ignore[call-overload]
    else:
        seconds = int(node.tags.get("days", limits.vacation_default_seconds // 86400)) * 86400  # type: ignore[call-overload]
    seconds = max(limits.vacation_min_seconds, min(seconds, limits.vacation_max_seconds))
    reason = state.expand(str(node.args[0]))
    subject = state.expand(str(node.tags["subject"])) if "subject" in node.tags else None
    sender = state.expand(str(node.tags["from"])) if "from" in node.tags else None
    addresses = tuple(state.expand_all(node.tags.get("addresses", ())))  # type: ignore[arg-type]
    mime = bool(node.tags.get("mime"))
    handle = state.expand(str(node.tags["handle"])) if "handle" in node.tags else _default_handle(
        reason, subject, sender, addresses, mime)
    state.add(act.Vacation(reason, seconds, subject, sender, addresses, mime, handle))


def _default_handle(reason: str, subject: str | None, sender: str | None, addresses: tuple[str, ...],
                    mime: bool) -> str:
    """RFC 5230 4.2: without :handle, vacations differing in their arguments are told apart."""
    text = "\0".join([reason, subject or "", sender or "", *addresses, str(mime)])
    return "auto:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _include(state: RunState, node: Node) -> None:
    location = "global" if node.tags.get("global") else "personal"
    state.include(location, state.expand(str(node.args[0])), bool(node.tags.get("once")),
                  bool(node.tags.get("optional")))


def _global(state: RunState, node: Node) -> None:
    for name in node.args[0]:  # type: ignore[attr-defined]
        state.frame.variables.globals.add(str(name).lower())


def _addheader(state: RunState, node: Node) -> None:
    name, value = state.expand(str(node.args[0])), state.expand(str(node.args[1]))
    if not _FIELD_NAME.match(name) or len(value) > MAX_FIELD_VALUE or "\n" in value.replace("\r\n", ""):
        raise SieveRuntimeError(f"addheader: invalid field {name!r}", node.line)
    if name.lower() in PROTECTED_FIELDS:
        state.log.append(f"addheader {name} ignored: protected field")
        return
    field = HeaderField(name, value.replace("\r\n", " ").replace("\n", " "), None)
    if node.tags.get("last"):
        state.fields.append(field)
    else:
        state.fields.insert(0, field)
    state.fields_edited = True


def _deleteheader(state: RunState, node: Node) -> None:
    name = state.expand(str(node.args[0]))
    patterns = node.args[1]
    if name.lower() in PROTECTED_FIELDS:
        state.log.append(f"deleteheader {name} ignored: protected field")
        return
    positions = [i for i, f in enumerate(state.fields) if f.name.lower() == name.lower()]
    positions = [int(p) for p in indexed(node, [str(p) for p in positions])]
    doomed = [p for p in positions if patterns is None or compare(
        state, node, [decode_header_value(state.fields[p].value)], patterns)]  # type: ignore[arg-type]
    for position in reversed(doomed):
        del state.fields[position]
    state.fields_edited = state.fields_edited or bool(doomed)


_COMMANDS: dict[str, Callable[[RunState, Node], None]] = {
    "keep": _keep,
    "discard": _discard,
    "fileinto": _fileinto,
    "redirect": _redirect,
    "reject": _reject,
    "ereject": _reject,
    "setflag": _flag_command,
    "addflag": _flag_command,
    "removeflag": _flag_command,
    "set": _set,
    "vacation": _vacation,
    "include": _include,
    "global": _global,
    "addheader": _addheader,
    "deleteheader": _deleteheader,
}
