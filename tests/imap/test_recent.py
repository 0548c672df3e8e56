"""The \\Recent UIDs of a session (imap.recent.RecentUids) against a plain set."""

from __future__ import annotations

from array import array

from hypothesis import given
from hypothesis import strategies as st

from pillarbox.imap.recent import RecentUids

# claims as (gap before, length): each claim starts above the last, as UIDs only grow
claims = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 6)), max_size=12)


@given(claims, st.lists(st.integers(1, 120), max_size=60))
def test_ranges_answer_like_a_set(steps: list[tuple[int, int]], probes: list[int]) -> None:
    recent, model, last = RecentUids(), set(), 0
    for gap, length in steps:
        first = last + gap + 1
        recent.add(first, first + length - 1)  # length 0: an empty claim
        model.update(range(first, first + length))
        last = max(last, first + length - 1)
    assert all((uid in recent) == (uid in model) for uid in [*probes, *model])
    view = array("I", sorted(set(probes) | set(range(1, last + 1, 2))))
    assert recent.count(view) == len(model.intersection(view))
    recent.clear()
    assert not any(uid in recent for uid in model) and recent.count(view) == 0
