"""The outbound queue table: what delivery writes for remote recipients (the runner reads it later)."""

from __future__ import annotations

from pillarbox.store.records import OutboundRequest
from pillarbox.store.sqlite.writer import Txn


def enqueue(txn: Txn, message_id: int, request: OutboundRequest, now: int) -> int:
    cur = txn.conn.execute(
        "INSERT INTO queue (message_id, sender, envid, ret, body, smtputf8, auth_user, created)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (message_id, request.sender, request.envid, request.ret, request.body, int(request.smtputf8),
         request.auth_user, now),
    )
    queue_id = cur.lastrowid
    assert queue_id is not None
    txn.conn.executemany(
        "INSERT INTO queue_recipients (queue_id, position, address, orcpt, notify, next_attempt)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(queue_id, n, r.address, r.orcpt, ",".join(r.notify), now) for n, r in enumerate(request.recipients)],
    )
    txn.conn.execute("UPDATE messages SET refs = refs + 1 WHERE id = ?", (message_id,))
    return queue_id
