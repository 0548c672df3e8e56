"""Moving an install: every row of a SQLite data_dir copied into an empty PostgreSQL database.

Ids, UIDs, UIDVALIDITYs and MODSEQs are kept as they are, so clients see the same mailboxes (no
resynchronisation, QRESYNC goes on from the MODSEQ it knew) and queue ids stay valid. Bodies come from
the database rows or the blob files. The search index is not copied: every message joins the indexer's
backlog and is indexed again (SEARCH indexes what it needs first), because the two indexes differ.
Rows go in with COPY (fast), all in one transaction: the target is complete or untouched.

``TABLES`` names what is copied; a table added to both schemas is added here too (the contract test
``test_store_migrate`` fails on a SQLite table this list does not account for).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg

from pillarbox.errors import StoreError
from pillarbox.store.blobs import BlobStore

BATCH = 500

_BOOLEANS = {"queue": ("smtputf8", "held", "requiretls"), "dkim_keys": ("active",), "accounts": ("admin",),
             "login_failures": ("pending",), "sieve_scripts": ("active",), "messages": ("subject_reply",)}
TABLES = ("domains", "accounts", "alias_targets", "mailboxes", "subscriptions", "messages", "mailbox_messages",
          "expunged", "queue", "queue_recipients", "dkim_keys", "mtasts_policies", "tls_results",
          "dmarc_observations", "login_failures", "login_networks", "server_secrets", "daily_jobs",
          "sender_grants", "web_sessions", "api_tokens", "app_passwords", "login_history", "account_settings",
          "received_reports", "queue_samples", "delivery_stats", "sieve_scripts", "sieve_tracking", "metadata",
          "acl", "tls_seen", "urlauth_keys", "spam_tokens", "spam_totals", "spam_messages", "sender_rules",
          "greylist", "greylist_clients", "sending_events", "sending_policies")
NOT_COPIED = {
    "counters": "MODSEQ and UIDVALIDITY become the target's sequence and counter, job cursors are copied",
    "message_bodies": "bodies go into messages.body",
    "unindexed": "every message is indexed again",
    "message_text": "every message is indexed again",
    "message_words": "every message is indexed again",
    "search_terms": "every message is indexed again",
}
IDENTITY_TABLES = ("domains", "accounts", "mailboxes", "messages", "queue", "api_tokens", "app_passwords",
                   "received_reports", "login_failures")


Progress = Callable[[int, int], None]
"""Told (rows copied, rows in all) after every batch."""


async def copy_from_sqlite(
    data_dir: Path, conn: asyncpg.Connection, progress: Progress | None = None
) -> dict[str, int]:
    """Copy the SQLite store in ``data_dir`` into the (migrated, empty) database of ``conn``;
    returns the rows copied per table."""
    source = sqlite3.connect(f"file:{data_dir / 'pillarbox.sqlite3'}?mode=ro", uri=True)
    blobs = BlobStore(data_dir / "blobs")
    try:
        _check_tables(source)
        source.execute("BEGIN")  # one snapshot of the source for the whole copy
        async with conn.transaction():
            await _refuse_unless_empty(conn)
            counter = _RowCounter(source, progress)
            copied = {table: await _copy_table(source, conn, table, blobs, counter) for table in TABLES}
            await conn.execute("INSERT INTO unindexed (message_id) SELECT id FROM messages")
            await _continue_counters(source, conn)
        return copied
    finally:
        source.close()


def _check_tables(source: sqlite3.Connection) -> None:
    names = {row[0] for row in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    shadows = (*(f"{name}_" for name in NOT_COPIED), "sqlite_")  # FTS5's own tables, SQLite's
    unknown = sorted(n for n in names - set(TABLES) - set(NOT_COPIED) if not n.startswith(shadows))
    if unknown:
        raise StoreError(f"this Pillarbox does not know how to move table(s) {', '.join(unknown)}")


async def _refuse_unless_empty(conn: asyncpg.Connection) -> None:
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM domains) OR EXISTS (SELECT 1 FROM messages)"):
        raise StoreError("the target database is not empty; move into a new database")


class _RowCounter:
    """Rows copied so far, told to ``progress`` (rows are counted first only when someone watches)."""

    def __init__(self, source: sqlite3.Connection, progress: Progress | None) -> None:
        self.progress = progress
        self.done = 0
        if progress is not None:
            self.total = sum(source.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES)

    def add(self, rows: int) -> None:
        self.done += rows
        if self.progress is not None:
            self.progress(self.done, self.total)


async def _copy_table(source: sqlite3.Connection, conn: asyncpg.Connection, table: str, blobs: BlobStore,
                      counter: _RowCounter) -> int:
    columns = await _target_columns(conn, table)
    wanted = [c for c in columns if c != "body"] if table == "messages" else columns
    if wanted is not columns:
        columns = [*wanted, "body"]  # the converter appends the body (not a column of SQLite's messages)
    convert = _converter(table, wanted, source, blobs)
    quoted = ", ".join(f'"{column}"' for column in wanted)  # "end" is a keyword
    query = f"SELECT {quoted} FROM {table}"
    count = 0
    for batch in _batches(source.execute(query)):
        records = [convert(row) for row in batch]
        await conn.copy_records_to_table(table, records=records, columns=columns)
        count += len(records)
        counter.add(len(records))
    return count


async def _target_columns(conn: asyncpg.Connection, table: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name = $1 ORDER BY ordinal_position", table)
    return [row[0] for row in rows]


def _converter(
    table: str, columns: list[str], source: sqlite3.Connection, blobs: BlobStore
) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    booleans = [columns.index(c) for c in _BOOLEANS.get(table, ())]

    def convert(row: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(row)
        for index in booleans:
            values[index] = bool(values[index])
        if table == "messages":
            values.append(_body(source, blobs, values[0], values[columns.index("blob")]))
        return tuple(values)

    return convert


def _body(source: sqlite3.Connection, blobs: BlobStore, message_id: int, blob: str) -> bytes:
    row = source.execute("SELECT body FROM message_bodies WHERE message_id = ?", (message_id,)).fetchone()
    return bytes(row[0]) if row is not None else blobs.read(blob)


def _batches(rows: sqlite3.Cursor) -> Iterator[list[tuple[Any, ...]]]:
    while batch := rows.fetchmany(BATCH):
        yield batch


async def _continue_counters(source: sqlite3.Connection, conn: asyncpg.Connection) -> None:
    """The target hands out what the source would have handed out next: ids, MODSEQs, UIDVALIDITYs."""
    counters = dict(source.execute("SELECT name, value FROM counters").fetchall())
    await conn.execute("SELECT setval('modseq', $1)", max(int(counters.get("modseq", 1)), 1))
    await conn.execute("UPDATE counters SET value = $1 WHERE name = 'uidvalidity'", int(counters.get("uidvalidity", 0)))
    for name, value in counters.items():  # job cursors (the spam learner's place in the change log)
        if name not in ("modseq", "uidvalidity", "message_id"):
            await conn.execute("INSERT INTO counters (name, value) VALUES ($1, $2)"
                               " ON CONFLICT (name) DO UPDATE SET value = excluded.value", name, int(value))
    floors = {"messages": int(counters.get("message_id", 0))}  # ids of expunged messages are never handed out again
    for table in IDENTITY_TABLES:
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" greatest(coalesce((SELECT max(id) FROM {table}), 0), $1) + 1, false)", floors.get(table, 0))
