"""The outbound queue table: what delivery writes for remote recipients (the runner reads it later)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from pillarbox.store.records import (
    CachedPolicy,
    DKIMKey,
    OutboundRequest,
    QueuedMessage,
    QueuedRecipient,
    QueueSummary,
    RecipientUpdate,
)
from pillarbox.store.sqlite import messages
from pillarbox.store.sqlite.writer import Txn


def enqueue(txn: Txn, message_id: int, request: OutboundRequest, now: int) -> str:
    """Queue ``request``; returns its queue id. The rowid is this module's own business: every
    function here takes and gives the queue id (``OutboundRequest.queue_id``). A held message
    (FUTURERELEASE) is created at its release: first attempt, delay notices and expiry count from there."""
    start = max(now, request.release_at or now)
    cur = txn.conn.execute(
        "INSERT INTO queue (public_id, message_id, sender, envid, ret, body, smtputf8, auth_user, created,"
        " requiretls, priority, deliver_by, by_mode) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (request.queue_id, message_id, request.sender, request.envid, request.ret, request.body,
         int(request.smtputf8), request.auth_user, start, int(request.requiretls), request.priority,
         request.deliver_by, request.by_mode),
    )
    rowid = cur.lastrowid
    assert rowid is not None
    txn.conn.executemany(
        "INSERT INTO queue_recipients (queue_id, position, address, orcpt, notify, next_attempt)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(rowid, n, r.address, r.orcpt, ",".join(r.notify), start) for n, r in enumerate(request.recipients)],
    )
    txn.conn.execute("UPDATE messages SET refs = refs + 1 WHERE id = ?", (message_id,))
    return request.queue_id


def _rowid(conn: sqlite3.Connection, queue_id: str) -> int | None:
    row = conn.execute("SELECT id FROM queue WHERE public_id = ?", (queue_id,)).fetchone()
    return row[0] if row else None


# ------------------------------------------------------------------------------- the runner's side
# A queue entry is leased (owner, until) by the runner that works on it; another runner skips it
# until the lease ends. A recipient's 250 is written before the runner does anything else, so a
# crash after it can never send that recipient the message again.

_MESSAGE_COLUMNS = (
    "public_id, message_id, sender, envid, ret, body, smtputf8, auth_user, held, created, lease_owner, lease_until,"
    " requiretls, priority, deliver_by, by_mode"
)
_RECIPIENT_COLUMNS = (
    "position, address, orcpt, notify, state, attempts, next_attempt, last_error, status, remote_mta, reported"
)


def lease_due(txn: Txn, owner: str, now: int, until: int, limit: int) -> list[QueuedMessage]:
    """Lease up to ``limit`` entries with a pending recipient due, or with none pending (DSNs, removal)."""
    rows = txn.conn.execute(
        "SELECT q.id FROM queue q WHERE q.held = 0 AND q.lease_until <= ? AND (EXISTS ("
        " SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND r.state = 'pending' AND r.next_attempt <= ?)"
        " OR NOT EXISTS (SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND r.state = 'pending'))"
        " ORDER BY q.priority DESC, q.id LIMIT ?",
        (now, now, limit),
    ).fetchall()
    rowids = [row[0] for row in rows]
    txn.conn.executemany("UPDATE queue SET lease_owner = ?, lease_until = ? WHERE id = ?",
                         [(owner, until, rowid) for rowid in rowids])
    return [entry for entry in (_entry(txn.conn, rowid) for rowid in rowids) if entry is not None]


def next_due(conn: sqlite3.Connection) -> int | None:
    """When the earliest pending recipient of an entry that is not held is due (for the runner's sleep)."""
    row = conn.execute(
        "SELECT min(max(r.next_attempt, q.lease_until)) FROM queue_recipients r JOIN queue q ON q.id = r.queue_id"
        " WHERE q.held = 0 AND r.state = 'pending'"
    ).fetchone()
    return row[0] if row else None


def reclaim_leases(txn: Txn, owner: str) -> int:
    """Leases a previous run of this node left behind (a crash, SIGKILL): free them at start."""
    return txn.conn.execute(
        "UPDATE queue SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ?", (owner,)
    ).rowcount


def release_lease(txn: Txn, queue_id: str, owner: str) -> None:
    txn.conn.execute(
        "UPDATE queue SET lease_owner = NULL, lease_until = 0 WHERE public_id = ? AND lease_owner = ?",
        (queue_id, owner),
    )


def update_recipients(txn: Txn, queue_id: str, updates: Sequence[RecipientUpdate], now: int) -> None:
    rowid = _rowid(txn.conn, queue_id)
    txn.conn.executemany(
        "UPDATE queue_recipients SET state = ?, next_attempt = ?, last_error = ?, status = ?,"
        " remote_mta = coalesce(?, remote_mta), attempts = attempts + ?, updated = ?"
        " WHERE queue_id = ? AND position = ?",
        [(u.state, u.next_attempt, u.last_error, u.status, u.remote_mta, int(u.counts), now, rowid, u.position)
         for u in updates],
    )


def mark_reported(txn: Txn, queue_id: str, positions: Sequence[int], action: str) -> None:
    rowid = _rowid(txn.conn, queue_id)
    txn.conn.executemany(
        "UPDATE queue_recipients SET reported = CASE WHEN reported = '' THEN ? ELSE reported || ',' || ? END"
        " WHERE queue_id = ? AND position = ?",
        [(action, action, rowid, p) for p in positions],
    )


def delete_entry(txn: Txn, queue_id: str) -> bool:
    row = txn.conn.execute("SELECT id, message_id FROM queue WHERE public_id = ?", (queue_id,)).fetchone()
    if row is None:
        return False
    rowid, message_id = row
    txn.conn.execute("DELETE FROM queue_recipients WHERE queue_id = ?", (rowid,))
    txn.conn.execute("DELETE FROM queue WHERE id = ?", (rowid,))
    messages.release_message(txn, message_id)
    return True


def get_entry(conn: sqlite3.Connection, queue_id: str) -> QueuedMessage | None:
    rowid = _rowid(conn, queue_id)
    return _entry(conn, rowid) if rowid is not None else None


def _entry(conn: sqlite3.Connection, rowid: int) -> QueuedMessage | None:
    row = conn.execute(f"SELECT {_MESSAGE_COLUMNS} FROM queue WHERE id = ?", (rowid,)).fetchone()
    if row is None:
        return None
    recipients = conn.execute(
        f"SELECT {_RECIPIENT_COLUMNS} FROM queue_recipients WHERE queue_id = ? ORDER BY position", (rowid,)
    ).fetchall()
    return _message(row, recipients)


def list_entries(conn: sqlite3.Connection) -> list[QueuedMessage]:
    rowids = [row[0] for row in conn.execute("SELECT id FROM queue ORDER BY id")]
    return [entry for entry in (_entry(conn, rowid) for rowid in rowids) if entry is not None]


def summary(conn: sqlite3.Connection) -> QueueSummary:
    rows = conn.execute("SELECT CASE WHEN q.held THEN 'held' ELSE r.state END AS s, count(*) FROM queue_recipients r"
                        " JOIN queue q ON q.id = r.queue_id GROUP BY s").fetchall()
    entries, oldest = conn.execute("SELECT count(*), min(created) FROM queue").fetchone()
    return QueueSummary(entries, dict(rows), oldest)


def retry_now(txn: Txn, queue_ids: Sequence[str] | None, now: int) -> int:
    """Make pending recipients due now (all entries when ``queue_ids`` is None); returns how many."""
    if queue_ids is None:
        return txn.conn.execute(
            "UPDATE queue_recipients SET next_attempt = ? WHERE state = 'pending'", (now,)).rowcount
    return sum(txn.conn.execute(
        "UPDATE queue_recipients SET next_attempt = ? WHERE state = 'pending'"
        " AND queue_id = (SELECT id FROM queue WHERE public_id = ?)", (now, queue_id)
    ).rowcount for queue_id in queue_ids)


def set_held(txn: Txn, queue_id: str, held: bool) -> bool:
    return txn.conn.execute("UPDATE queue SET held = ? WHERE public_id = ?", (int(held), queue_id)).rowcount > 0


def _message(row: tuple, recipients: list[tuple]) -> QueuedMessage:  # type: ignore[type-arg]
    (queue_id, message_id, sender, envid, ret, body, smtputf8, auth_user, held, created, owner, until,
     requiretls, priority, deliver_by, by_mode) = row
    return QueuedMessage(
        queue_id, message_id, sender, envid, ret, body, bool(smtputf8), auth_user, bool(held), created,
        tuple(_recipient(r) for r in recipients), owner, until, bool(requiretls), priority,
        deliver_by, by_mode,
    )


def _recipient(row: tuple) -> QueuedRecipient:  # type: ignore[type-arg]
    position, address, orcpt, notify, state, attempts, next_attempt, last_error, status, remote_mta, reported = row
    return QueuedRecipient(
        position, address, orcpt, tuple(n for n in notify.split(",") if n), state, attempts, next_attempt,
        last_error, status, remote_mta, tuple(a for a in reported.split(",") if a),
    )


# ------------------------------------------------------------------------ DKIM keys, MTA-STS, TLS-RPT


def add_dkim_key(txn: Txn, key: DKIMKey) -> None:
    txn.conn.execute(
        "INSERT INTO dkim_keys (domain, selector, algorithm, private_key, public_key, active, created)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (key.domain, key.selector, key.algorithm, key.private_key, key.public_key, int(key.active), key.created),
    )


def retire_dkim_keys(txn: Txn, domain: str) -> int:
    return txn.conn.execute("UPDATE dkim_keys SET active = 0 WHERE domain = ? AND active = 1", (domain,)).rowcount


def dkim_keys(conn: sqlite3.Connection, domain: str, active_only: bool) -> list[DKIMKey]:
    where = " AND active = 1" if active_only else ""
    rows = conn.execute(
        "SELECT domain, selector, algorithm, private_key, public_key, active, created FROM dkim_keys"
        f" WHERE domain = ?{where} ORDER BY created, selector", (domain,),
    ).fetchall()
    return [DKIMKey(d, s, a, priv, pub, bool(active), created) for d, s, a, priv, pub, active, created in rows]


def put_policy(txn: Txn, policy: CachedPolicy) -> None:
    txn.conn.execute(
        "INSERT OR REPLACE INTO mtasts_policies (domain, policy_id, policy, fetched, expires) VALUES (?, ?, ?, ?, ?)",
        (policy.domain, policy.policy_id, policy.policy, policy.fetched, policy.expires),
    )


def get_policy(conn: sqlite3.Connection, domain: str) -> CachedPolicy | None:
    row = conn.execute(
        "SELECT domain, policy_id, policy, fetched, expires FROM mtasts_policies WHERE domain = ?", (domain,)
    ).fetchone()
    return CachedPolicy(*row) if row else None


def count_tls_result(txn: Txn, policy_domain: str, day: str, policy_type: str, mx_host: str, result: str) -> None:
    txn.conn.execute(
        "INSERT INTO tls_results (policy_domain, day, policy_type, mx_host, result, count) VALUES (?, ?, ?, ?, ?, 1)"
        " ON CONFLICT DO UPDATE SET count = count + 1",
        (policy_domain, day, policy_type, mx_host, result),
    )


def tls_results(conn: sqlite3.Connection, day: str | None) -> list[tuple[str, str, str, str, str, int]]:
    sql = "SELECT policy_domain, day, policy_type, mx_host, result, count FROM tls_results"
    rows = conn.execute(sql + " WHERE day = ? ORDER BY 1, 3, 4, 5", (day,)) if day else conn.execute(
        sql + " ORDER BY 2, 1, 3, 4, 5")
    return [tuple(r) for r in rows]  # type: ignore[misc]
