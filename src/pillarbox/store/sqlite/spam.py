"""The per-user classifier's data and the learning job's ledger (``antispam/classifier.py``, ``antispam/learning.py``).

Tokens are 63-bit hashes (``antispam/tokens.py``): a user's word counts never hold the words. A row
counts in how many trained spam and ham messages the token occurred; ``spam_totals`` counts the
messages. ``spam_messages`` remembers what each message was trained as, so that training is
idempotent (a copy in two folders counts once) and a message moved out of Junk is unlearned as
spam before it is learned as ham.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from pillarbox.store.records import SpamMessageState, TokenCounts
from pillarbox.store.sqlite.writer import Txn

PRUNE_TO = 0.9
"""Past its token budget, a user's rarest tokens go until this share of the budget is left."""


def counts(conn: sqlite3.Connection, account_id: int, tokens: Sequence[int]) -> TokenCounts:
    row = conn.execute("SELECT spam, ham FROM spam_totals WHERE account_id = ?", (account_id,)).fetchone()
    spam, ham = row if row is not None else (0, 0)
    if not spam and not ham:
        return TokenCounts(0, 0)
    rows = conn.execute(
        "SELECT token, spam, ham FROM spam_tokens WHERE account_id = ? AND token IN (SELECT value FROM json_each(?))",
        (account_id, json.dumps(list(tokens))))
    return TokenCounts(spam, ham, {token: (s, h) for token, s, h in rows})


def states(conn: sqlite3.Connection, account_id: int, message_ids: Sequence[int]) -> dict[int, SpamMessageState]:
    rows = conn.execute(
        "SELECT message_id, filed, trained FROM spam_messages WHERE account_id = ?"
        " AND message_id IN (SELECT value FROM json_each(?))", (account_id, json.dumps(list(message_ids))))
    return {message_id: SpamMessageState(filed, trained) for message_id, filed, trained in rows}


def train(txn: Txn, account_id: int, message_id: int, tokens: Sequence[int], as_: str | None,
          max_tokens: int) -> bool:
    """Learn the message as ``as_`` (``spam``/``ham``; None: forget it), undoing what it was learned
    as before; False when it already was."""
    conn = txn.conn
    row = conn.execute("SELECT trained FROM spam_messages WHERE account_id = ? AND message_id = ?",
                       (account_id, message_id)).fetchone()
    before = row[0] if row is not None else None
    if before == as_:
        return False
    conn.execute("INSERT OR IGNORE INTO spam_totals (account_id) VALUES (?)", (account_id,))
    unique = sorted(set(tokens))
    if before is not None:
        _count(conn, account_id, unique, before, -1)
    if as_ is not None:
        _count(conn, account_id, unique, as_, 1)
    conn.execute("INSERT INTO spam_messages (account_id, message_id, trained) VALUES (?, ?, ?)"
                 " ON CONFLICT DO UPDATE SET trained = excluded.trained", (account_id, message_id, as_))
    _prune(conn, account_id, max_tokens)
    return True


def _count(conn: sqlite3.Connection, account_id: int, tokens: list[int], kind: str, step: int) -> None:
    column = "spam" if kind == "spam" else "ham"
    conn.execute(f"UPDATE spam_totals SET {column} = max(0, {column} + ?) WHERE account_id = ?", (step, account_id))
    if step > 0:
        conn.executemany(
            f"INSERT INTO spam_tokens (account_id, token, {column}) VALUES (?, ?, 1)"
            f" ON CONFLICT DO UPDATE SET {column} = {column} + 1", ((account_id, token) for token in tokens))
        return
    conn.executemany(f"UPDATE spam_tokens SET {column} = max(0, {column} - 1) WHERE account_id = ? AND token = ?",
                     ((account_id, token) for token in tokens))
    conn.execute("DELETE FROM spam_tokens WHERE account_id = ? AND spam = 0 AND ham = 0", (account_id,))


def _prune(conn: sqlite3.Connection, account_id: int, max_tokens: int) -> None:
    """Bounded size per user: past the budget, the tokens seen in the fewest messages go first."""
    count = conn.execute("SELECT count(*) FROM spam_tokens WHERE account_id = ?", (account_id,)).fetchone()[0]
    if count <= max_tokens:
        return
    excess = count - int(max_tokens * PRUNE_TO)
    conn.execute(
        "DELETE FROM spam_tokens WHERE account_id = ? AND token IN (SELECT token FROM spam_tokens"
        " WHERE account_id = ? ORDER BY spam + ham LIMIT ?)", (account_id, account_id, excess))


def mark_filed(txn: Txn, mailbox_id: int, uids: Sequence[int]) -> None:
    """The filter put these messages in Junk: no user said so, nothing to learn until one moves them."""
    txn.conn.execute(
        "INSERT INTO spam_messages (account_id, message_id, filed)"
        " SELECT mb.account_id, mm.message_id, 'spam'"
        " FROM mailbox_messages mm JOIN mailboxes mb ON mb.id = mm.mailbox_id"
        " WHERE mm.mailbox_id = ? AND mm.uid IN (SELECT value FROM json_each(?))"
        " ON CONFLICT DO UPDATE SET filed = 'spam'", (mailbox_id, json.dumps(list(uids))))


def forget_account(txn: Txn, account_id: int) -> None:
    for table in ("spam_tokens", "spam_totals", "spam_messages", "sender_rules", "sending_events", "sending_policies"):
        txn.conn.execute(f"DELETE FROM {table} WHERE account_id = ?", (account_id,))


def forget_gone_messages(txn: Txn) -> int:
    """Ledger rows of messages no longer stored (the maintenance job)."""
    return txn.conn.execute(
        "DELETE FROM spam_messages WHERE message_id NOT IN (SELECT id FROM messages)").rowcount


def cursor(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row is not None else 0


def set_cursor(txn: Txn, name: str, value: int) -> None:
    txn.conn.execute("INSERT INTO counters (name, value) VALUES (?, ?)"
                     " ON CONFLICT DO UPDATE SET value = excluded.value", (name, value))
