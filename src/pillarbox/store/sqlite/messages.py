"""Messages in mailboxes: append, flags, expunge, copy/move, and the change log that records them.

Every function that changes a mailbox allocates one MODSEQ for that change, stamps it on the rows it
touched (or on the ``expunged`` tombstones), and raises the mailbox's HIGHESTMODSEQ, all inside the
writer's transaction. ``messages.refs`` counts the mailbox rows (and queue entries) that hold a stored
message; the last one to let go deletes the row and forgets the blob.
"""

from __future__ import annotations

import json
import sqlite3
from array import array
from collections.abc import Iterable, Sequence

from pillarbox.errors import NotFound, QuotaExceeded
from pillarbox.store import flags as flagcodec
from pillarbox.store.names import internal_date_columns, like_pattern, stored_base_subject, to_datetime, zoned
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
from pillarbox.store.sqlite import fulltext
from pillarbox.store.sqlite.counters import next_message_id, next_modseq
from pillarbox.store.sqlite.mailboxes import adjust_counts, get_mailbox_by_id
from pillarbox.store.sqlite.writer import Txn
from pillarbox.store.textfold import fold

_ENTRY_COLUMNS = (
    "mm.mailbox_id, mm.uid, mm.message_id, mm.system_flags, mm.keywords, mm.modseq,"
    " mm.internal_date, m.size, mm.save_date, mm.internal_zone"
)
_CHUNK = 500  # stay below SQLite's bound-parameter limit


def blob_files(pairs: Iterable[tuple[PreparedMessage | None, bytes]]) -> dict[str, bytes]:
    """Of (prepared, bytes) pairs, the bodies that must be written to blob files before the commit."""
    return {p.blob: raw for p, raw in pairs if p is not None and p.body is None}


def insert_message(txn: Txn, prepared: PreparedMessage, now: int, refs: int = 0) -> int:
    message_id = next_message_id(txn.conn)
    txn.conn.execute(
        "INSERT INTO messages (id, blob, size, subject, from_, date, header_message_id, structure, refs, created,"
        " thread_refs, base_subject, subject_reply) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (message_id, prepared.blob, prepared.size, prepared.subject, prepared.from_, prepared.date,
         prepared.header_message_id, prepared.structure_json, refs, now, prepared.thread_refs,
         *(prepared.base_subject or (None, False))),
    )
    if prepared.body is not None:
        txn.conn.execute("INSERT INTO message_bodies (message_id, body) VALUES (?, ?)", (message_id, prepared.body))
    # indexed for SEARCH later (store/indexer.py): indexing in the commit made every delivery wait
    txn.conn.execute("INSERT INTO unindexed (message_id) VALUES (?)", (message_id,))
    return message_id


def release_message(txn: Txn, message_id: int, count: int = 1) -> None:
    row = txn.conn.execute(
        "UPDATE messages SET refs = refs - ? WHERE id = ? RETURNING refs, blob", (count, message_id)
    ).fetchone()
    if row is not None and row[0] <= 0:
        txn.conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))
        fulltext.forget(txn, message_id)
        if txn.conn.execute("DELETE FROM message_bodies WHERE message_id = ?", (message_id,)).rowcount == 0:
            txn.forget_blob(row[1])


_TARGET_QUERY = (
    "SELECT b.uidnext, b.uidvalidity, a.quota_bytes, a.quota_messages, a.id"
    " FROM mailboxes b JOIN accounts a ON a.id = b.account_id WHERE b.id = ?"
)


def check_quota(conn: sqlite3.Connection, mailbox_id: int, extra_bytes: int, extra_messages: int) -> None:
    row = conn.execute(_TARGET_QUERY, (mailbox_id,)).fetchone()
    if row is None:
        raise NotFound(f"no mailbox {mailbox_id}")
    _check_room(conn, *row[2:], extra_bytes, extra_messages)


def _check_room(
    conn: sqlite3.Connection, quota_bytes: int | None, quota_messages: int | None, account_id: int,
    extra_bytes: int, extra_messages: int,
) -> None:
    if quota_bytes is None and quota_messages is None:
        return
    used_bytes, used_messages = conn.execute(
        "SELECT coalesce(sum(total_size), 0), coalesce(sum(message_count), 0) FROM mailboxes"
        " WHERE account_id = ?", (account_id,),
    ).fetchone()
    if quota_bytes is not None and used_bytes + extra_bytes > quota_bytes:
        raise QuotaExceeded("mailbox is over its storage quota")
    if quota_messages is not None and used_messages + extra_messages > quota_messages:
        raise QuotaExceeded("mailbox is over its message-count quota")


def append_entry(
    txn: Txn, mailbox_id: int, message_id: int, size: int, flags: Iterable[str], internal_date: int, now: int,
    quota: bool = True, internal_zone: int = 0,
) -> Appended:
    """Put a stored message into a mailbox under the next UID (``quota``: refuse if it would not fit);
    ``internal_date`` in Unix seconds, ``internal_zone`` the zone it was given in (minutes east of UTC)."""
    # one query for the UID and the quota: every statement of a job may wait for the GIL on its way back
    row = txn.conn.execute(_TARGET_QUERY, (mailbox_id,)).fetchone()
    if row is None:
        raise NotFound(f"no mailbox {mailbox_id}")
    uid, uidvalidity, *room = row
    if quota:
        _check_room(txn.conn, *room, size, 1)
    bits, keywords = flagcodec.encode(flags)
    modseq = next_modseq(txn.conn)
    txn.conn.execute(
        "INSERT INTO mailbox_messages (mailbox_id, uid, message_id, system_flags, keywords, modseq,"
        " internal_date, save_date, internal_zone) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (mailbox_id, uid, message_id, bits, keywords, modseq, internal_date, now, internal_zone),
    )
    txn.conn.execute("UPDATE messages SET refs = refs + 1 WHERE id = ?", (message_id,))
    adjust_counts(
        txn.conn, mailbox_id, modseq, messages=1, size=size, uidnext=uid + 1,
        unseen=0 if bits & flagcodec.SEEN else 1, deleted=1 if bits & flagcodec.DELETED else 0,
    )
    return Appended(mailbox_id, uid, modseq, uidvalidity)


_ENTRY_FIELDS = ("mailbox_id", "uid", "message_id", "flags", "modseq", "internal_date", "size", "save_date")
_new = object.__new__


def _entry(row: tuple) -> MessageEntry:
    # SELECT of a 100,000-message mailbox builds 100,000 of these: filling __dict__ directly is 2.5x
    # faster than the frozen dataclass __init__ (one object.__setattr__ per field); same object
    entry = _new(MessageEntry)
    entry.__dict__.update(zip(_ENTRY_FIELDS, (
        row[0], row[1], row[2], flagcodec.decode(row[3], row[4]), row[5], zoned(row[6], row[9]), row[7],
        to_datetime(row[8]),
    ), strict=True))
    return entry


def list_entries(
    conn: sqlite3.Connection, mailbox_id: int, uid_min: int = 1, uid_max: int | None = None
) -> list[MessageEntry]:
    rows = conn.execute(
        f"SELECT {_ENTRY_COLUMNS} FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id"
        " WHERE mm.mailbox_id = ? AND mm.uid BETWEEN ? AND ? ORDER BY mm.uid",
        (mailbox_id, uid_min, uid_max if uid_max is not None else 2**63 - 1),
    )
    return [_entry(row) for row in rows]


def list_columns(conn: sqlite3.Connection, mailbox_id: int) -> MessageColumns:
    """The whole mailbox as arrays: the rows go column by column into C arrays, no object per message."""
    mailbox = get_mailbox_by_id(conn, mailbox_id)
    if mailbox is None:
        raise NotFound(f"no mailbox {mailbox_id}")
    rows = conn.execute(
        "SELECT mm.uid, mm.message_id, mm.system_flags, mm.keywords, mm.modseq, m.size, mm.internal_date,"
        " mm.save_date FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id"
        " WHERE mm.mailbox_id = ? ORDER BY mm.uid", (mailbox_id,),
    ).fetchall()
    zones = dict(conn.execute(
        "SELECT uid, internal_zone FROM mailbox_messages WHERE mailbox_id = ? AND internal_zone != 0", (mailbox_id,)))
    uids, message_ids, bits, keywords, modseqs, sizes, internal, saved = zip(*rows, strict=True) if rows else ((),) * 8
    combinations: dict[tuple[int, str], int] = {}
    pairs = zip(bits, keywords, strict=True)
    flag_ids = array("I", [combinations.setdefault(pair, len(combinations)) for pair in pairs])
    return MessageColumns(
        mailbox, array("I", uids), array("q", message_ids), flag_ids,
        tuple(flagcodec.decode(*pair) for pair in combinations), array("q", modseqs), array("q", sizes),
        array("q", internal), array("q", saved), zones,
    )


def _entries_for(conn: sqlite3.Connection, mailbox_id: int, uids: Sequence[int]) -> list[MessageEntry]:
    found: list[MessageEntry] = []
    for start in range(0, len(uids), _CHUNK):
        chunk = uids[start:start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id"
            f" WHERE mm.mailbox_id = ? AND mm.uid IN ({marks}) ORDER BY mm.uid",
            (mailbox_id, *chunk),
        )
        found.extend(_entry(row) for row in rows)
    return found


def store_flags(
    txn: Txn, mailbox_id: int, uids: Sequence[int], mode: str, change: Iterable[str],
    unchanged_since: int | None,
) -> StoreFlagsResult:
    """RFC 9051 6.4.6 STORE, with RFC 7162 3.1.3 UNCHANGEDSINCE: one MODSEQ for the whole command."""
    wanted = frozenset(change)
    changed: list[FlagChange] = []
    modified: list[int] = []
    modseq: int | None = None
    counts = {"unseen": 0, "deleted": 0}
    for entry in _entries_for(txn.conn, mailbox_id, sorted(set(uids))):
        if unchanged_since is not None and entry.modseq > unchanged_since:
            modified.append(entry.uid)
            continue
        new_flags = flagcodec.apply(mode, entry.flags, wanted)
        old_bits, old_keywords = flagcodec.encode(entry.flags)
        bits, keywords = flagcodec.encode(new_flags)
        if (bits, keywords) == (old_bits, old_keywords):
            continue
        modseq = modseq or next_modseq(txn.conn)
        txn.conn.execute(
            "UPDATE mailbox_messages SET system_flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?",
            (bits, keywords, modseq, mailbox_id, entry.uid),
        )
        counts["unseen"] += _bit_delta(old_bits, bits, flagcodec.SEEN, inverted=True)
        counts["deleted"] += _bit_delta(old_bits, bits, flagcodec.DELETED)
        changed.append(FlagChange(entry.uid, flagcodec.decode(bits, keywords), modseq))
    if modseq is not None:
        adjust_counts(txn.conn, mailbox_id, modseq, **counts)
    return StoreFlagsResult(tuple(changed), tuple(modified))


def _bit_delta(old: int, new: int, bit: int, inverted: bool = False) -> int:
    delta = int(bool(new & bit)) - int(bool(old & bit))
    return -delta if inverted else delta


def expunge(txn: Txn, mailbox_id: int, uids: Sequence[int]) -> list[int]:
    """Remove the given UIDs (those still present); returns the UIDs removed, ascending."""
    entries = _entries_for(txn.conn, mailbox_id, sorted(set(uids)))
    if not entries:
        return []
    modseq = next_modseq(txn.conn)
    size = unseen = deleted = 0
    for entry in entries:
        txn.conn.execute("DELETE FROM mailbox_messages WHERE mailbox_id = ? AND uid = ?", (mailbox_id, entry.uid))
        txn.conn.execute(
            "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)",
            (mailbox_id, entry.uid, modseq),
        )
        release_message(txn, entry.message_id)
        size += entry.size
        unseen += "\\Seen" not in entry.flags
        deleted += "\\Deleted" in entry.flags
    adjust_counts(txn.conn, mailbox_id, modseq, messages=-len(entries), size=-size, unseen=-unseen, deleted=-deleted)
    return [entry.uid for entry in entries]


def copy_messages(
    txn: Txn, src: int, uids: Sequence[int], dst: int, now: int, quota: bool = True
) -> list[tuple[int, int]]:
    """RFC 9051 6.4.7: same flags and INTERNALDATE; returns (source UID, new UID) pairs (UIDPLUS)."""
    entries = _entries_for(txn.conn, src, sorted(set(uids)))
    if quota:
        check_quota(txn.conn, dst, sum(e.size for e in entries), len(entries))
    pairs = []
    for entry in entries:
        seconds, zone = internal_date_columns(entry.internal_date, now)
        appended = append_entry(txn, dst, entry.message_id, entry.size, entry.flags, seconds, now, quota, zone)
        pairs.append((entry.uid, appended.uid))
    return pairs


def move_messages(txn: Txn, src: int, uids: Sequence[int], dst: int, now: int) -> list[tuple[int, int]]:
    """A move between two mailboxes of one account leaves its usage unchanged: no quota check."""
    same_account = txn.conn.execute(
        "SELECT count(DISTINCT account_id) = 1 FROM mailboxes WHERE id IN (?, ?)", (src, dst)).fetchone()[0]
    pairs = copy_messages(txn, src, uids, dst, now, quota=not same_account)
    expunge(txn, src, [source_uid for source_uid, _ in pairs])
    return pairs


def drop_mailbox_messages(txn: Txn, mailbox_id: int) -> None:
    rows = txn.conn.execute(
        "SELECT message_id FROM mailbox_messages WHERE mailbox_id = ?", (mailbox_id,)
    ).fetchall()
    txn.conn.execute("DELETE FROM mailbox_messages WHERE mailbox_id = ?", (mailbox_id,))
    for (message_id,) in rows:
        release_message(txn, message_id)


def changes_since(conn: sqlite3.Connection, mailbox_id: int, modseq: int) -> Changes:
    mailbox = get_mailbox_by_id(conn, mailbox_id)
    if mailbox is None:
        raise NotFound(f"no mailbox {mailbox_id}")
    # Asked after every IMAP command in the selected state, mostly with nothing changed. "+uid": sorting
    # by the primary key would make SQLite walk every row of the mailbox and test its modseq (0.3 ms
    # for 2,000 messages, on the event loop); the modseq index finds the few changed rows, then sorts them.
    rows = conn.execute(
        f"SELECT {_ENTRY_COLUMNS} FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id"
        " WHERE mm.mailbox_id = ? AND mm.modseq > ? ORDER BY +mm.uid",
        (mailbox_id, modseq),
    )
    changed = tuple(_entry(row) for row in rows)
    expunged = tuple(row[0] for row in conn.execute(
        "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY +uid", (mailbox_id, modseq)))
    return Changes(mailbox, changed, expunged)


def summaries(
    conn: sqlite3.Connection, message_ids: Sequence[int], structure: bool = True
) -> dict[int, MessageSummary]:
    """``structure=False`` leaves ``structure_json`` empty: SORT and SEARCH by subject or date need
    only the small columns, and the structure is most of a row's bytes."""
    found: dict[int, MessageSummary] = {}
    column = "structure" if structure else "''"
    # one query for any number of ids: the id list travels as one JSON array parameter
    rows = conn.execute(
        f"SELECT id, size, subject, from_, date, header_message_id, {column}, blob FROM messages"
        " WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(sorted(set(message_ids))),),
    )
    for row in rows:
        found[row[0]] = MessageSummary(
            message_id=row[0], size=row[1], subject=row[2], from_=row[3],
            date=to_datetime(row[4]) if row[4] is not None else None,
            header_message_id=row[5], structure_json=row[6], blob=row[7],
        )
    return found


def dates_and_subjects(conn: sqlite3.Connection, mailbox_id: int) -> dict[int, tuple[int | None, str]]:
    """UID → (Date header in Unix seconds or None, decoded subject) for a whole mailbox, one query:
    what SORT (DATE / SUBJECT) and SEARCH (SUBJECT / SENT*) read of every message."""
    rows = conn.execute(
        "SELECT mm.uid, m.date, m.subject FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id"
        " WHERE mm.mailbox_id = ?", (mailbox_id,),
    )
    return {uid: (date, subject) for uid, date, subject in rows}


def sort_fields(conn: sqlite3.Connection, mailbox_id: int) -> dict[int, tuple[int | None, str]]:
    """UID → (Date header in Unix seconds or None, base subject) for a whole mailbox, one query: what
    SORT (DATE / SUBJECT) reads of every message."""
    rows = conn.execute(
        "SELECT mm.uid, m.date, m.subject, m.base_subject, m.subject_reply FROM mailbox_messages mm"
        " JOIN messages m ON m.id = mm.message_id WHERE mm.mailbox_id = ?", (mailbox_id,),
    )
    return {uid: (date, stored_base_subject(subject, base, reply)[0]) for uid, date, subject, base, reply in rows}


def thread_fields(
    conn: sqlite3.Connection, mailbox_id: int
) -> dict[int, tuple[int | None, tuple[str, bool], str | None, str | None]]:
    """UID → (Date in Unix seconds, (base subject, marked a reply), Message-ID, thread_refs) of a whole
    mailbox, one query; thread_refs is None for messages stored before the column existed."""
    rows = conn.execute(
        "SELECT mm.uid, m.date, m.subject, m.base_subject, m.subject_reply, m.header_message_id, m.thread_refs"
        " FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id WHERE mm.mailbox_id = ?", (mailbox_id,),
    )
    return {row[0]: (row[1], stored_base_subject(*row[2:5]), row[5], row[6]) for row in rows}


_SUMMARY_COLUMNS = {"subject": "m.subject", "from": "m.from_"}
_NON_ASCII = "*[^\x01-\x7f]*"  # GLOB: any character outside ASCII


def search_summary(conn: sqlite3.Connection, mailbox_id: int, field: str, needle: str) -> set[int]:
    """UIDs whose decoded ``field`` (Subject, or From in display form) contains ``needle``, compared
    folded (``textfold``: any case, any accents) as RFC 9051 6.4.4 asks.

    SQL does the scan: for an ASCII needle LIKE (ASCII-case-insensitive) is already the exact test on
    ASCII values, so only its hits and the non-ASCII values come back to be folded and checked here.
    """
    column, folded = _SUMMARY_COLUMNS[field], fold(needle)
    query = (f"SELECT mm.uid, {column} FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id"
             " WHERE mm.mailbox_id = ?")
    if folded.isascii():
        query += f" AND ({column} LIKE ? ESCAPE '\\' OR {column} GLOB ?)"
        rows = conn.execute(query, (mailbox_id, like_pattern(folded), _NON_ASCII))
    else:
        rows = conn.execute(query, (mailbox_id,))
    return {uid for uid, text in rows if folded in fold(text)}


def body_or_blob(conn: sqlite3.Connection, message_id: int) -> tuple[bytes | None, str]:
    """The message's bytes if they live in the database (else None), and its blob name."""
    row = conn.execute(
        "SELECT b.body, m.blob FROM messages m LEFT JOIN message_bodies b ON b.message_id = m.id WHERE m.id = ?",
        (message_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no message {message_id}")
    return row[0], str(row[1])


def bodies_or_blobs_of_uids(
    conn: sqlite3.Connection, mailbox_id: int, uids: Sequence[int]
) -> list[tuple[int, bytes | None, str]]:
    """``body_or_blob`` of each of ``uids`` the mailbox still holds, as (UID, body, blob); one statement,
    so a batch costs its worker thread few GIL hand-overs (each SQLite call releases the GIL)."""
    rows = conn.execute(
        "SELECT mm.uid, b.body, m.blob FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id"
        " LEFT JOIN message_bodies b ON b.message_id = m.id"
        " WHERE mm.mailbox_id = ? AND mm.uid IN (SELECT value FROM json_each(?))",
        (mailbox_id, json.dumps(list(uids))),
    )
    return [(int(uid), body, str(blob)) for uid, body, blob in rows]
