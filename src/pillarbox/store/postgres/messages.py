"""Messages in mailboxes on PostgreSQL: append, flags, expunge, copy/move, and the change log.

The same rules as ``sqlite/messages.py``: every change takes a MODSEQ, stamps it on the rows it touched
(or on ``expunged`` tombstones) and raises the mailbox's HIGHESTMODSEQ; ``messages.refs`` counts the
mailbox rows and queue entries that hold a stored message, and the last one to let go deletes it.
Here every writer locks the mailbox rows it changes before it takes UIDs or MODSEQs (``lock``), so
writers on several nodes hand them out in commit order. Batches travel as arrays (one statement for
many rows), so a copy of 10,000 messages costs a handful of round trips, not 10,000.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import asyncpg

from pillarbox.errors import NotFound, QuotaExceeded
from pillarbox.store import flags as flagcodec
from pillarbox.store.names import internal_date_columns, like_pattern, stored_base_subject, to_datetime, zoned
from pillarbox.store.postgres.mailboxes import adjust_counts, defer_commit, deferred_modseq, get_mailbox_by_id, lock
from pillarbox.store.postgres.modseq import next_modseq
from pillarbox.store.prepare import PreparedMessage
from pillarbox.store.records import (
    Appended,
    Changes,
    FlagChange,
    MessageColumns,
    MessageEntry,
    MessageSummary,
    StoreFlagsResult,
)
from pillarbox.store.textfold import fold

_ENTRY_COLUMNS = (
    "mm.mailbox_id, mm.uid, mm.message_id, mm.system_flags, mm.keywords, mm.modseq,"
    " mm.internal_date, m.size, mm.save_date, mm.internal_zone"
)
_ENTRIES = f"SELECT {_ENTRY_COLUMNS} FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id"


def clean(text: str | None) -> str | None:
    """Text as PostgreSQL takes it: no NUL character (a TEXT value cannot hold one)."""
    return text.replace("\x00", "") if text is not None and "\x00" in text else text


async def insert_message(conn: asyncpg.Connection, prepared: PreparedMessage, raw: bytes, now: int) -> int:
    """Store the bytes and what was parsed of them, unreferenced (refs 0), waiting for the indexer."""
    base, reply = prepared.base_subject or (None, False)
    message_id = await conn.fetchval(
        "WITH m AS (INSERT INTO messages (blob, size, subject, from_, date, header_message_id, structure, refs,"
        " created, thread_refs, body, base_subject, subject_reply)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10, $11, $12) RETURNING id)"
        " INSERT INTO unindexed (message_id) SELECT id FROM m RETURNING message_id",
        prepared.blob, prepared.size, clean(prepared.subject), clean(prepared.from_), prepared.date,
        clean(prepared.header_message_id), clean(prepared.structure_json), now, clean(prepared.thread_refs), raw,
        clean(base), reply)
    return int(message_id)


async def release_messages(conn: asyncpg.Connection, message_ids: Sequence[int]) -> None:
    """Drop one reference per id given (an id may repeat); a message nobody holds any more is deleted
    (its index entry and backlog row go with it: ON DELETE CASCADE)."""
    if not message_ids:
        return
    # two statements: a row updated by one part of a statement cannot be deleted by another part
    unused = await conn.fetch(
        "WITH d AS (SELECT id, count(*) AS n FROM unnest($1::bigint[]) AS id GROUP BY id)"
        " UPDATE messages m SET refs = m.refs - d.n FROM d WHERE m.id = d.id RETURNING m.id, m.refs",
        list(message_ids))
    gone = [row[0] for row in unused if row[1] <= 0]
    if gone:
        await conn.execute("DELETE FROM messages WHERE id = ANY($1::bigint[])", gone)


async def drop_unreferenced(conn: asyncpg.Connection, message_id: int) -> None:
    await conn.execute("DELETE FROM messages WHERE id = $1 AND refs <= 0", message_id)


@dataclass(frozen=True)
class NewEntry:
    """One message to put into a mailbox: the stored message, its size, flags and INTERNALDATE (Unix
    seconds, and the zone it was given in, minutes east of UTC)."""

    message_id: int
    size: int
    flags: Iterable[str]
    internal_date: int
    internal_zone: int = 0


async def _check_room(
    conn: asyncpg.Connection, row: asyncpg.Record, extra_bytes: int, extra_messages: int
) -> None:
    quota_bytes, quota_messages, account_id = row["quota_bytes"], row["quota_messages"], row["account_id"]
    if quota_bytes is None and quota_messages is None:
        return
    used_bytes, used_messages = await conn.fetchrow(
        "SELECT coalesce(sum(total_size), 0), coalesce(sum(message_count), 0) FROM mailboxes WHERE account_id = $1",
        account_id)
    if quota_bytes is not None and used_bytes + extra_bytes > quota_bytes:
        raise QuotaExceeded("mailbox is over its storage quota")
    if quota_messages is not None and used_messages + extra_messages > quota_messages:
        raise QuotaExceeded("mailbox is over its message-count quota")


async def _target(conn: asyncpg.Connection, mailbox_id: int) -> asyncpg.Record:
    """The mailbox row, locked, with its account's quota."""
    row = await conn.fetchrow(
        "SELECT b.uidnext, b.uidvalidity, a.quota_bytes, a.quota_messages, a.id AS account_id"
        " FROM mailboxes b JOIN accounts a ON a.id = b.account_id WHERE b.id = $1 FOR NO KEY UPDATE OF b", mailbox_id)
    if row is None:
        raise NotFound(f"no mailbox {mailbox_id}")
    return row


async def append_entries(
    conn: asyncpg.Connection, mailbox_id: int, entries: Sequence[NewEntry], now: int, quota: bool = True
) -> list[Appended]:
    """Put stored messages into a mailbox under the next UIDs, one MODSEQ each (``quota``: refuse all
    if they would not fit, before anything is written); in call order. Two round trips for any number:
    the locked mailbox row, then one statement that takes the MODSEQs, inserts, counts references and
    raises the mailbox's counters."""
    if not entries:
        return []
    target = await _target(conn, mailbox_id)
    if quota:
        await _check_room(conn, target, sum(e.size for e in entries), len(entries))
    first_uid, uidvalidity = target["uidnext"], target["uidvalidity"]
    encoded = [flagcodec.encode(e.flags) for e in entries]
    uids = list(range(first_uid, first_uid + len(entries)))
    rows = await conn.fetch(
        _APPEND, mailbox_id, uids, [e.message_id for e in entries], [b for b, _ in encoded], [k for _, k in encoded],
        [e.internal_date for e in entries], now, sum(e.size for e in entries),
        sum(1 for b, _ in encoded if not b & flagcodec.SEEN), sum(1 for b, _ in encoded if b & flagcodec.DELETED),
        [e.internal_zone for e in entries])
    modseqs = [row[0] for row in rows]
    return [Appended(mailbox_id, uid, modseq, uidvalidity) for uid, modseq in zip(uids, modseqs, strict=True)]


# MODSEQs are drawn in one scan and handed out in ascending order with the ascending UIDs (row_number
# over the MODSEQ), so within the mailbox both grow together; the mailbox row is locked already.
_APPEND = """
WITH drawn AS MATERIALIZED (SELECT pillarbox_next_modseq() AS modseq
                            FROM generate_series(1, cardinality($2::bigint[]))),
numbered AS (SELECT modseq, row_number() OVER (ORDER BY modseq) AS n FROM drawn),
rows AS (SELECT u.uid, u.message_id, u.bits, u.keywords, u.internal, u.zone, numbered.modseq
         FROM unnest($2::bigint[], $3::bigint[], $4::int[], $5::text[], $6::bigint[], $11::int[])
              WITH ORDINALITY AS u(uid, message_id, bits, keywords, internal, zone, n)
         JOIN numbered ON numbered.n = u.n),
ins AS (INSERT INTO mailbox_messages (mailbox_id, uid, message_id, system_flags, keywords, modseq, internal_date,
                                      save_date, internal_zone)
        SELECT $1, uid, message_id, bits, keywords, modseq, internal, $7, zone FROM rows),
refs AS (UPDATE messages m SET refs = m.refs + d.n
         FROM (SELECT id, count(*) AS n FROM unnest($3::bigint[]) AS id GROUP BY id) d WHERE m.id = d.id),
counts AS (UPDATE mailboxes SET message_count = message_count + cardinality($2::bigint[]),
                  unseen_count = unseen_count + $9, deleted_count = deleted_count + $10,
                  total_size = total_size + $8, uidnext = $2[cardinality($2::bigint[])] + 1,
                  highestmodseq = greatest(highestmodseq, (SELECT max(modseq) FROM drawn))
           WHERE id = $1)
SELECT modseq FROM numbered ORDER BY n
"""


_ENTRY_FIELDS = ("mailbox_id", "uid", "message_id", "flags", "modseq", "internal_date", "size", "save_date")
_new = object.__new__


def _entry(row: asyncpg.Record) -> MessageEntry:
    # a 100,000-message SELECT builds 100,000 of these: filling __dict__ skips the frozen __init__
    entry = _new(MessageEntry)
    entry.__dict__.update(zip(_ENTRY_FIELDS, (
        row[0], row[1], row[2], flagcodec.decode(row[3], row[4]), row[5], zoned(row[6], row[9]), row[7],
        to_datetime(row[8]),
    ), strict=True))
    return entry


async def list_entries(
    conn: asyncpg.Connection, mailbox_id: int, uid_min: int = 1, uid_max: int | None = None
) -> list[MessageEntry]:
    rows = await conn.fetch(f"{_ENTRIES} WHERE mm.mailbox_id = $1 AND mm.uid BETWEEN $2 AND $3 ORDER BY mm.uid",
                            mailbox_id, uid_min, uid_max if uid_max is not None else 2**63 - 1)
    return [_entry(row) for row in rows]


async def entries_for(conn: asyncpg.Connection, mailbox_id: int, uids: Iterable[int]) -> list[MessageEntry]:
    rows = await conn.fetch(f"{_ENTRIES} WHERE mm.mailbox_id = $1 AND mm.uid = ANY($2::bigint[]) ORDER BY mm.uid",
                            mailbox_id, sorted(set(uids)))
    return [_entry(row) for row in rows]


async def list_columns(conn: asyncpg.Connection, mailbox_id: int) -> MessageColumns:
    """The whole mailbox as arrays (call inside one snapshot: the mailbox row and the messages agree)."""
    mailbox = await get_mailbox_by_id(conn, mailbox_id)
    if mailbox is None:
        raise NotFound(f"no mailbox {mailbox_id}")
    rows = await conn.fetch(
        "SELECT mm.uid, mm.message_id, mm.system_flags, mm.keywords, mm.modseq, m.size, mm.internal_date,"
        " mm.save_date FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id"
        " WHERE mm.mailbox_id = $1 ORDER BY mm.uid", mailbox_id)
    zones = {row[0]: row[1] for row in await conn.fetch(
        "SELECT uid, internal_zone FROM mailbox_messages WHERE mailbox_id = $1 AND internal_zone <> 0", mailbox_id)}
    combinations: dict[tuple[int, str], int] = {}
    flag_ids = array("I", [combinations.setdefault((r[2], r[3]), len(combinations)) for r in rows])
    return MessageColumns(
        mailbox, array("I", [r[0] for r in rows]), array("q", [r[1] for r in rows]), flag_ids,
        tuple(flagcodec.decode(*pair) for pair in combinations), array("q", [r[4] for r in rows]),
        array("q", [r[5] for r in rows]), array("q", [r[6] for r in rows]), array("q", [r[7] for r in rows]), zones,
    )


async def store_flags(
    conn: asyncpg.Connection, mailbox_id: int, uids: Sequence[int], mode: str, change: Iterable[str],
    unchanged_since: int | None, deferred: bool = True,
) -> StoreFlagsResult:
    """RFC 9051 6.4.6 STORE, with RFC 7162 3.1.3 UNCHANGEDSINCE: one MODSEQ for the whole command.
    ``deferred``: the change may commit without waiting for the WAL flush (docs/security.md, "What a
    crash can lose"), as flag changes ride the next flush on SQLite."""
    if deferred:
        await defer_commit(conn)
    await lock(conn, [mailbox_id])
    wanted = frozenset(change)
    updates: list[tuple[int, int, str]] = []
    modified: list[int] = []
    counts = {"unseen": 0, "deleted": 0}
    for entry in await entries_for(conn, mailbox_id, uids):
        if unchanged_since is not None and entry.modseq > unchanged_since:
            modified.append(entry.uid)
            continue
        old_bits, old_keywords = flagcodec.encode(entry.flags)
        bits, keywords = flagcodec.encode(flagcodec.apply(mode, entry.flags, wanted))
        if (bits, keywords) != (old_bits, old_keywords):
            updates.append((entry.uid, bits, keywords))
            counts["unseen"] -= _bit_delta(old_bits, bits, flagcodec.SEEN)
            counts["deleted"] += _bit_delta(old_bits, bits, flagcodec.DELETED)
    if not updates:
        return StoreFlagsResult((), tuple(modified))
    modseq = await (deferred_modseq(conn) if deferred else next_modseq(conn))
    await conn.execute(
        "UPDATE mailbox_messages mm SET system_flags = u.bits, keywords = u.keywords, modseq = $2"
        " FROM unnest($3::bigint[], $4::int[], $5::text[]) AS u(uid, bits, keywords)"
        " WHERE mm.mailbox_id = $1 AND mm.uid = u.uid",
        mailbox_id, modseq, [u[0] for u in updates], [u[1] for u in updates], [u[2] for u in updates])
    await adjust_counts(conn, mailbox_id, modseq, **counts)
    changed = tuple(FlagChange(uid, flagcodec.decode(bits, keywords), modseq) for uid, bits, keywords in updates)
    return StoreFlagsResult(changed, tuple(modified))


def _bit_delta(old: int, new: int, bit: int) -> int:
    return int(bool(new & bit)) - int(bool(old & bit))


async def expunge(conn: asyncpg.Connection, mailbox_id: int, uids: Sequence[int]) -> list[int]:
    """Remove the given UIDs (those still present); returns the UIDs removed, ascending."""
    await lock(conn, [mailbox_id])
    entries = await entries_for(conn, mailbox_id, uids)
    if not entries:
        return []
    modseq = await next_modseq(conn)
    removed = [entry.uid for entry in entries]
    await conn.execute("DELETE FROM mailbox_messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])",
                       mailbox_id, removed)
    await conn.execute(
        "INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, uid, $3 FROM unnest($2::bigint[]) AS uid"
        " ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq", mailbox_id, removed, modseq)
    await release_messages(conn, [entry.message_id for entry in entries])
    await adjust_counts(
        conn, mailbox_id, modseq, messages=-len(entries), size=-sum(e.size for e in entries),
        unseen=-sum("\\Seen" not in e.flags for e in entries), deleted=-sum("\\Deleted" in e.flags for e in entries))
    return removed


async def copy_messages(
    conn: asyncpg.Connection, src: int, uids: Sequence[int], dst: int, now: int, quota: bool = True
) -> list[tuple[int, int]]:
    """RFC 9051 6.4.7: same flags and INTERNALDATE; returns (source UID, new UID) pairs (UIDPLUS)."""
    await lock(conn, [src, dst])
    entries = await entries_for(conn, src, uids)
    new = [NewEntry(e.message_id, e.size, e.flags, *internal_date_columns(e.internal_date, now)) for e in entries]
    appended = await append_entries(conn, dst, new, now, quota)
    return [(entry.uid, done.uid) for entry, done in zip(entries, appended, strict=True)]


async def move_messages(
    conn: asyncpg.Connection, src: int, uids: Sequence[int], dst: int, now: int
) -> list[tuple[int, int]]:
    """A move between two mailboxes of one account leaves its usage unchanged: no quota check."""
    same_account = await conn.fetchval(
        "SELECT count(DISTINCT account_id) = 1 FROM mailboxes WHERE id = ANY($1::bigint[])", [src, dst])
    pairs = await copy_messages(conn, src, uids, dst, now, quota=not same_account)
    await expunge(conn, src, [source_uid for source_uid, _ in pairs])
    return pairs


async def drop_mailbox_messages(conn: asyncpg.Connection, mailbox_id: int) -> None:
    await lock(conn, [mailbox_id])
    rows = await conn.fetch("DELETE FROM mailbox_messages WHERE mailbox_id = $1 RETURNING message_id", mailbox_id)
    await release_messages(conn, [row[0] for row in rows])


async def changes_since(conn: asyncpg.Connection, mailbox_id: int, modseq: int) -> Changes:
    """(Inside one snapshot: the mailbox row, the changed rows and the tombstones agree.)"""
    mailbox = await get_mailbox_by_id(conn, mailbox_id)
    if mailbox is None:
        raise NotFound(f"no mailbox {mailbox_id}")
    rows = await conn.fetch(f"{_ENTRIES} WHERE mm.mailbox_id = $1 AND mm.modseq > $2 ORDER BY mm.uid",
                            mailbox_id, modseq)
    expunged = await conn.fetch("SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid",
                                mailbox_id, modseq)
    return Changes(mailbox, tuple(_entry(row) for row in rows), tuple(row[0] for row in expunged))


async def summaries(
    conn: asyncpg.Connection, message_ids: Sequence[int], structure: bool = True
) -> dict[int, MessageSummary]:
    """``structure=False`` leaves ``structure_json`` empty (SORT and SEARCH need only the small columns)."""
    column = "structure" if structure else "''"
    rows = await conn.fetch(
        f"SELECT id, size, subject, from_, date, header_message_id, {column}, blob FROM messages"
        " WHERE id = ANY($1::bigint[])", sorted(set(message_ids)))
    return {row[0]: MessageSummary(
        message_id=row[0], size=row[1], subject=row[2], from_=row[3],
        date=to_datetime(row[4]) if row[4] is not None else None,
        header_message_id=row[5], structure_json=row[6], blob=row[7],
    ) for row in rows}


async def dates_and_subjects(conn: asyncpg.Connection, mailbox_id: int) -> dict[int, tuple[int | None, str]]:
    rows = await conn.fetch("SELECT mm.uid, m.date, m.subject FROM mailbox_messages mm"
                            " JOIN messages m ON m.id = mm.message_id WHERE mm.mailbox_id = $1", mailbox_id)
    return {uid: (date, subject) for uid, date, subject in rows}


async def sort_fields(conn: asyncpg.Connection, mailbox_id: int) -> dict[int, tuple[int | None, str]]:
    rows = await conn.fetch(
        "SELECT mm.uid, m.date, m.subject, m.base_subject, m.subject_reply FROM mailbox_messages mm"
        " JOIN messages m ON m.id = mm.message_id WHERE mm.mailbox_id = $1", mailbox_id)
    return {uid: (date, stored_base_subject(subject, base, reply)[0]) for uid, date, subject, base, reply in rows}


async def thread_fields(
    conn: asyncpg.Connection, mailbox_id: int
) -> dict[int, tuple[int | None, tuple[str, bool], str | None, str | None]]:
    rows = await conn.fetch(
        "SELECT mm.uid, m.date, m.subject, m.base_subject, m.subject_reply, m.header_message_id, m.thread_refs"
        " FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id WHERE mm.mailbox_id = $1", mailbox_id)
    return {row[0]: (row[1], stored_base_subject(row[2], row[3], row[4]), row[5], row[6]) for row in rows}


_SUMMARY_COLUMNS = {"subject": "m.subject", "from": "m.from_"}


async def search_summary(conn: asyncpg.Connection, mailbox_id: int, field: str, needle: str) -> set[int]:
    """UIDs whose decoded Subject or From contains ``needle``, folded (``textfold``) as RFC 9051 6.4.4
    asks. For an ASCII needle SQL keeps only the ILIKE hits and the non-ASCII values (those need the
    fold); the final test is the same Python fold as on SQLite, so both answer alike."""
    column, folded = _SUMMARY_COLUMNS[field], fold(needle)
    query = f"SELECT mm.uid, {column} FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id" \
            " WHERE mm.mailbox_id = $1"
    if folded.isascii():
        rows = await conn.fetch(query + f" AND ({column} ILIKE $2 OR {column} ~ '[^\\x01-\\x7f]')",
                                mailbox_id, like_pattern(folded))
    else:
        rows = await conn.fetch(query, mailbox_id)
    return {uid for uid, text in rows if folded in fold(text)}


async def body_of(conn: asyncpg.Connection, message_id: int) -> bytes:
    body = await conn.fetchval("SELECT body FROM messages WHERE id = $1", message_id)
    if body is None:
        raise NotFound(f"no message {message_id}")
    return bytes(body)


async def bodies_of_uids(conn: asyncpg.Connection, mailbox_id: int, uids: Sequence[int]) -> dict[int, bytes]:
    rows = await conn.fetch(
        "SELECT mm.uid, m.body FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id"
        " WHERE mm.mailbox_id = $1 AND mm.uid = ANY($2::bigint[])", mailbox_id, list(uids))
    return {int(uid): bytes(body) for uid, body in rows}

