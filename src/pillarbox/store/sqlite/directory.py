"""Domains, accounts and aliases: the SQL behind the directory half of the store interface.

Functions here run inside the writer's transaction (``Txn``) or on a reader connection; they take
already-normalised names. Creating an account creates its default folders in the same transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from pillarbox.errors import AlreadyExists, NotFound, StoreError
from pillarbox.store.names import to_datetime
from pillarbox.store.records import SPECIAL_USE_FOLDERS, Account, Alias, Credentials, Domain
from pillarbox.store.sqlite.mailboxes import insert_mailbox
from pillarbox.store.sqlite.writer import Txn

_ACCOUNT_COLUMNS = (
    "a.id, a.address, d.name, a.quota_bytes, a.quota_messages, a.created, a.pop3_delete_after_days, a.admin"
)


def add_domain(txn: Txn, name: str, now: int) -> Domain:
    try:
        txn.conn.execute("INSERT INTO domains (name, created) VALUES (?, ?)", (name, now))
    except sqlite3.IntegrityError:
        raise AlreadyExists(f"domain {name} exists already") from None
    return Domain(name, to_datetime(now))


def list_domains(conn: sqlite3.Connection) -> list[Domain]:
    rows = conn.execute("SELECT name, created FROM domains ORDER BY name")
    return [Domain(name, to_datetime(created)) for name, created in rows]


def domain_id(conn: sqlite3.Connection, name: str) -> int | None:
    row = conn.execute("SELECT id FROM domains WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


def delete_domain(txn: Txn, name: str) -> None:
    found = domain_id(txn.conn, name)
    if found is None:
        raise NotFound(f"no domain {name}")
    users = txn.conn.execute("SELECT count(*) FROM accounts WHERE domain_id = ?", (found,)).fetchone()[0]
    if users:
        raise StoreError(f"domain {name} still has {users} user(s); delete them first")
    txn.conn.execute("DELETE FROM alias_targets WHERE alias LIKE ? ESCAPE '\\'", (f"%@{_like(name)}",))
    txn.conn.execute("DELETE FROM domains WHERE id = ?", (found,))


def add_account(
    txn: Txn, address: str, password_hash: str, scram: str | None, now: int, next_uidvalidity: int
) -> Account:
    domain = address.rpartition("@")[2]
    found = domain_id(txn.conn, domain)
    if found is None:
        raise NotFound(f"no domain {domain}; add it first with: pillarbox domain add {domain}")
    if alias_targets(txn.conn, address):
        raise AlreadyExists(f"{address} is an alias")
    try:
        cur = txn.conn.execute(
            "INSERT INTO accounts (address, domain_id, password_hash, scram_sha256, created)"
            " VALUES (?, ?, ?, ?, ?)",
            (address, found, password_hash, scram, now),
        )
    except sqlite3.IntegrityError:
        raise AlreadyExists(f"user {address} exists already") from None
    account_id = cur.lastrowid
    assert account_id is not None
    for offset, (name, special_use) in enumerate(SPECIAL_USE_FOLDERS):
        insert_mailbox(txn, account_id, name, special_use, next_uidvalidity + offset, subscribe=True)
    return Account(account_id, address, domain, None, None, to_datetime(now))


def get_account(conn: sqlite3.Connection, address: str) -> Account | None:
    row = conn.execute(
        f"SELECT {_ACCOUNT_COLUMNS} FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE a.address = ?",
        (address,),
    ).fetchone()
    return _account(row) if row else None


def list_accounts(conn: sqlite3.Connection) -> list[Account]:
    rows = conn.execute(
        f"SELECT {_ACCOUNT_COLUMNS} FROM accounts a JOIN domains d ON d.id = a.domain_id ORDER BY a.address"
    )
    return [_account(row) for row in rows]


def _account(row: tuple) -> Account:
    return Account(row[0], row[1], row[2], row[3], row[4], to_datetime(row[5]), row[6], bool(row[7]))


def require_account_id(conn: sqlite3.Connection, address: str) -> int:
    row = conn.execute("SELECT id FROM accounts WHERE address = ?", (address,)).fetchone()
    if row is None:
        raise NotFound(f"no user {address}")
    return int(row[0])


def get_credentials(conn: sqlite3.Connection, address: str) -> Credentials | None:
    row = conn.execute(
        "SELECT id, address, password_hash, scram_sha256 FROM accounts WHERE address = ?", (address,)
    ).fetchone()
    return Credentials(*row) if row else None


def set_password(txn: Txn, address: str, password_hash: str, scram: str | None) -> None:
    require_account_id(txn.conn, address)
    txn.conn.execute(
        "UPDATE accounts SET password_hash = ?, scram_sha256 = ? WHERE address = ?",
        (password_hash, scram, address),
    )


def replace_credentials(txn: Txn, address: str, old_hash: str, password_hash: str, scram: str | None) -> bool:
    cursor = txn.conn.execute(
        "UPDATE accounts SET password_hash = ?, scram_sha256 = ? WHERE address = ? AND password_hash = ?",
        (password_hash, scram, address, old_hash),
    )
    return cursor.rowcount == 1


def set_quota(txn: Txn, address: str, quota_bytes: int | None, quota_messages: int | None) -> None:
    require_account_id(txn.conn, address)
    txn.conn.execute(
        "UPDATE accounts SET quota_bytes = ?, quota_messages = ? WHERE address = ?",
        (quota_bytes, quota_messages, address),
    )


def set_admin(txn: Txn, address: str, admin: bool) -> None:
    require_account_id(txn.conn, address)
    txn.conn.execute("UPDATE accounts SET admin = ? WHERE address = ?", (int(admin), address))


def set_pop3_policy(txn: Txn, address: str, delete_after_days: int | None) -> None:
    require_account_id(txn.conn, address)
    txn.conn.execute(
        "UPDATE accounts SET pop3_delete_after_days = ? WHERE address = ?", (delete_after_days, address)
    )


def account_usage(conn: sqlite3.Connection, account_id: int) -> tuple[int, int]:
    row = conn.execute(
        "SELECT coalesce(sum(total_size), 0), coalesce(sum(message_count), 0)"
        " FROM mailboxes WHERE account_id = ?",
        (account_id,),
    ).fetchone()
    return int(row[0]), int(row[1])


def add_alias(txn: Txn, address: str, targets: Sequence[str], replace: bool = False) -> Alias:
    domain = address.rpartition("@")[2]
    if domain_id(txn.conn, domain) is None:
        raise NotFound(f"no domain {domain}; add it first with: pillarbox domain add {domain}")
    if replace:
        txn.conn.execute("DELETE FROM alias_targets WHERE alias = ?", (address,))
    elif alias_targets(txn.conn, address):
        raise AlreadyExists(f"alias {address} exists already")
    if txn.conn.execute("SELECT 1 FROM accounts WHERE address = ?", (address,)).fetchone():
        raise AlreadyExists(f"{address} is a user")
    txn.conn.executemany(
        "INSERT INTO alias_targets (alias, position, target) VALUES (?, ?, ?)",
        [(address, position, target) for position, target in enumerate(targets)],
    )
    return Alias(address, tuple(targets))


def alias_targets(conn: sqlite3.Connection, address: str) -> tuple[str, ...]:
    rows = conn.execute(
        "SELECT target FROM alias_targets WHERE alias = ? ORDER BY position", (address,)
    ).fetchall()
    return tuple(row[0] for row in rows)


def list_aliases(conn: sqlite3.Connection) -> list[Alias]:
    grouped: dict[str, list[str]] = {}
    for alias, target in conn.execute("SELECT alias, target FROM alias_targets ORDER BY alias, position"):
        grouped.setdefault(alias, []).append(target)
    return [Alias(alias, tuple(targets)) for alias, targets in grouped.items()]


def delete_alias(txn: Txn, address: str) -> None:
    if txn.conn.execute("DELETE FROM alias_targets WHERE alias = ?", (address,)).rowcount == 0:
        raise NotFound(f"no alias {address}")


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
