"""The full-text index for SEARCH: an FTS5 trigram table filled after delivery, and the queries on it.

Delivery only notes a new message in ``unindexed``; the index is filled later, in batches, by the
background indexer (``store/indexer.py``) or by a SEARCH that needs it first. Indexing 100 KB of text
costs about 5 ms of C inside the writer's transaction, where every other delivery waits for it, and
FTS5 writes out its pending terms at every SAVEPOINT, so indexing one message per job also meant one
index segment (and later merges) per message. Batched after the fact, it is one segment per batch.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from pillarbox.store.names import like_pattern
from pillarbox.store.records import IndexBacklog
from pillarbox.store.sqlite.writer import Txn
from pillarbox.store.textfold import needles


def backlog(conn: sqlite3.Connection) -> IndexBacklog:
    count, newest, oldest = conn.execute("SELECT count(*), max(message_id), min(message_id) FROM unindexed").fetchone()
    created = None
    if oldest is not None:
        row = conn.execute("SELECT created FROM messages WHERE id = ?", (oldest,)).fetchone()
        created = row[0] if row is not None else None
    return IndexBacklog(count, newest, created)


def pending(
    conn: sqlite3.Connection, limit: int, max_bytes: int, mailbox_id: int | None = None
) -> list[tuple[int, bytes | None, str]]:
    """Up to ``limit`` messages to index, oldest first, about ``max_bytes`` at most (always one):
    (message id, its bytes if they live in the database else None, its blob name). With
    ``mailbox_id``, only messages that mailbox holds."""
    where = ("WHERE EXISTS (SELECT 1 FROM mailbox_messages mm WHERE mm.message_id = u.message_id"
             " AND mm.mailbox_id = ?)") if mailbox_id is not None else ""
    rows = conn.execute(
        "SELECT u.message_id, m.size, b.body, m.blob FROM unindexed u JOIN messages m ON m.id = u.message_id"
        f" LEFT JOIN message_bodies b ON b.message_id = m.id {where} ORDER BY u.message_id LIMIT ?",
        (mailbox_id, limit) if mailbox_id is not None else (limit,),
    )
    batch: list[tuple[int, bytes | None, str]] = []
    total = 0
    for message_id, size, body, blob in rows:
        if batch and total + size > max_bytes:
            break
        batch.append((message_id, body, blob))
        total += size
    return batch


def record(txn: Txn, texts: Sequence[tuple[int, str, str]]) -> int:
    """Index (message id, folded header text, folded body text) of each message that still waits
    (one may have been deleted, or indexed by a concurrent SEARCH, meanwhile); returns how many."""
    done = 0
    for message_id, headers, body in texts:
        if txn.conn.execute("DELETE FROM unindexed WHERE message_id = ?", (message_id,)).rowcount:
            txn.conn.execute("INSERT INTO message_text (rowid, headers, body) VALUES (?, ?, ?)",
                             (message_id, headers, body))
            done += 1
    return done


def forget(txn: Txn, message_id: int) -> None:
    """The message is deleted: drop its text, or its place in the backlog."""
    if txn.conn.execute("DELETE FROM unindexed WHERE message_id = ?", (message_id,)).rowcount == 0:
        txn.conn.execute("DELETE FROM message_text WHERE rowid = ?", (message_id,))


_FEW_HITS = 5000  # below this, map hits to UIDs by index lookups; above, one pass over the mailbox


def search_text(conn: sqlite3.Connection, mailbox_id: int, columns: tuple[str, ...], needle: str) -> set[int]:
    """UIDs whose indexed text contains ``needle`` (any case, any accents) in one of ``columns``.

    The text was folded when indexed (``textfold``). With the trigram tokenizer a quoted phrase is a
    run of consecutive trigrams, so ``MATCH '"needle"'`` is exactly a substring test answered from
    the index alone; needles under three characters have no trigram and fall back to LIKE (a scan).
    The matching rowids are then turned into UIDs of this mailbox: by index lookups when they are
    few, by one pass over the mailbox when they are many. The caller indexes the mailbox's backlog first.
    """
    variants = needles(needle)
    if all(len(v) >= 3 for v in variants):
        query = " OR ".join(f'{c} : "{v.replace(chr(34), chr(34) * 2)}"' for c in columns for v in variants)
        rows = conn.execute("SELECT rowid FROM message_text WHERE message_text MATCH ?", (query,))
    else:
        patterns = [like_pattern(v) for v in variants]
        matches = " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns for _ in patterns)
        rows = conn.execute(f"SELECT rowid FROM message_text WHERE {matches}", [p for _ in columns for p in patterns])
    hits = {row[0] for row in rows}
    if len(hits) > _FEW_HITS:
        pairs = conn.execute("SELECT uid, message_id FROM mailbox_messages WHERE mailbox_id = ?", (mailbox_id,))
        return {uid for uid, message_id in pairs if message_id in hits}
    found = conn.execute(
        "SELECT uid FROM mailbox_messages WHERE mailbox_id = ? AND message_id IN (SELECT value FROM json_each(?))",
        (mailbox_id, json.dumps(sorted(hits))),
    )
    return {row[0] for row in found}

