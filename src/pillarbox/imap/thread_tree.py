"""THREAD=REFERENCES steps 2 to 6 (RFC 5256 5) over step 1's containers, all integers.

Containers are numbered as ``thread_link`` made them; ``children`` holds a list only for a container
that has children, and ``key`` is what siblings sort by: a message's rank in (sent date, sequence
number) order, a dummy's its first child's (steps 4 and 6). All keys differ, so a sort gives the
one order the RFC asks for whatever order the children were found in.
"""

from __future__ import annotations

from collections.abc import Sequence

from pillarbox.imap.thread_link import NONE, Containers

_CLOSE = -2
"""On the serializer's stack: the end of a list."""


class Forest:
    """The containers of one THREAD command while they are pruned and gathered."""

    def __init__(self, containers: Containers, ranks: Sequence[int]) -> None:
        self.parent = containers.parent
        self.message = containers.message
        self.key = [ranks[index] if index != NONE else NONE for index in self.message]
        self.children: dict[int, list[int]] = {}

    def add_dummy(self) -> int:
        self.parent.append(NONE)
        self.message.append(NONE)
        self.key.append(NONE)
        return len(self.parent) - 1

    def attach(self, parent: int, child: int) -> None:
        self.parent[child] = parent
        self.children.setdefault(parent, []).append(child)

    def sort_children(self, nodes: Sequence[int]) -> None:
        """Steps 4 and 6: each node's children by date; a dummy then takes its first child's key."""
        key = self.key
        for node in nodes:
            children = self.children[node]
            children.sort(key=key.__getitem__)
            if self.message[node] == NONE:
                key[node] = key[children[0]]

    def prune(self) -> list[int]:
        """Steps 2 to 4: the roots of the pruned trees, in order, their children sorted.

        Pruning a dummy promotes its children to its level, up and up, so a message ends under its
        nearest ancestor that is a message. With none it is a root, or, when its tree's root is a
        dummy, a child of that dummy, which stays to hold several such messages (and goes for a
        single one).
        """
        holder = self._holders()
        parent, message = self.parent, self.message
        roots: list[int] = []
        top_dummies: list[int] = []
        for node in range(len(parent)):
            above = parent[node]
            if above == NONE:
                (roots if message[node] != NONE else top_dummies).append(node)
            elif message[node] != NONE:
                self.attach(holder[above], node)
        for dummy in top_dummies:
            children = self.children.get(dummy)
            if children is not None and len(children) == 1:  # a lone child takes its dummy's place
                only = self.children.pop(dummy)[0]
                parent[only] = NONE
                roots.append(only)
            elif children is not None:
                roots.append(dummy)
        self.sort_children(list(self.children))
        roots.sort(key=self.key.__getitem__)
        return roots

    def _holders(self) -> list[int]:
        """For each container, where a message under it ends after pruning: the container itself if
        it is a message or a root, else its nearest ancestor that is one (each found once)."""
        parent, message = self.parent, self.message
        holder = [NONE] * len(parent)
        for start in range(len(parent)):
            path = []
            node = start
            while holder[node] == NONE and message[node] == NONE and parent[node] != NONE:
                path.append(node)
                node = parent[node]
            if holder[node] == NONE:
                holder[node] = node
            for inner in path:
                holder[inner] = holder[node]
        return holder


def serialize(roots: Sequence[int], forest: Forest, numbers: Sequence[int]) -> str:
    """Step 6's output (RFC 5256 5: ``"(" (thread-members / thread-nested) ")"``), written with a
    stack: each list opens, runs down its single-child chain, then holds one nested list per child
    of the chain's end, then closes."""
    children, message = forest.children, forest.message
    out: list[str] = []
    stack = [item for root in reversed(roots) for item in (_CLOSE, root)]
    while stack:
        node = stack.pop()
        if node == _CLOSE:
            out.append(")")
            continue
        chain: list[str] = []
        while True:  # the numbers along the run of single children
            if message[node] != NONE:
                chain.append(str(numbers[message[node]]))
            below = children.get(node)
            if below is None or len(below) != 1:
                break
            node = below[0]
        out.append("(" + " ".join(chain))
        if below:
            out.append(" " if chain else "")
            for child in reversed(below):
                stack += (_CLOSE, child)
    return "".join(out)
