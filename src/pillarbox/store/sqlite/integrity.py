"""Consistency checks of a data_dir: what a crash must never leave behind.

Used by the crash tests and by ``pillarbox check-store``-style diagnostics: SQLite's own check,
every stored message's blob present and intact, every mailbox counter equal to its rows, and every
message either in the full-text index or in its backlog.
"""

from __future__ import annotations

import hashlib
import sqlite3

from pillarbox.store.blobs import BlobStore


def find_problems(conn: sqlite3.Connection, blobs: BlobStore) -> list[str]:
    problems = [f"sqlite: {row[0]}" for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
    for message_id, blob, size, body in conn.execute(
        "SELECT m.id, m.blob, m.size, b.body FROM messages m LEFT JOIN message_bodies b ON b.message_id = m.id"
    ):
        try:
            data = body if body is not None else blobs.read(blob)
        except FileNotFoundError:
            problems.append(f"message {message_id}: blob {blob} is missing")
            continue
        if len(data) != size or hashlib.sha256(data).hexdigest() != blob:
            problems.append(f"message {message_id}: blob {blob} is damaged")
    stray = conn.execute(
        "SELECT count(*) FROM message_bodies WHERE message_id NOT IN (SELECT id FROM messages)").fetchone()[0]
    if stray:
        problems.append(f"{stray} stored bod(ies) of messages that no longer exist")
    problems.extend(_counter_problems(conn))
    problems.extend(_index_problems(conn))
    return problems


def _index_problems(conn: sqlite3.Connection) -> list[str]:
    """Every stored message is either in the full-text index or waiting for it, never both, never
    neither (it would be unsearchable for good), and nothing is indexed for a message that is gone."""
    unsearchable, both = conn.execute(
        "SELECT coalesce(sum(t.message_id IS NULL AND u.message_id IS NULL), 0),"
        " coalesce(sum(t.message_id IS NOT NULL AND u.message_id IS NOT NULL), 0) FROM messages m"
        " LEFT JOIN message_text t ON t.message_id = m.id LEFT JOIN unindexed u ON u.message_id = m.id"
    ).fetchone()
    stray = conn.execute(
        "SELECT (SELECT count(*) FROM unindexed WHERE message_id NOT IN (SELECT id FROM messages))"
        " + (SELECT count(*) FROM message_text WHERE message_id NOT IN (SELECT id FROM messages))"
    ).fetchone()[0]
    found = [(unsearchable, "message(s) neither indexed for SEARCH nor waiting for it"),
             (both, "message(s) indexed and still waiting to be indexed"),
             (stray, "index entr(ies) of messages that no longer exist")]
    return [f"{count} {what}" for count, what in found if count]


def _counter_problems(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        """
        SELECT b.id, b.name, b.message_count, b.unseen_count, b.deleted_count, b.total_size, b.uidnext,
               count(mm.uid), coalesce(sum((mm.system_flags & 1) = 0), 0),
               coalesce(sum((mm.system_flags & 8) != 0), 0), coalesce(sum(m.size), 0), coalesce(max(mm.uid), 0)
        FROM mailboxes b
        LEFT JOIN mailbox_messages mm ON mm.mailbox_id = b.id
        LEFT JOIN messages m ON m.id = mm.message_id
        GROUP BY b.id
        """
    )
    problems = []
    for mailbox_id, name, *stored_and_actual in rows:
        stored, actual = stored_and_actual[:5], stored_and_actual[5:]
        if stored[:4] != actual[:4] or stored[4] <= actual[4]:
            problems.append(f"mailbox {mailbox_id} ({name}): counters {stored} disagree with rows {actual}")
    orphans = conn.execute(
        "SELECT count(*) FROM messages m WHERE refs != (SELECT count(*) FROM mailbox_messages mm"
        " WHERE mm.message_id = m.id) + (SELECT count(*) FROM queue q WHERE q.message_id = m.id)"
    ).fetchone()[0]
    if orphans:
        problems.append(f"{orphans} message(s) with a wrong reference count")
    return problems
