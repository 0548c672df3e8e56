"""Mailboxes (folders): create, list, rename with children, delete with their messages."""

from __future__ import annotations

import sqlite3

from pillarbox.errors import AlreadyExists, NotFound
from pillarbox.store.names import HIERARCHY_DELIMITER, canonical_name, new_folder_name
from pillarbox.store.records import Mailbox
from pillarbox.store.sqlite.counters import next_modseq, next_uidvalidity
from pillarbox.store.sqlite.writer import Txn

_COLUMNS = (
    "id, account_id, name, uidvalidity, uidnext, highestmodseq, special_use,"
    " EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = mailboxes.account_id AND s.name = mailboxes.name),"
    " message_count, unseen_count, total_size, deleted_count, recent_uid"
)


def insert_mailbox(
    txn: Txn, account_id: int, name: str, special_use: str | None, uidvalidity: int, subscribe: bool = False
) -> int:
    """A new mailbox row; ``subscribe``: the default folders of a new account, which clients that show
    subscribed folders only should see. CREATE does not subscribe (RFC 3501 6.3.3, 6.3.6)."""
    try:
        cur = txn.conn.execute(
            "INSERT INTO mailboxes (account_id, name, uidvalidity, highestmodseq, special_use)"
            " VALUES (?, ?, ?, ?, ?)",
            (account_id, name, uidvalidity, next_modseq(txn.conn), special_use),
        )
    except sqlite3.IntegrityError:
        raise AlreadyExists(f"folder {name} exists already") from None
    assert cur.lastrowid is not None
    if subscribe:
        txn.conn.execute("INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)", (account_id, name))
    return cur.lastrowid


def mailbox_from_row(row: tuple) -> Mailbox:
    return Mailbox(
        id=row[0], account_id=row[1], name=row[2], uidvalidity=row[3], uidnext=row[4],
        highestmodseq=row[5], special_use=row[6], subscribed=bool(row[7]), messages=row[8],
        unseen=row[9], size=row[10], deleted=row[11], recent_uid=row[12],
    )


def list_mailboxes(conn: sqlite3.Connection, account_id: int) -> list[Mailbox]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM mailboxes WHERE account_id = ? ORDER BY name", (account_id,))
    return [mailbox_from_row(row) for row in rows]


def get_mailbox(conn: sqlite3.Connection, account_id: int, name: str) -> Mailbox | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM mailboxes WHERE account_id = ? AND name = ?",
        (account_id, canonical_name(name)),
    ).fetchone()
    return mailbox_from_row(row) if row else None


def get_mailbox_by_id(conn: sqlite3.Connection, mailbox_id: int) -> Mailbox | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM mailboxes WHERE id = ?", (mailbox_id,)).fetchone()
    return mailbox_from_row(row) if row else None


def require_mailbox(conn: sqlite3.Connection, account_id: int, name: str) -> Mailbox:
    found = get_mailbox(conn, account_id, name)
    if found is None:
        raise NotFound(f"no folder {name}")
    return found


def create_mailbox(txn: Txn, account_id: int, name: str, special_use: str | None, now: int) -> Mailbox:
    mailbox_id = insert_mailbox(txn, account_id, new_folder_name(name), special_use, next_uidvalidity(txn.conn, now))
    found = get_mailbox_by_id(txn.conn, mailbox_id)
    assert found is not None
    return found


def rename_mailbox(txn: Txn, account_id: int, old: str, new: str) -> None:
    """RFC 9051 6.3.6: children move too. (Renaming INBOX is composed by the store: it moves messages.)"""
    old, new = canonical_name(old), canonical_name(new)
    require_mailbox(txn.conn, account_id, old)
    if get_mailbox(txn.conn, account_id, new) is not None:
        raise AlreadyExists(f"folder {new} exists already")
    prefix = old + HIERARCHY_DELIMITER
    renamed = txn.conn.execute(
        "SELECT id, name FROM mailboxes WHERE account_id = ? AND (name = ? OR substr(name, 1, ?) = ?)",
        (account_id, old, len(prefix), prefix),
    ).fetchall()
    for mailbox_id, name in renamed:
        target = new + name[len(old):]
        if get_mailbox(txn.conn, account_id, target) is not None:
            raise AlreadyExists(f"folder {target} exists already")
        txn.conn.execute(
            "UPDATE mailboxes SET name = ?, highestmodseq = ? WHERE id = ?",
            (target, next_modseq(txn.conn), mailbox_id),
        )
        # the subscription follows the folder, as users expect (RFC 9051 6.3.6 leaves it to the client)
        txn.conn.execute("UPDATE OR REPLACE subscriptions SET name = ? WHERE account_id = ? AND name = ?",
                         (target, account_id, name))


def remove_mailbox_row(txn: Txn, mailbox_id: int) -> None:
    """The row only: the caller has dropped the messages first."""
    txn.conn.execute("DELETE FROM expunged WHERE mailbox_id = ?", (mailbox_id,))
    txn.conn.execute("DELETE FROM mailboxes WHERE id = ?", (mailbox_id,))


def set_subscribed(txn: Txn, account_id: int, name: str, subscribed: bool, must_exist: bool = True) -> None:
    """SUBSCRIBE needs an existing mailbox (RFC 9051 6.3.7 allows the check) unless the caller checked
    it (a shared mailbox, not the account's); UNSUBSCRIBE does not, since a subscription outlives its
    mailbox."""
    name = canonical_name(name)
    if subscribed:
        if must_exist:
            require_mailbox(txn.conn, account_id, name)
        txn.conn.execute("INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)", (account_id, name))
    else:
        deleted = txn.conn.execute("DELETE FROM subscriptions WHERE account_id = ? AND name = ?", (account_id, name))
        if deleted.rowcount == 0 and must_exist:
            require_mailbox(txn.conn, account_id, name)


def subscribed_without_mailbox(conn: sqlite3.Connection, account_id: int) -> list[str]:
    """Subscribed names whose mailbox does not exist (any more): LIST shows them \\NonExistent."""
    rows = conn.execute(
        "SELECT s.name FROM subscriptions s WHERE s.account_id = ? AND NOT EXISTS"
        " (SELECT 1 FROM mailboxes m WHERE m.account_id = s.account_id AND m.name = s.name) ORDER BY s.name",
        (account_id,),
    )
    return [row[0] for row in rows]


def claim_recent(txn: Txn, mailbox_id: int, through_uid: int) -> int:
    """Raise the mailbox's \\Recent mark to ``through_uid``; the mark before, so the caller's
    recent messages are those above it up to ``through_uid`` (none when it was there already)."""
    row = txn.conn.execute("SELECT recent_uid FROM mailboxes WHERE id = ?", (mailbox_id,)).fetchone()
    if row is None:
        raise NotFound(f"no mailbox {mailbox_id}")
    if row[0] < through_uid:
        txn.conn.execute("UPDATE mailboxes SET recent_uid = ? WHERE id = ?", (through_uid, mailbox_id))
    return int(row[0])


def adjust_counts(
    conn: sqlite3.Connection, mailbox_id: int, modseq: int, *,
    messages: int = 0, unseen: int = 0, deleted: int = 0, size: int = 0, uidnext: int | None = None,
) -> None:
    """Keep the per-mailbox counters (STATUS in O(1)) and HIGHESTMODSEQ in step with a change."""
    conn.execute(
        "UPDATE mailboxes SET message_count = message_count + ?, unseen_count = unseen_count + ?,"
        " deleted_count = deleted_count + ?, total_size = total_size + ?,"
        " highestmodseq = max(highestmodseq, ?), uidnext = coalesce(?, uidnext) WHERE id = ?",
        (messages, unseen, deleted, size, modseq, uidnext, mailbox_id),
    )
