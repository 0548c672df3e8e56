"""THREAD=REFERENCES on mailboxes a sender shaped: deep, long, looping; no recursion, no quadratic time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pillarbox.imap import thread_link
from pillarbox.imap.linkcut import LinkCutForest
from pillarbox.imap.thread import ThreadMessage, references
from tests.complexity import assert_linear

START = datetime(2026, 1, 1, tzinfo=UTC)


def message(seq: int, mid: str | None, refs: tuple[str, ...] = (), subject: str | None = None) -> ThreadMessage:
    return ThreadMessage(seq, seq, START + timedelta(minutes=seq), subject or f"s{seq}", mid, refs)


def chain(count: int) -> list[ThreadMessage]:
    """Each message replies to the one before: one thread as deep as the mailbox."""
    return [message(i, f"<{i}>", (f"<{i - 1}>",) if i > 1 else ()) for i in range(1, count + 1)]


def ladder(count: int) -> list[ThreadMessage]:
    """Each message has two replies, one of which has two replies...: nesting as deep as the mailbox."""
    out = [message(1, "<0>")]
    for i in range(1, count // 2):
        out.append(message(2 * i, f"<leaf{i}>", (f"<{i - 1}>",)))
        out.append(message(2 * i + 1, f"<{i}>", (f"<{i - 1}>",)))
    return out


def test_a_thread_deeper_than_the_stack() -> None:
    assert references(chain(5000)) == "(" + " ".join(map(str, range(1, 5001))) + ")"
    nested = references(ladder(5000))
    assert nested.startswith("(1 (2)(3 (4)(5 (6)(7 ") and nested.endswith("(4998)(4999)" + ")" * 2499)
    assert nested.count("(") == nested.count(")") == 1 + 2 * 2499


def test_one_message_with_100000_references() -> None:
    refs = tuple(f"<r{i}>" for i in range(100_000))
    assert references([message(1, "<m>", refs), message(2, "<r99999>")]) == "(2 1)"  # and the last ones
    assert references([message(1, "<r0>"), message(2, "<m>", refs)]) == "(1 2)"  # the first reference is kept


def test_deep_chains_cost_near_linear_time() -> None:
    assert_linear(lambda msgs: references([*msgs]), chain, 1500)
    assert_linear(lambda msgs: references([*msgs]), ladder, 1500)


def test_loop_attempts_on_a_deep_chain_cost_near_linear_time() -> None:
    """Messages that each try to put the chain's root under its deepest message (a loop, refused)."""

    def mailbox(count: int) -> list[ThreadMessage]:
        attempts = [message(count + i, f"<x{i}>", (f"<{count}>", "<1>")) for i in range(1, count + 1)]
        return chain(count) + attempts

    assert_linear(references, mailbox, 1000)


def test_references_looping_back_to_the_message_break_its_old_link() -> None:
    """RFC 5256 step 1B: the old parent goes before the new link is tried, and the new one would loop."""
    msgs = [
        message(1, "<a>"),
        message(2, "<b>", ("<a>", "<c>")),  # a -> c -> b, c a dummy for now
        message(3, "<c>", ("<b>",)),  # c's parent would be b, its own child: c is cut from a, not linked
    ]
    assert references(msgs) == "(1)(3 2)"


def test_a_message_whose_last_reference_is_itself_has_no_parent() -> None:
    msgs = [message(1, "<a>"), message(2, "<b>", ("<a>", "<b>"))]
    assert references(msgs) == "(1)(2)"


def test_quoted_message_ids_are_the_same_message_id() -> None:
    """RFC 5256 5: ``<"01KF8JCEOCBS0045PS"@xxx.yyy.com>`` and ``<01KF8JCEOCBS0045PS@xxx.yyy.com>`` match."""
    msgs = [message(1, "<01KF8JCEOCBS0045PS@xxx.yyy.com>"), message(2, "<b>", ('<"01KF8JCEOCBS0045PS"@xxx.yyy.com>',))]
    assert references(msgs) == "(1 2)"


# -- properties ------------------------------------------------------------------------------------

IDS = [f"<{i}>" for i in range(8)]
mailboxes = st.lists(
    st.tuples(
        st.sampled_from([*IDS, None]),
        st.lists(st.sampled_from(IDS), max_size=5).map(tuple),
        st.sampled_from(["a", "Re: a", "b", "Fwd: b", ""]),
        st.integers(0, 4),
    ),
    max_size=12,
).map(
    lambda rows: [
        ThreadMessage(seq, seq, START + timedelta(hours=hours), subject, mid, refs)
        for seq, (mid, refs, subject, hours) in enumerate(rows, 1)
    ]
)


@settings(max_examples=400, deadline=None)
@given(mailboxes)
def test_every_message_once_and_the_same_tree_either_way(msgs: list[ThreadMessage]) -> None:
    walked = references(msgs)
    assert sorted(map(int, re.findall(r"\d+", walked))) == [m.number for m in msgs]
    depth = 0
    for char in walked:
        depth += {"(": 1, ")": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    budget, thread_link.STEPS_PER_REFERENCE = thread_link.STEPS_PER_REFERENCE, 0  # the link-cut forest only
    try:
        assert references(msgs) == walked
    finally:
        thread_link.STEPS_PER_REFERENCE = budget


operations = st.lists(st.tuples(st.sampled_from(["link", "cut", "root"]), st.integers(0, 15), st.integers(0, 15)))


@settings(max_examples=400, deadline=None)
@given(operations)
def test_link_cut_forest_agrees_with_parent_pointers(ops: list[tuple[str, int, int]]) -> None:
    forest = LinkCutForest()
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        while node in parent:
            node = parent[node]
        return node

    for op, a, b in ops:
        if op == "root":
            assert forest.root(a) == root(a)
        elif op == "cut":
            forest.cut(a)
            parent.pop(a, None)
        elif a not in parent and root(b) != a:  # link only a root, never into its own tree
            forest.link(a, b)
            parent[a] = b
    assert [forest.root(node) for node in range(16)] == [root(node) for node in range(16)]
