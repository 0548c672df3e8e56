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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from pillarbox.imap.linkcut import LinkCutForest
from pillarbox.mime.summary import trim_references

if TYPE_CHECKING:
    from pillarbox.imap.thread import ThreadMessage

STEPS_PER_REFERENCE = 32
"""Parent-pointer steps allowed per reference (and per message) before the link-cut forest takes over."""
_EARLIEST = (datetime.min.replace(tzinfo=UTC), 0)


@dataclass(eq=False)
class Node:
    """A container: a message, or a dummy for a Message-ID only referenced (``message`` is None)."""

    message: ThreadMessage | None = None
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    index: int = -1  # its number in the link-cut forest

    def sort_key(self) -> tuple[datetime, int]:
        """The sent date and sequence number; a dummy takes its first child's (RFC 5256 steps 4, 6)."""
        if self.message is not None:
            return self.message.date, self.message.seq
        node: Node | None = self
        while node is not None and node.message is None:
            node = node.children[0] if node.children else None
        return (node.message.date, node.message.seq) if node is not None and node.message else _EARLIEST


class _Links(Protocol):
    def has_root(self, node: Node, root: Node) -> bool: ...
    def link(self, child: Node, parent: Node) -> None: ...
    def cut(self, node: Node) -> None: ...


class _OverBudget(Exception):
    pass


class _ParentWalk:
    """The loop check by following parent pointers, within a budget of steps."""

    def __init__(self, budget: int) -> None:
        self.steps_left = budget

    def has_root(self, node: Node, root: Node) -> bool:
        steps = 0
        while node.parent is not None:
            node = node.parent
            steps += 1
        self.steps_left -= steps
        if self.steps_left < 0:
            raise _OverBudget
        return node is root

    def link(self, child: Node, parent: Node) -> None:
        child.parent = parent

    def cut(self, node: Node) -> None:
        node.parent = None


class _LinkCut:
    """The loop check on a link-cut forest mirroring the parent pointers: O(log n) a question."""

    def __init__(self) -> None:
        self.forest = LinkCutForest()

    def has_root(self, node: Node, root: Node) -> bool:
        return self.forest.root(node.index) == root.index

    def link(self, child: Node, parent: Node) -> None:
        self.forest.link(child.index, parent.index)
        child.parent = parent

    def cut(self, node: Node) -> None:
        self.forest.cut(node.index)
        node.parent = None


def link(messages: Sequence[ThreadMessage]) -> list[Node]:
    """Step 1 over ``messages`` (in mailbox order): every container, parents set, in creation order."""
    references = [_normal_ids(trim_references(m.references)) for m in messages]
    budget = STEPS_PER_REFERENCE * (len(messages) + sum(map(len, references)))
    try:
        return _link(messages, references, _ParentWalk(budget))
    except _OverBudget:
        return _link(messages, references, _LinkCut())


def _link(messages: Sequence[ThreadMessage], references: list[tuple[str, ...]], links: _Links) -> list[Node]:
    table: dict[str, Node] = {}
    nodes: list[Node] = []

    def new_node(message_id: str | None) -> Node:
        node = Node(index=len(nodes))
        nodes.append(node)
        if message_id is not None:
            table.setdefault(message_id, node)  # a duplicate Message-ID stays the first message's
        return node

    for message, refs in zip(messages, references, strict=True):
        message_id = _normal_id(message.message_id) if message.message_id else None
        node = table.get(message_id) if message_id is not None else None
        if node is None or node.message is not None:  # a duplicate is treated as unique
            node = new_node(message_id)
        node.message = message
        previous: Node | None = None
        for ref in refs:  # step 1A
            current = table.get(ref) or new_node(ref)
            if previous is not None and current.parent is None and not links.has_root(previous, current):
                links.link(current, previous)
            previous = current
        if node.parent is not previous:  # step 1B
            if node.parent is not None:
                links.cut(node)
            if previous is not None and not links.has_root(previous, node):
                links.link(node, previous)
    return nodes


def _normal_ids(message_ids: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(map(_normal_id, message_ids)) if any('"' in one for one in message_ids) else message_ids


def _normal_id(message_id: str) -> str:
    return message_id.replace('"', "").replace("\\", "") if '"' in message_id else message_id
