"""Domains, accounts and aliases on PostgreSQL (the SQL behind the directory half of the interface).

Functions take a connection (inside the caller's transaction for writes) and already-normalised names.
Creating an account creates its default folders in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from pillarbox.errors import AlreadyExists, NotFound, StoreError
from pillarbox.store.names import to_datetime
from pillarbox.store.postgres.mailboxes import insert_mailbox
from pillarbox.store.records import SPECIAL_USE_FOLDERS, Account, Alias, Credentials, Domain

_ACCOUNT_COLUMNS = (
    "a.id, a.address, d.name, a.quota_bytes, a.quota_messages, a.created, a.pop3_delete_after_days, a.admin"
)


async def add_domain(conn: asyncpg.Connection, name: str, now: int) -> Domain:
    inserted = await conn.fetchval(
        "INSERT INTO domains (name, created) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id", name, now)
    if inserted is None:
        raise AlreadyExists(f"domain {name} exists already")
    return Domain(name, to_datetime(now))


async def list_domains(conn: asyncpg.Connection) -> list[Domain]:
    rows = await conn.fetch('SELECT name, created FROM domains ORDER BY name COLLATE "C"')
    return [Domain(name, to_datetime(created)) for name, created in rows]


async def domain_id(conn: asyncpg.Connection, name: str) -> int | None:
    found = await conn.fetchval("SELECT id FROM domains WHERE name = $1", name)
    return int(found) if found is not None else None


async def delete_domain(conn: asyncpg.Connection, name: str) -> None:
    found = await domain_id(conn, name)
    if found is None:
        raise NotFound(f"no domain {name}")
    users = await conn.fetchval("SELECT count(*) FROM accounts WHERE domain_id = $1", found)
    if users:
        raise StoreError(f"domain {name} still has {users} user(s); delete them first")
    await conn.execute("DELETE FROM alias_targets WHERE alias LIKE $1", "%@" + _like(name))
    await conn.execute("DELETE FROM domains WHERE id = $1", found)


async def add_account(
    conn: asyncpg.Connection, address: str, password_hash: str, scram: str | None, now: int, first_uidvalidity: int
) -> Account:
    domain = address.rpartition("@")[2]
    found = await domain_id(conn, domain)
    if found is None:
        raise NotFound(f"no domain {domain}; add it first with: pillarbox domain add {domain}")
    if await alias_targets(conn, address):
        raise AlreadyExists(f"{address} is an alias")
    account_id = await conn.fetchval(
        "INSERT INTO accounts (address, domain_id, password_hash, scram_sha256, created) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (address) DO NOTHING RETURNING id", address, found, password_hash, scram, now)
    if account_id is None:
        raise AlreadyExists(f"user {address} exists already")
    for offset, (name, special_use) in enumerate(SPECIAL_USE_FOLDERS):
        await insert_mailbox(conn, account_id, name, special_use, first_uidvalidity + offset, subscribe=True)
    return Account(account_id, address, domain, None, None, to_datetime(now))


async def get_account(conn: asyncpg.Connection, address: str) -> Account | None:
    row = await conn.fetchrow(
        f"SELECT {_ACCOUNT_COLUMNS} FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE a.address = $1",
        address)
    return _account(row) if row else None


async def list_accounts(conn: asyncpg.Connection) -> list[Account]:
    rows = await conn.fetch(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts a JOIN domains d ON d.id = a.domain_id"
                            ' ORDER BY a.address COLLATE "C"')
    return [_account(row) for row in rows]


def _account(row: asyncpg.Record) -> Account:
    return Account(row[0], row[1], row[2], row[3], row[4], to_datetime(row[5]), row[6], row[7])


async def require_account_id(conn: asyncpg.Connection, address: str) -> int:
    found = await conn.fetchval("SELECT id FROM accounts WHERE address = $1", address)
    if found is None:
        raise NotFound(f"no user {address}")
    return int(found)


async def get_credentials(conn: asyncpg.Connection, address: str) -> Credentials | None:
    row = await conn.fetchrow(
        "SELECT id, address, password_hash, scram_sha256 FROM accounts WHERE address = $1", address)
    return Credentials(*row) if row else None


async def update_account(conn: asyncpg.Connection, address: str, assignments: str, *values: object) -> None:
    """``UPDATE accounts SET <assignments>`` ($2, $3... are ``values``) for an existing account."""
    status = await conn.execute(f"UPDATE accounts SET {assignments} WHERE address = $1", address, *values)
    if status == "UPDATE 0":
        raise NotFound(f"no user {address}")


async def account_usage(conn: asyncpg.Connection, account_id: int) -> tuple[int, int]:
    row = await conn.fetchrow(
        "SELECT coalesce(sum(total_size), 0), coalesce(sum(message_count), 0) FROM mailboxes WHERE account_id = $1",
        account_id)
    return int(row[0]), int(row[1])


async def add_alias(conn: asyncpg.Connection, address: str, targets: Sequence[str], replace: bool = False) -> Alias:
    """``replace``: an existing alias of that address gets these targets instead."""
    domain = address.rpartition("@")[2]
    if await domain_id(conn, domain) is None:
        raise NotFound(f"no domain {domain}; add it first with: pillarbox domain add {domain}")
    if replace:
        await conn.execute("DELETE FROM alias_targets WHERE alias = $1", address)
    elif await alias_targets(conn, address):
        raise AlreadyExists(f"alias {address} exists already")
    if await conn.fetchval("SELECT 1 FROM accounts WHERE address = $1", address):
        raise AlreadyExists(f"{address} is a user")
    try:
        await conn.executemany("INSERT INTO alias_targets (alias, position, target) VALUES ($1, $2, $3)",
                               [(address, position, target) for position, target in enumerate(targets)])
    except asyncpg.UniqueViolationError:  # added by another node meanwhile
        raise AlreadyExists(f"alias {address} exists already") from None
    return Alias(address, tuple(targets))


async def alias_targets(conn: asyncpg.Connection, address: str) -> tuple[str, ...]:
    rows = await conn.fetch("SELECT target FROM alias_targets WHERE alias = $1 ORDER BY position", address)
    return tuple(row[0] for row in rows)


async def list_aliases(conn: asyncpg.Connection) -> list[Alias]:
    grouped: dict[str, list[str]] = {}
    rows = await conn.fetch('SELECT alias, target FROM alias_targets ORDER BY alias COLLATE "C", position')
    for alias, target in rows:
        grouped.setdefault(alias, []).append(target)
    return [Alias(alias, tuple(targets)) for alias, targets in grouped.items()]


async def delete_alias(conn: asyncpg.Connection, address: str) -> None:
    if await conn.execute("DELETE FROM alias_targets WHERE alias = $1", address) == "DELETE 0":
        raise NotFound(f"no alias {address}")


async def delete_account(conn: asyncpg.Connection, account_id: int) -> None:
    await conn.execute("DELETE FROM subscriptions WHERE account_id = $1", account_id)
    await conn.execute("DELETE FROM accounts WHERE id = $1", account_id)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
