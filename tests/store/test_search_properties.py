"""The word index answers SEARCH exactly as a brute-force substring search of the folded text would
(RFC 9051 6.4.4), whatever the needle: a word, a part of one, several, punctuation, CJK, nothing."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pillarbox.store.searchterms import TERM, plan, terms
from pillarbox.store.sqlite import fulltext
from pillarbox.store.sqlite.schema import migrate
from pillarbox.store.sqlite.writer import Txn
from pillarbox.store.textfold import fold

# letters of several scripts, digits, blanks and punctuation, characters that fold to several
# (ß, ﬁ), to ASCII capitals (ℍ), to nothing but a mark, and scripts without spaces (CJK, Thai)
ALPHABET = "abcdeÉéèxyz019 .,;:-_@/'\"*?[]()\n\tßﬁℍİΣσς東京都市タイมาก\u0301\u00a0—"
texts = st.text(alphabet=ALPHABET, max_size=60)
COLUMNS = [("headers",), ("body",), ("headers", "body")]


def _store_message(conn: sqlite3.Connection, number: int) -> None:
    """Message ``number`` in mailbox 1 as UID number × 10, waiting to be indexed."""
    conn.execute("INSERT INTO unindexed VALUES (?)", (number,))
    conn.execute("INSERT INTO mailbox_messages (mailbox_id, uid, message_id, modseq, internal_date, save_date)"
                 " VALUES (1, ?, ?, 1, 0, 0)", (number * 10, number))


def _index(documents: list[tuple[str, str]]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn)
    for number in range(1, len(documents) + 1):
        _store_message(conn, number)
    fulltext.record(Txn(conn), fulltext.cut([(n, fold(h), fold(b)) for n, (h, b) in enumerate(documents, start=1)]))
    return conn


def _brute_force(documents: list[tuple[str, str]], columns: tuple[str, ...], needle: str) -> set[int]:
    wanted = fold(needle)
    return {number * 10 for number, (headers, body) in enumerate(documents, start=1)
            if any(wanted in fold(text) for column, text in (("headers", headers), ("body", body))
                   if column in columns)}


@st.composite
def corpus_and_needles(draw: st.DrawFn) -> tuple[list[tuple[str, str]], list[str]]:
    documents = draw(st.lists(st.tuples(texts, texts), min_size=1, max_size=6))
    needles = []
    for _ in range(draw(st.integers(1, 6))):
        headers, body = draw(st.sampled_from(documents))
        source = draw(st.sampled_from([headers, body]))
        start = draw(st.integers(0, len(source)))
        end = draw(st.integers(start, len(source)))
        needles.append(draw(st.one_of(st.just(source[start:end]), texts)))  # a real substring, or anything
    return documents, needles


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpus_and_needles(), st.sampled_from(COLUMNS))
def test_search_equals_a_brute_force_substring_search(case, columns):
    documents, needles = case
    conn = _index(documents)
    for needle in needles:
        assert fulltext.search_text(conn, 1, columns, needle) == _brute_force(documents, columns, needle), needle


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpus_and_needles())
def test_needles_found_in_many_terms_take_the_slower_paths_to_the_same_answer(case):
    """Past MOST_TERMS fitting terms every text is read; past MOST_PHRASES the first piece is left out."""
    documents, needles = case
    conn = _index(documents)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fulltext, "MOST_TERMS", 1)
        patch.setattr(fulltext, "MOST_PHRASES", 1)
        for needle in needles:
            expected = _brute_force(documents, ("headers", "body"), needle)
            assert fulltext.search_text(conn, 1, ("headers", "body"), needle) == expected, needle


@settings(max_examples=100, deadline=None)
@given(corpus_and_needles(), st.data())
def test_deleted_messages_leave_no_trace_in_the_answers(case, data):
    documents, needles = case
    conn = _index(documents)
    gone = data.draw(st.sets(st.integers(1, len(documents))))
    for number in gone:
        conn.execute("DELETE FROM mailbox_messages WHERE message_id = ?", (number,))
        fulltext.forget(Txn(conn), number)
    # the message ids come back (SQLite may reuse a rowid): the index must not remember the old text
    for number in gone:
        _store_message(conn, number)
    fulltext.record(Txn(conn), fulltext.cut([(number, "", "") for number in gone]))
    kept = [("", "") if n in gone else doc for n, doc in enumerate(documents, start=1)]
    for needle in needles:
        expected = _brute_force(kept, ("headers", "body"), needle)
        assert fulltext.search_text(conn, 1, ("headers", "body"), needle) == expected, needle


@given(st.text(alphabet=st.characters(max_codepoint=127)) | texts)
def test_terms_are_the_runs_the_term_rule_finds(text: str):
    """The ASCII shortcut cuts exactly what the rule does (the index repeats terms when it forgets)."""
    assert terms(text) == TERM.findall(text)


def test_a_needle_is_cut_where_the_text_is():
    assert terms("re: invoice 2026-11, 東京") == ["re", "invoice", "2026", "11", "東", "京"]
    assert [(p.text, p.bounded_left, p.bounded_right) for p in plan("oice 20").pieces] == [
        ("oice", False, True), ("20", True, False)]
    assert plan("voic").exact and not plan("voic ").exact and not plan("a b").exact and not plan("--").exact


def test_unicode_capitals_that_decompose_to_ascii_fold_like_ascii():
    assert fold("ℍello") == "hello"
