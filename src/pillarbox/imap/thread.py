"""THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 4, 5), over what delivery parsed.

ORDEREDSUBJECT ("poor man's threading") sorts by base subject then sent date; each run of one
base subject is a thread whose first message is the parent of all the others.

REFERENCES is Jamie Zawinski's algorithm as RFC 5256 words it: (1) link every message to its
parent along its References (or first In-Reply-To) chain, creating empty containers for
Message-IDs not in the mailbox and never creating a loop; a duplicate Message-ID is treated as
unique; (2) the parentless containers are the root set; (3) empty containers are pruned, their
children promoted (to the root only when there is one child); (4) siblings are sorted by sent
date (an empty container by its first child's), ties by sequence number; (5) roots with the same
base subject are gathered; (6) the tree is written out. After step 5 siblings are sorted again so
the gathered children take their date order too (the RFC leaves the order of appended children open).

Output (RFC 5256 5): ``thread-list = "(" (thread-members / thread-nested) ")"``: a parent with
one child continues the list ("(1 2 3)"), with several it nests one list per child ("(1 (2)(3))").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby

from pillarbox.imap.sort import base_subject


@dataclass
class ThreadMessage:
    """What threading needs of one message; ``number`` is its sequence number or UID."""

    number: int
    seq: int
    date: datetime
    subject: str
    message_id: str | None
    references: tuple[str, ...]
    _base: tuple[str, bool] | None = field(default=None, repr=False, compare=False)

    def base(self) -> tuple[str, bool]:
        """The base subject and whether it marked a reply (RFC 5256 2.1), computed once."""
        if self._base is None:
            self._base = base_subject(self.subject)
        return self._base


@dataclass(eq=False)
class Node:
    message: ThreadMessage | None = None
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)

    def sort_key(self) -> tuple[datetime, int]:
        if self.message is not None:
            return self.message.date, self.message.seq
        return self.children[0].sort_key() if self.children else (datetime.min.replace(tzinfo=UTC), 0)

    def subject(self) -> tuple[str, bool]:
        source = self if self.message is not None or not self.children else self.children[0]
        return source.message.base() if source.message else ("", False)

    def is_ancestor_of(self, other: Node) -> bool:
        node: Node | None = other
        while node is not None:
            if node is self:
                return True
            node = node.parent
        return False


def ordered_subject(messages: Sequence[ThreadMessage]) -> str:
    """RFC 5256 THREAD=ORDEREDSUBJECT."""
    ordered = sorted(messages, key=lambda m: (m.base()[0], m.date, m.seq))
    roots = []
    for _, run in groupby(ordered, key=lambda m: m.base()[0]):
        first, *rest = list(run)
        root = Node(first)
        root.children = [Node(m, root) for m in rest]
        roots.append(root)
    roots.sort(key=Node.sort_key)
    return serialize(roots)


def references(messages: Sequence[ThreadMessage]) -> str:
    """RFC 5256 THREAD=REFERENCES."""
    roots = _link(messages)
    roots = _prune(roots, top=True)
    _sort(roots)
    roots = _gather(roots)
    _sort(roots)
    return serialize(roots)


def _link(messages: Sequence[ThreadMessage]) -> list[Node]:
    table: dict[str, Node] = {}
    nodes: list[Node] = []
    for message in messages:
        node = table.get(message.message_id or "")
        if node is None or node.message is not None:  # a duplicate Message-ID is treated as unique
            node = Node()
            if message.message_id and message.message_id not in table:
                table[message.message_id] = node
        node.message = message
        nodes.append(node)
        previous: Node | None = None
        for ref in message.references:
            current = table.setdefault(ref, Node())
            if previous is not None and current.parent is None and not current.is_ancestor_of(previous):
                _adopt(previous, current)
            previous = current
        if previous is not None and previous is not node and not node.is_ancestor_of(previous):
            _adopt(previous, node)  # the message's own parent is the last reference, replacing any other
        elif previous is None and node.parent is not None:
            node.parent.children.remove(node)
            node.parent = None
    everything = set(table.values()) | set(nodes)
    return [n for n in everything if n.parent is None]


def _adopt(parent: Node, child: Node) -> None:
    if child.parent is parent:
        return
    if child.parent is not None:
        child.parent.children.remove(child)
    child.parent = parent
    parent.children.append(child)


def _prune(nodes: list[Node], top: bool) -> list[Node]:
    """RFC 5256 step 3: drop empty leaves, promote the children of empty containers."""
    kept: list[Node] = []
    for node in nodes:
        node.children = _prune(node.children, top=False)
        for child in node.children:
            child.parent = node
        if node.message is not None:
            kept.append(node)
        elif node.children and (not top or len(node.children) == 1):
            for child in node.children:
                child.parent = None if top else node.parent
            kept.extend(node.children)
        elif node.children:
            kept.append(node)  # an empty root with several children stays as their common parent
    return kept


def _sort(nodes: list[Node]) -> None:
    for node in nodes:
        _sort(node.children)
    nodes.sort(key=Node.sort_key)


def _gather(roots: list[Node]) -> list[Node]:
    """RFC 5256 step 5: roots with the same base subject become one thread."""
    table: dict[str, Node] = {}
    for root in roots:
        subject, reply = root.subject()
        if not subject:
            continue
        held = table.get(subject)
        if held is None or (held.message is not None and (root.message is None or (held.subject()[1] and not reply))):
            table[subject] = root
    result: list[Node] = []
    position: dict[Node, int] = {}  # where each kept root sits in ``result`` (no list scans: 100,000 roots)
    for root in roots:
        subject, reply = root.subject()
        held = table.get(subject) if subject else None
        if held is None or held is root:
            position[root] = len(result)
            result.append(root)
            continue
        if held.message is None and root.message is None:
            for child in root.children:
                child.parent = held
            held.children.extend(root.children)
        elif held.message is None or (reply and not held.subject()[1]):
            _adopt(held, root)
        else:  # a new dummy takes the held thread's place and holds both
            dummy = Node()
            index = position.pop(held, len(result))
            result[index:index + 1] = [dummy]
            position[dummy] = index
            _adopt(dummy, held)
            _adopt(dummy, root)
            table[subject] = dummy
    return [node for node in result if node.parent is None]


def serialize(roots: Sequence[Node]) -> str:
    return "".join(f"({_members(root)})" for root in roots)


def _members(node: Node) -> str:
    parts: list[str] = []
    current = node
    while True:
        if current.message is not None:
            parts.append(str(current.message.number))
        if len(current.children) == 1:
            current = current.children[0]
            continue
        if current.children:
            parts.append("".join(f"({_members(child)})" for child in current.children))
        return " ".join(parts)


ALGORITHMS: dict[str, Callable[[Sequence[ThreadMessage]], str]] = {
    "ORDEREDSUBJECT": ordered_subject,
    "REFERENCES": references,
}
