"""RFC 5256 base subject extraction, SORT key order and both THREAD algorithms, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pillarbox.imap.thread import ThreadMessage, ordered_subject, references
from pillarbox.mime.subject import base_subject


@pytest.mark.parametrize(
    ("subject", "base", "reply"),
    [
        ("Hello", "HELLO", False),
        ("Re: Hello", "HELLO", True),
        ("RE: re: Fwd: hello", "HELLO", True),
        ("Fw: hello", "HELLO", True),
        ("Re [PATCH]: fix it", "FIX IT", True),  # subj-refwd with a subj-blob before the colon
        ("[list] Re: Hello", "HELLO", True),  # subj-blob then subj-refwd is one subj-leader
        ("[list] Hello", "HELLO", False),  # step 4: a leading blob goes when text remains
        ("[list]", "[LIST]", False),  # ... and stays when nothing would remain
        ("Hello (fwd)", "HELLO", True),  # subj-trailer
        ("Hello (fwd) (FWD)  ", "HELLO", True),
        ("[Fwd: Re: Hello]", "HELLO", True),  # step 6, then back to step 2
        ("[fwd: [list] hello (fwd)]", "HELLO", True),
        ("  Hello   \t world ", "HELLO WORLD", False),  # whitespace collapsed, trimmed
        ("Re:", "", True),
        ("Réponse", "RE\u0301PONSE", False),  # i;unicode-casemap: titlecase, then decomposed
    ],
)
def test_base_subject(subject: str, base: str, reply: bool):
    assert base_subject(subject) == (base, reply)


START = datetime(2026, 1, 1, tzinfo=UTC)


def message(
    seq: int, subject: str, mid: str | None, refs: tuple[str, ...] = (), hours: int | None = None
) -> ThreadMessage:
    date = START + timedelta(hours=seq if hours is None else hours)
    return ThreadMessage(seq, seq, date, subject, mid, refs)


CORPUS = [
    message(1, "hello", "<a>"),
    message(2, "Re: hello", "<b>", ("<a>",)),
    message(3, "Re: hello", "<c>", ("<a>", "<b>")),
    message(4, "other", "<d>", ("<x>",)),  # <x> is not in the mailbox: a dummy parent
    message(5, "Re: other", "<e>", ("<x>",)),
    message(6, "hello", "<f>"),  # same base subject, not a reply: gathered under a new dummy
]


def test_references_links_prunes_and_gathers():
    assert references(CORPUS) == "((1 2 3)(6))((4)(5))"


def test_ordered_subject():
    assert ordered_subject(CORPUS) == "(1 (2)(3)(6))(4 5)"


def test_references_sorts_siblings_by_date_and_breaks_loops():
    msgs = [
        message(1, "x", "<a>", ("<b>",), hours=5),
        message(2, "y", "<b>", ("<a>",), hours=1),  # a loop: the second link is not made
        message(3, "Re: x", "<c>", ("<a>",), hours=3),
        message(4, "Re: x", "<d>", ("<a>",), hours=2),
    ]
    assert references(msgs) == "(2 1 (4)(3))"


def test_references_duplicate_message_id_and_missing_ids():
    msgs = [
        message(1, "one", "<same>"),
        message(2, "two", "<same>"),  # a duplicate is treated as unique: not the parent of 3
        message(3, "Re: one", "<z>", ("<same>",)),
        message(4, "four", None),
    ]
    assert references(msgs) == "(1 3)(2)(4)"


def test_reply_joins_the_thread_of_its_subject():
    msgs = [message(1, "topic", "<a>"), message(2, "Re: topic", "<b>")]  # no References at all
    assert references(msgs) == "(1 2)"


def test_empty():
    assert references([]) == "" and ordered_subject([]) == ""
