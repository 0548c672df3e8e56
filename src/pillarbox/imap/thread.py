"""THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 4, 5), over what delivery parsed.

ORDEREDSUBJECT ("poor man's threading") sorts by base subject then sent date; each run of one
base subject is a thread whose first message is the parent of all the others.

REFERENCES is Jamie Zawinski's algorithm as RFC 5256 words it: (1) link every message to its
parent along its References (or first In-Reply-To) chain, creating empty containers for
Message-IDs not in the mailbox and never creating a loop (``thread_link``); (2) the parentless
containers are the root set; (3) empty containers are pruned, their children promoted (to the root
only when there is one child); (4) siblings are sorted by sent date (an empty container by its
first child's), ties by sequence number; (5) roots with the same base subject are gathered; (6) the
tree is written out. After step 5 siblings are sorted again so the gathered children take their
date order too (the RFC leaves the order of appended children open).

Senders decide the shape of the tree, so no step recurses or rescans: a thread may be 100,000
replies deep. Each step is one pass over the containers in an order computed once (parents before
children), plus the sorts.

Output (RFC 5256 5): ``thread-list = "(" (thread-members / thread-nested) ")"``: a parent with
one child continues the list ("(1 2 3)"), with several it nests one list per child ("(1 (2)(3))").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

from pillarbox.imap.thread_link import Node, link
from pillarbox.mime.subject import base_subject


@dataclass
class ThreadMessage:
    """What threading needs of one message; ``number`` is its sequence number or UID."""

    number: int
    seq: int
    date: datetime
    subject: str
    message_id: str | None
    references: tuple[str, ...]
    known_base: tuple[str, bool] | None = field(default=None, repr=False, compare=False)
    """The base subject kept at delivery; None: computed from ``subject`` when first asked."""

    def base(self) -> tuple[str, bool]:
        """The base subject and whether it marked a reply (RFC 5256 2.1), computed once."""
        if self.known_base is None:
            self.known_base = base_subject(self.subject)
        return self.known_base


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
    return source.message.base() if source.message else ("", False)


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


ALGORITHMS: dict[str, Callable[[Sequence[ThreadMessage]], str]] = {
    "ORDEREDSUBJECT": ordered_subject,
    "REFERENCES": references,
}
