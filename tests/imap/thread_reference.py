"""The THREAD algorithms of RFC 5256 written straightforwardly, one object per container: what
``pillarbox.imap.thread``'s columnar code is compared against (it was the server's code before that).

Linking checks for loops by walking parent pointers (quadratic on deep chains: only for small tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby

from pillarbox.imap.thread import ThreadMessage
from pillarbox.mime.subject import base_subject
from pillarbox.mime.summary import trim_references

_EARLIEST = (datetime.min.replace(tzinfo=UTC), 0)


@dataclass(eq=False)
class Node:
    """A container: a message, or a dummy for a Message-ID only referenced (``message`` is None)."""

    message: ThreadMessage | None = None
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)

    def sort_key(self) -> tuple[datetime, int]:
        """The sent date and sequence number; a dummy takes its first child's (RFC 5256 steps 4, 6)."""
        if self.message is not None:
            return self.message.date, self.message.seq
        node: Node | None = self
        while node is not None and node.message is None:
            node = node.children[0] if node.children else None
        return (node.message.date, node.message.seq) if node is not None and node.message else _EARLIEST


def link(messages: Sequence[ThreadMessage]) -> list[Node]:
    references = [_normal_ids(trim_references(m.references)) for m in messages]
    return _link(messages, references)


def _link(messages: Sequence[ThreadMessage], references: list[tuple[str, ...]]) -> list[Node]:
    table: dict[str, Node] = {}
    nodes: list[Node] = []

    def new_node(message_id: str | None) -> Node:
        node = Node()
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
            if previous is not None and current.parent is None and _root(previous) is not current:
                current.parent = previous
            previous = current
        if node.parent is not previous:  # step 1B
            node.parent = None
            if previous is not None and _root(previous) is not node:
                node.parent = previous
    return nodes


def _root(node: Node) -> Node:
    while node.parent is not None:
        node = node.parent
    return node


def _normal_ids(message_ids: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(map(_normal_id, message_ids)) if any('"' in one for one in message_ids) else message_ids


def _normal_id(message_id: str) -> str:
    return message_id.replace('"', "").replace("\\", "") if '"' in message_id else message_id


def ordered_subject(messages: Sequence[ThreadMessage]) -> str:
    """RFC 5256 THREAD=ORDEREDSUBJECT."""
    ordered = sorted(messages, key=lambda m: (base_subject(m.subject)[0], m.date, m.seq))
    roots = []
    for _, run in groupby(ordered, key=lambda m: base_subject(m.subject)[0]):
        first, *rest = list(run)
        root = Node(first)
        root.children = [Node(m, root) for m in rest]
        roots.append(root)
    roots.sort(key=Node.sort_key)
    return serialize(roots)


def references(messages: Sequence[ThreadMessage]) -> str:
    """RFC 5256 THREAD=REFERENCES."""
    roots, parents = _prune(link(messages))
    for node in parents:  # step 4 (and 6: every level at once); only messages are below a dummy
        node.children.sort(key=Node.sort_key)
    roots.sort(key=Node.sort_key)
    roots, grown = _gather(roots)
    for node in grown:  # step 6 again where step 5 added children
        node.children.sort(key=Node.sort_key)
    roots.sort(key=Node.sort_key)
    return serialize(roots)


def _prune(nodes: list[Node]) -> tuple[list[Node], list[Node]]:
    """Steps 2 and 3 over every container (parents set): the roots of the pruned trees, and the
    nodes that hold children.

    Pruning a dummy promotes its children to its level, up and up, so a message ends under its
    nearest ancestor that is a message. With none it is a root, or, when its tree's root is a dummy,
    a child of that dummy, which stays to hold several such messages (and goes for a single one).
    """
    order = _top_down(nodes)
    for node in order:
        node.children = []
    roots: list[Node] = []
    top_dummies: list[Node] = []
    holder_of: dict[Node, Node] = {}  # an inner dummy's nearest message ancestor, else its tree's root
    for node in order:  # parents first: a message's parent is final when its children look at it
        parent = node.parent
        if parent is None:
            (roots if node.message is not None else top_dummies).append(node)
            continue
        holder = parent if parent.message is not None or parent.parent is None else holder_of[parent]
        if node.message is None:
            holder_of[node] = holder
        else:
            node.parent = holder
            holder.children.append(node)
    for dummy in top_dummies:
        if len(dummy.children) > 1:
            roots.append(dummy)
        elif dummy.children:  # a lone child takes its dummy's place
            only = dummy.children.pop()
            only.parent = None
            roots.append(only)
    return roots, [node for node in order if node.children]


def _top_down(nodes: list[Node]) -> list[Node]:
    """``nodes`` in an order where a parent comes before its children."""
    for node in nodes:
        node.children = []
    for node in nodes:
        if node.parent is not None:
            node.parent.children.append(node)
    return _preorder([node for node in nodes if node.parent is None])


def _preorder(roots: list[Node]) -> list[Node]:
    order: list[Node] = []
    stack = roots[::-1]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(reversed(node.children))
    return order


def _subject(node: Node) -> tuple[str, bool]:
    """The thread subject (RFC 5256 5.B.i): the node's base subject, or its first child's for a dummy."""
    source = node if node.message is not None or not node.children else node.children[0]
    return base_subject(source.message.subject) if source.message else ("", False)


def _gather(roots: list[Node]) -> tuple[list[Node], list[Node]]:
    """RFC 5256 step 5: roots with the same base subject become one thread. Returns the roots and
    the nodes that got children."""
    table: dict[str, Node] = {}
    for root in roots:
        subject, reply = _subject(root)
        if not subject:
            continue
        held = table.get(subject)
        if held is None or (held.message is not None and (root.message is None or (_subject(held)[1] and not reply))):
            table[subject] = root
    result: list[Node] = []
    grown: dict[Node, None] = {}
    position: dict[Node, int] = {}  # where each kept root sits in ``result`` (no list scans: 100,000 roots)
    for root in roots:
        subject, reply = _subject(root)
        held = table.get(subject) if subject else None
        if held is None or held is root:
            position[root] = len(result)
            result.append(root)
            continue
        if held.message is None and root.message is None:
            for child in root.children:
                child.parent = held
            held.children.extend(root.children)
        elif held.message is None or (reply and not _subject(held)[1]):
            _attach(held, root)
        else:  # a new dummy takes the held thread's place and holds both
            dummy = Node()
            index = position.pop(held, len(result))
            result[index : index + 1] = [dummy]
            position[dummy] = index
            _attach(dummy, held)
            _attach(dummy, root)
            table[subject] = held = dummy
        grown[held] = None
    return [node for node in result if node.parent is None], list(grown)


def _attach(parent: Node, root: Node) -> None:
    root.parent = parent
    parent.children.append(root)


def serialize(roots: Sequence[Node]) -> str:
    """Step 6's output, written with a stack: each list opens, runs down its single-child chain,
    then holds one nested list per child of the chain's end, then closes."""
    out: list[str] = []
    stack: list[Node | str] = [item for root in reversed(roots) for item in (")", root)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        numbers, end = _chain(item)
        out.append("(" + " ".join(numbers))
        if end.children:
            out.append(" " if numbers else "")
            for child in reversed(end.children):
                stack += (")", child)
    return "".join(out)


def _chain(node: Node) -> tuple[list[str], Node]:
    """The numbers along ``node``'s run of single children, and the node where the run ends."""
    numbers: list[str] = []
    while True:
        if node.message is not None:
            numbers.append(str(node.message.number))
        if len(node.children) != 1:
            return numbers, node
        node = node.children[0]
