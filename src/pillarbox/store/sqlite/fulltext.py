"""The full-text index for SEARCH: filled after delivery, and the queries on it.

Three tables (schema migration 12): ``message_text``, each message's folded header and body text,
zlib-compressed (to check candidates); ``message_words``, a contentless FTS5 index of its terms with
their positions (``searchterms`` says what a term is and how a substring needle is found from them);
``search_terms``, every term ever indexed (a needle's fitting terms are found by a GLOB scan of it;
terms of deleted messages stay, they only cost a row). Together they weigh about 0.8 times the
mail they index; the trigram index they replaced weighed three times the mail (bench/README.md).

Delivery only notes a new message in ``unindexed``; the index is filled later, in batches, by the
background indexer (``store/indexer.py``) or by a SEARCH that needs it first. Indexing inside the
writer's transaction made every other delivery wait for it, and FTS5 writes out its pending terms at
every SAVEPOINT, so indexing one message per job also meant one index segment (and later merges) per
message. Batched after the fact, it is one segment per batch.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from pillarbox.store.records import IndexBacklog
from pillarbox.store.searchterms import Piece, Plan, phrase_queries, plan, quote, term_list, terms
from pillarbox.store.sqlite.writer import Txn
from pillarbox.store.textfold import fold


def backlog(conn: sqlite3.Connection) -> IndexBacklog:
    count, newest, oldest = conn.execute("SELECT count(*), max(message_id), min(message_id) FROM unindexed").fetchone()
    created = None
    if oldest is not None:
        row = conn.execute("SELECT created FROM messages WHERE id = ?", (oldest,)).fetchone()
        created = row[0] if row is not None else None
    return IndexBacklog(count, newest, created)


def pending(
    conn: sqlite3.Connection, limit: int, max_bytes: int, mailbox_id: int | None = None, after: int = 0
) -> list[tuple[int, bytes | None, str, str]]:
    """Up to ``limit`` messages to index, oldest first (from message id ``after`` on), about
    ``max_bytes`` at most (always one): (message id, its bytes if they live in the database else None,
    its blob name, its structure as parsed at delivery). With ``mailbox_id``, only messages that
    mailbox holds."""
    where = ("AND EXISTS (SELECT 1 FROM mailbox_messages mm WHERE mm.message_id = u.message_id"
             " AND mm.mailbox_id = ?)") if mailbox_id is not None else ""
    rows = conn.execute(
        "SELECT u.message_id, m.size, b.body, m.blob, m.structure"
        " FROM unindexed u JOIN messages m ON m.id = u.message_id"
        f" LEFT JOIN message_bodies b ON b.message_id = m.id WHERE u.message_id > ? {where}"
        " ORDER BY u.message_id LIMIT ?",
        (after, mailbox_id, limit) if mailbox_id is not None else (after, limit),
    )
    batch: list[tuple[int, bytes | None, str, str]] = []
    total = 0
    for message_id, size, body, blob, structure in rows:
        if batch and total + size > max_bytes:
            break
        batch.append((message_id, body, blob, structure))
        total += size
    return batch


@dataclass(frozen=True)
class IndexRow:
    """One message's index entry, made ready before the writer's transaction (cutting terms and
    compressing take longer than the inserts, and every delivery waits for that transaction)."""

    message_id: int
    headers_packed: bytes
    body_packed: bytes
    header_terms: list[str]
    body_terms: list[str]
    text_length: int
    """Characters of text indexed: what the disk reserve counts the entry as (``reserve``)."""


def cut(texts: Sequence[tuple[int, str, str]]) -> list[IndexRow]:
    """The index rows of (message id, folded header text, folded body text): off the writer thread."""
    return [IndexRow(message_id, _pack(headers), _pack(body), terms(headers), terms(body), len(headers) + len(body))
            for message_id, headers, body in texts]


def record(txn: Txn, rows: Sequence[IndexRow]) -> int:
    """Index each message of ``rows`` that still waits (one may have been deleted, or indexed by a
    concurrent SEARCH, meanwhile); returns how many."""
    conn = txn.conn
    new_terms: set[str] = set()
    done = 0
    for row in rows:
        if conn.execute("DELETE FROM unindexed WHERE message_id = ?", (row.message_id,)).rowcount:
            conn.execute("INSERT INTO message_text (message_id, headers, body) VALUES (?, ?, ?)",
                         (row.message_id, row.headers_packed, row.body_packed))
            conn.execute("INSERT INTO message_words (rowid, headers, body) VALUES (?, ?, ?)",
                         (row.message_id, term_list(row.header_terms), term_list(row.body_terms)))
            new_terms.update(row.header_terms, row.body_terms)
            done += 1
    conn.execute("INSERT OR IGNORE INTO search_terms (term) SELECT value FROM json_each(?)",
                 (json.dumps(sorted(new_terms)),))
    return done


def forget(txn: Txn, message_id: int) -> None:
    """The message is deleted: drop its text and terms, or its place in the backlog. The word index is
    contentless, so it forgets a message by being told the very terms it was given."""
    conn = txn.conn
    if conn.execute("DELETE FROM unindexed WHERE message_id = ?", (message_id,)).rowcount:
        return
    row = conn.execute("DELETE FROM message_text WHERE message_id = ? RETURNING headers, body",
                       (message_id,)).fetchone()
    if row is not None:
        conn.execute("INSERT INTO message_words (message_words, rowid, headers, body) VALUES ('delete', ?, ?, ?)",
                     (message_id, term_list(terms(_unpack(row[0]))), term_list(terms(_unpack(row[1])))))


MOST_TERMS = 1000  # a needle found in more known terms than this is looked for by reading every text
MOST_PHRASES = 64  # a first piece that ends more terms than this is left out of the phrase query


def search_text(conn: sqlite3.Connection, mailbox_id: int, columns: tuple[str, ...], needle: str) -> set[int]:
    """UIDs whose indexed text contains ``needle`` (any case, any accents) in one of ``columns``.

    The text was folded when indexed (``textfold``), the needle is folded the same way and cut into
    pieces (``searchterms``). The terms that can hold each piece come from ``search_terms``, the
    messages holding them from the word index; where that is not the whole answer each candidate's
    stored text is checked. The caller indexes the mailbox's backlog first.
    """
    needle_plan = plan(fold(needle))
    fitting = [_fitting_terms(conn, piece) for piece in needle_plan.pieces]
    if any(not found for found in fitting):
        return set()  # no message has a term that can hold this piece
    if not fitting or (len(fitting) == 1 and len(fitting[0]) > MOST_TERMS):
        return _check(conn, mailbox_id, columns, needle_plan, None)
    if len(fitting) == 1:
        query = " OR ".join(quote(term) for term in sorted(fitting[0]))
    else:
        query = " OR ".join(phrase_queries(needle_plan, fitting[0], MOST_PHRASES))
    scope = "{" + " ".join(columns) + "}"
    hits = {row[0] for row in conn.execute("SELECT rowid FROM message_words WHERE message_words MATCH ?",
                                           (f"{scope} : ({query})",))}
    if needle_plan.exact:
        return uids_of(conn, mailbox_id, hits)
    return _check(conn, mailbox_id, columns, needle_plan, hits)


def _fitting_terms(conn: sqlite3.Connection, piece: Piece) -> set[str]:
    """The known terms that can hold ``piece``: a scan of them all, unless the pattern starts with the
    piece (then SQLite reads only the range of terms with that prefix)."""
    return {row[0] for row in conn.execute("SELECT term FROM search_terms WHERE term GLOB ?", (piece.glob(),))}


def _check(conn: sqlite3.Connection, mailbox_id: int, columns: tuple[str, ...], needle_plan: Plan,
           candidates: set[int] | None) -> set[int]:
    """The UIDs of the messages among ``candidates`` (None: every message of the mailbox) whose stored
    text really holds the needle in one of ``columns``."""
    selected = ", ".join(f"t.{column}" for column in columns)
    if candidates is None:
        rows = conn.execute(f"SELECT mm.uid, {selected} FROM mailbox_messages mm"
                            " JOIN message_text t ON t.message_id = mm.message_id WHERE mm.mailbox_id = ?",
                            (mailbox_id,))
    else:
        rows = conn.execute(f"SELECT mm.uid, {selected} FROM mailbox_messages mm"
                            " JOIN message_text t ON t.message_id = mm.message_id WHERE mm.mailbox_id = ?"
                            " AND mm.message_id IN (SELECT value FROM json_each(?))",
                            (mailbox_id, json.dumps(sorted(candidates))))
    needle = needle_plan.needle.encode()  # UTF-8 is self-synchronising: a substring of bytes is one of text
    return {uid for uid, *packed in rows if any(needle in zlib.decompress(text) for text in packed)}


_FEW_HITS = 5000  # below this, map hits to UIDs by index lookups; above, one pass over the mailbox


def uids_of(conn: sqlite3.Connection, mailbox_id: int, hits: set[int]) -> set[int]:
    """The UIDs this mailbox gives the messages ``hits``."""
    if len(hits) > _FEW_HITS:
        pairs = conn.execute("SELECT uid, message_id FROM mailbox_messages WHERE mailbox_id = ?", (mailbox_id,))
        return {uid for uid, message_id in pairs if message_id in hits}
    found = conn.execute(
        "SELECT uid FROM mailbox_messages WHERE mailbox_id = ? AND message_id IN (SELECT value FROM json_each(?))",
        (mailbox_id, json.dumps(sorted(hits))),
    )
    return {row[0] for row in found}


def _pack(text: str) -> bytes:
    return zlib.compress(text.encode("utf-8"))


def _unpack(packed: bytes) -> str:
    return zlib.decompress(packed).decode()

