"""The columnar THREAD code (``imap/thread.py``) against the straightforward one it replaced
(``thread_reference``), on random mailboxes: duplicate Message-IDs, missing ones, references to
messages not in the set, loops, quoted IDs, date ties, reply and forward subjects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pillarbox.imap import thread_link
from pillarbox.imap.thread import ThreadMessage, ordered_subject, references
from tests.imap import thread_reference

START = datetime(2026, 1, 1, tzinfo=UTC)
IDS = [f"<{i}@t>" for i in range(10)] + ['<"3"@t>']
SUBJECTS = ["a", "Re: a", "re: [x] a (fwd)", "b", "Fwd: b", "B", "", "Re: "]

mailboxes = st.lists(
    st.tuples(
        st.sampled_from([*IDS, None]),
        st.lists(st.sampled_from(IDS), max_size=6).map(tuple),
        st.sampled_from(SUBJECTS),
        st.integers(0, 6),
        st.integers(1, 50),
    ),
    max_size=25,
).map(
    lambda rows: [
        ThreadMessage(number, seq, START + timedelta(hours=hours), subject, mid, refs)
        for seq, (mid, refs, subject, hours, number) in enumerate(rows, 1)
    ]
)


@settings(max_examples=1500, deadline=None)
@given(mailboxes)
def test_references_as_the_reference_implementation(msgs: list[ThreadMessage]) -> None:
    assert references(msgs) == thread_reference.references(msgs)


@settings(max_examples=300, deadline=None)
@given(mailboxes)
def test_references_on_the_link_cut_forest_as_the_reference_implementation(msgs: list[ThreadMessage]) -> None:
    budget, thread_link.STEPS_PER_REFERENCE = thread_link.STEPS_PER_REFERENCE, 0
    try:
        assert references(msgs) == thread_reference.references(msgs)
    finally:
        thread_link.STEPS_PER_REFERENCE = budget


@settings(max_examples=1000, deadline=None)
@given(mailboxes)
def test_ordered_subject_as_the_reference_implementation(msgs: list[ThreadMessage]) -> None:
    assert ordered_subject(msgs) == thread_reference.ordered_subject(msgs)
