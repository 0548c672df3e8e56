"""Consistency checks of a data_dir: what a crash must never leave behind.

Used by the crash tests and by ``pillarbox check-store``-style diagnostics: SQLite's own check,
every stored message's blob present and intact, and every mailbox counter equal to its rows.
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
    return problems


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
