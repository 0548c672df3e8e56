"""Link-cut trees (Sleator and Tarjan, 1983): a forest of rooted trees that answers "what is the root
of this node's tree?" while roots are linked under nodes and nodes cut from their parents, each
operation in O(log n) amortized time.

Why THREAD needs it: RFC 5256 step 1 makes a link only when it closes no loop, that is when the
child is not an ancestor of the parent. The child is always the root of its own tree there (step
1A links only parentless containers, step 1B first cuts the message from its old parent), so the
question is whether the parent's root is the child. Walking up the parent pointers answers it in
the depth of the tree, and a mailbox whose every message replies to the one before is a tree as
deep as the mailbox is large: the walks add up to the square of its size. ``thread_link`` walks
anyway (real threads are shallow and the walk is cheap) and falls back to this forest only when
the walking has cost too much.

How it works: each tree is cut into "preferred paths", each kept in a splay tree ordered by depth;
``_up`` is a node's parent in its splay tree, or, for the root of a splay tree, the tree parent of
its path's top ("path-parent"). ``_access(v)`` makes the path from the root down to ``v`` preferred,
so that it is one splay tree with ``v`` at its top: the tree's root is then its leftmost node.
Nodes are small integers; one not seen before is a tree of its own.
"""

from __future__ import annotations

_NIL = -1


class LinkCutForest:
    def __init__(self) -> None:
        self._left: list[int] = []
        self._right: list[int] = []
        self._up: list[int] = []

    def root(self, node: int) -> int:
        """The root of ``node``'s tree."""
        self._grow(node)
        self._access(node)
        while self._left[node] != _NIL:
            node = self._left[node]
        self._splay(node)  # keeps the next access of this path cheap (the amortized bound needs it)
        return node

    def link(self, child: int, parent: int) -> None:
        """Make ``parent`` the parent of ``child``, which must be the root of a tree not holding ``parent``."""
        self._grow(max(child, parent))
        self._access(child)
        self._up[child] = parent  # a root has nothing above it in its path: only the path-parent is set

    def cut(self, node: int) -> None:
        """Detach ``node`` (and its subtree) from its parent, if it has one."""
        self._grow(node)
        self._access(node)
        above = self._left[node]
        if above != _NIL:
            self._up[above] = _NIL
            self._left[node] = _NIL

    def _grow(self, node: int) -> None:
        missing = node + 1 - len(self._up)
        if missing > 0:
            for pointers in (self._left, self._right, self._up):
                pointers.extend([_NIL] * missing)

    def _access(self, node: int) -> None:
        below = _NIL
        current = node
        while current != _NIL:
            self._splay(current)
            self._right[current] = below  # the old right subtree keeps ``_up``: now a path-parent link
            below = current
            current = self._up[current]
        self._splay(node)

    def _is_splay_root(self, node: int) -> bool:
        up = self._up[node]
        return up == _NIL or (self._left[up] != node and self._right[up] != node)

    def _splay(self, node: int) -> None:
        while not self._is_splay_root(node):
            parent = self._up[node]
            if not self._is_splay_root(parent):
                grandparent = self._up[parent]
                same_side = (self._left[grandparent] == parent) == (self._left[parent] == node)
                self._rotate(parent if same_side else node)
            self._rotate(node)

    def _rotate(self, node: int) -> None:
        """Lift ``node`` above its splay parent, keeping the in-order (depth) order."""
        left, right, up = self._left, self._right, self._up
        parent = up[node]
        grandparent = up[parent]
        if not self._is_splay_root(parent):
            if left[grandparent] == parent:
                left[grandparent] = node
            else:
                right[grandparent] = node
        up[node] = grandparent
        if left[parent] == node:
            moved = right[node]
            left[parent], right[node] = moved, parent
        else:
            moved = left[node]
            right[parent], left[node] = moved, parent
        if moved != _NIL:
            up[moved] = parent
        up[parent] = node
