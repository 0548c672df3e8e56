"""Access control lists (RFC 4314) in SQLite: ``acl`` rows of (mailbox, identifier, rights)."""

from __future__ import annotations

import sqlite3

from pillarbox.store.records import SharedMailbox
from pillarbox.store.sqlite.mailboxes import mailbox_from_row
from pillarbox.store.sqlite.writer import Txn

_SHARED_COLUMNS = (  # mailboxes.mailbox_from_row's order; "subscribed" is the grantee's business (0 here)
    "m.id, m.account_id, m.name, m.uidvalidity, m.uidnext, m.highestmodseq, m.special_use, 0,"
    " m.message_count, m.unseen_count, m.total_size, m.deleted_count, m.recent_uid"
)


def get_acl(conn: sqlite3.Connection, mailbox_id: int) -> dict[str, str]:
    rows = conn.execute("SELECT identifier, rights FROM acl WHERE mailbox_id = ? ORDER BY identifier", (mailbox_id,))
    return dict(rows)


def set_acl(txn: Txn, mailbox_id: int, identifier: str, rights: str | None) -> None:
    if rights:
        txn.conn.execute("INSERT OR REPLACE INTO acl (mailbox_id, identifier, rights) VALUES (?, ?, ?)",
                         (mailbox_id, identifier, rights))
    else:
        txn.conn.execute("DELETE FROM acl WHERE mailbox_id = ? AND identifier = ?", (mailbox_id, identifier))


def shared_with(conn: sqlite3.Connection, address: str) -> list[SharedMailbox]:
    """The mailboxes of other accounts of ``address``'s domain that grant it (or anyone) some right."""
    rows = conn.execute(
        f"SELECT owner.address, group_concat(acl.rights, ''), {_SHARED_COLUMNS} FROM acl"
        " JOIN mailboxes m ON m.id = acl.mailbox_id JOIN accounts owner ON owner.id = m.account_id"
        " JOIN accounts me ON me.address = ? AND me.domain_id = owner.domain_id AND me.id != owner.id"
        " WHERE acl.identifier IN (me.address, 'anyone') GROUP BY m.id ORDER BY owner.address, m.name",
        (address,),
    )
    return [SharedMailbox(row[0], mailbox_from_row(row[2:]), "".join(sorted(set(row[1])))) for row in rows]
