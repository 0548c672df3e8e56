"""THREAD=REFERENCES step 1 (RFC 5256 5): linking messages along their References, never in a loop.

For each message in mailbox order: (1A) each reference becomes the parent of the next one, unless
the next one has a parent already or the link would close a loop; (1B) the last reference becomes
the message's own parent: "If the current message already has a parent, [...] break the current
parent/child link before creating the new correct one. As in step 1.A, do not create the
parent/child link if creating that link would introduce a loop." So a message whose References
loop back to itself ends up with no parent at all, as in Dovecot, rather than keeping a parent that
its own References contradict.

What a sender controls is bounded: only ``MAX_REFERENCES`` of one message's references are taken
(the first and the last ones, see ``mime.summary``), also for messages stored before that cap. The
loop check is where time could go: see ``linkcut`` for why following parent pointers is quadratic
on a deep chain. It is still tried first, with a budget of steps per reference; past the budget
the linking starts again on a link-cut forest, whose answers are the same.

Message-IDs are compared after removing quoting ("MUST normalize", RFC 5256 5: ``<"a"@b>`` is
``<a@b>``), and case-sensitively.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pillarbox.imap.linkcut import LinkCutForest
from pillarbox.mime.summary import trim_references

STEPS_PER_REFERENCE = 32
"""Parent-pointer steps allowed per reference (and per message) before the link-cut forest takes over."""
NONE = -1
"""No parent; no message (a dummy container)."""


class Containers:
    """Step 1's result, one entry per container (numbered in creation order): its parent container,
    and the index of its message in the input, or ``NONE`` for a dummy."""

    __slots__ = ("message", "parent")

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.message: list[int] = []

    def add(self) -> int:
        self.parent.append(NONE)
        self.message.append(NONE)
        return len(self.parent) - 1


class _Links(Protocol):
    def has_root(self, node: int, root: int) -> bool: ...
    def link(self, child: int, parent: int) -> None: ...
    def cut(self, node: int) -> None: ...


class _OverBudget(Exception):
    pass


class _ParentWalk:
    """The loop check by following parent pointers, within a budget of steps."""

    def __init__(self, containers: Containers, budget: int) -> None:
        self.parent = containers.parent
        self.steps_left = budget

    def has_root(self, node: int, root: int) -> bool:
        parent, steps = self.parent, 0
        while parent[node] != NONE:
            node = parent[node]
            steps += 1
        self.steps_left -= steps
        if self.steps_left < 0:
            raise _OverBudget
        return node == root

    def link(self, child: int, parent: int) -> None:
        self.parent[child] = parent

    def cut(self, node: int) -> None:
        self.parent[node] = NONE


class _LinkCut:
    """The loop check on a link-cut forest mirroring the parent pointers: O(log n) a question."""

    def __init__(self, containers: Containers) -> None:
        self.parent = containers.parent
        self.forest = LinkCutForest()

    def has_root(self, node: int, root: int) -> bool:
        return self.forest.root(node) == root

    def link(self, child: int, parent: int) -> None:
        self.forest.link(child, parent)
        self.parent[child] = parent

    def cut(self, node: int) -> None:
        self.forest.cut(node)
        self.parent[node] = NONE


def link(message_ids: Sequence[str | None], references: Sequence[tuple[str, ...]]) -> Containers:
    """Step 1 over the messages (in mailbox order), given by their Message-IDs and references."""
    trimmed = [_normal_ids(trim_references(refs)) if refs else () for refs in references]
    budget = STEPS_PER_REFERENCE * (len(message_ids) + sum(map(len, trimmed)))
    try:
        containers = Containers()
        return _link(message_ids, trimmed, containers, _ParentWalk(containers, budget))
    except _OverBudget:
        containers = Containers()
        return _link(message_ids, trimmed, containers, _LinkCut(containers))


def _link(
    message_ids: Sequence[str | None], references: list[tuple[str, ...]], containers: Containers, links: _Links
) -> Containers:
    table: dict[str, int] = {}
    parent, message = containers.parent, containers.message

    def new_node(message_id: str | None) -> int:
        node = containers.add()
        if message_id is not None:
            table.setdefault(message_id, node)  # a duplicate Message-ID stays the first message's
        return node

    for index, (message_id, refs) in enumerate(zip(message_ids, references, strict=True)):
        message_id = _normal_id(message_id) if message_id else None
        node = table.get(message_id, NONE) if message_id is not None else NONE
        if node == NONE or message[node] != NONE:  # a duplicate is treated as unique
            node = new_node(message_id)
        message[node] = index
        previous = NONE
        for ref in refs:  # step 1A
            current = table.get(ref, NONE)
            if current == NONE:
                current = new_node(ref)
            if previous != NONE and parent[current] == NONE and not links.has_root(previous, current):
                links.link(current, previous)
            previous = current
        if parent[node] != previous:  # step 1B
            if parent[node] != NONE:
                links.cut(node)
            if previous != NONE and not links.has_root(previous, node):
                links.link(node, previous)
    return containers


def _normal_ids(message_ids: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(map(_normal_id, message_ids)) if any('"' in one for one in message_ids) else message_ids


def _normal_id(message_id: str) -> str:
    return message_id.replace('"', "").replace("\\", "") if '"' in message_id else message_id
