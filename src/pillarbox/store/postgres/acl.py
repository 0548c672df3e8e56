"""Access control lists (RFC 4314) and URLAUTH keys (RFC 4467) on PostgreSQL, the same rules as
``sqlite/acl.py`` and ``SQLiteStore.urlauth_key``; rows go with their mailbox or grantee (schema triggers).
``SharingTables`` is the METADATA/ACL/URLAUTH part of ``PostgresStore``."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from pillarbox.address import normalize_address
from pillarbox.store.postgres import metadata
from pillarbox.store.postgres.mailboxes import mailbox_from_row
from pillarbox.store.records import SharedMailbox

_SHARED_COLUMNS = (  # mailbox_from_row's order; "subscribed" is the grantee's business (false here)
    "m.id, m.account_id, m.name, m.uidvalidity, m.uidnext, m.highestmodseq, m.special_use, false,"
    " m.message_count, m.unseen_count, m.total_size, m.deleted_count, m.recent_uid"
)


async def get_acl(conn: asyncpg.Connection, mailbox_id: int) -> dict[str, str]:
    rows = await conn.fetch(
        'SELECT identifier, rights FROM acl WHERE mailbox_id = $1 ORDER BY identifier COLLATE "C"', mailbox_id)
    return {identifier: rights for identifier, rights in rows}


async def set_acl(conn: asyncpg.Connection, mailbox_id: int, identifier: str, rights: str | None) -> None:
    if rights:
        await conn.execute(
            "INSERT INTO acl (mailbox_id, identifier, rights) VALUES ($1, $2, $3)"
            " ON CONFLICT (mailbox_id, identifier) DO UPDATE SET rights = excluded.rights",
            mailbox_id, identifier, rights)
    else:
        await conn.execute("DELETE FROM acl WHERE mailbox_id = $1 AND identifier = $2", mailbox_id, identifier)


async def shared_with(conn: asyncpg.Connection, address: str) -> list[SharedMailbox]:
    """The mailboxes of other accounts of ``address``'s domain that grant it (or anyone) some right."""
    rows = await conn.fetch(
        f"SELECT owner.address, string_agg(acl.rights, ''), {_SHARED_COLUMNS} FROM acl"
        " JOIN mailboxes m ON m.id = acl.mailbox_id JOIN accounts owner ON owner.id = m.account_id"
        " JOIN accounts me ON me.address = $1 AND me.domain_id = owner.domain_id AND me.id <> owner.id"
        " WHERE acl.identifier IN (me.address, 'anyone') GROUP BY owner.address, m.id"
        ' ORDER BY owner.address COLLATE "C", m.name COLLATE "C"', address)
    return [SharedMailbox(row[0], mailbox_from_row(row[2:]), "".join(sorted(set(row[1])))) for row in rows]


async def urlauth_key(conn: asyncpg.Connection, mailbox_id: int, reset: bool) -> bytes:
    """The mailbox's key, made on first use; ``reset`` replaces it (URLs made with the old one stop working).
    Two nodes making the first key at once agree: the later insert keeps the earlier key."""
    if not reset:
        found = await conn.fetchval("SELECT key FROM urlauth_keys WHERE mailbox_id = $1", mailbox_id)
        if found is not None:
            return bytes(found)
    update = "excluded.key" if reset else "urlauth_keys.key"
    key = await conn.fetchval(
        "INSERT INTO urlauth_keys (mailbox_id, key) VALUES ($1, $2)"
        f" ON CONFLICT (mailbox_id) DO UPDATE SET key = {update} RETURNING key", mailbox_id, secrets.token_bytes(32))
    return bytes(key)


class SharingTables:
    """METADATA (RFC 5464), ACLs (RFC 4314) and URLAUTH keys (RFC 4467) of ``PostgresStore``."""

    _read: Callable[..., Awaitable[Any]]
    _write: Callable[..., Awaitable[Any]]

    async def list_metadata(self, account_id: int, mailbox_id: int | None) -> dict[str, bytes]:
        return await self._read(lambda c: metadata.list_metadata(c, account_id, mailbox_id or 0))

    async def set_metadata(
        self, account_id: int, mailbox_id: int | None, changes: Sequence[tuple[str, bytes | None]], max_entries: int
    ) -> None:
        await self._write(lambda c: metadata.set_metadata(c, account_id, mailbox_id or 0, changes, max_entries))

    async def account_metadata(self, account_id: int) -> dict[int, dict[str, bytes]]:
        return await self._read(lambda c: metadata.account_metadata(c, account_id), snapshot=True)

    async def get_acl(self, mailbox_id: int) -> dict[str, str]:
        return await self._read(lambda c: get_acl(c, mailbox_id))

    async def set_acl(self, mailbox_id: int, identifier: str, rights: str | None) -> None:
        await self._write(lambda c: set_acl(c, mailbox_id, identifier, rights))

    async def shared_with(self, address: str) -> list[SharedMailbox]:
        address = normalize_address(address)
        return await self._read(lambda c: shared_with(c, address))

    async def urlauth_key(self, mailbox_id: int, reset: bool = False) -> bytes:
        return await self._write(lambda c: urlauth_key(c, mailbox_id, reset))
