"""``store.api.Store``'s domains, accounts, aliases and sender grants on PostgreSQL. A mixin of
``PostgresStore`` (which provides ``_read``/``_write``, the clock and the change feed); every write here
moves the directory version (``_directory_write``), on this node at once and on the others by NOTIFY."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from pillarbox.address import mailbox_address, normalize_address, normalize_domain
from pillarbox.errors import StoreError
from pillarbox.store.names import normalize_alias
from pillarbox.store.postgres import directory, grants, mailboxes, messages, sieve, spam
from pillarbox.store.postgres.feed import NotifyChangeFeed
from pillarbox.store.records import Account, Alias, Credentials, Domain, SenderGrant

Conn = asyncpg.Connection


class DirectoryMethods:
    """Mixed into ``PostgresStore``: it supplies ``_read``, ``_write``, ``_directory_write`` and the clock."""

    _read: Callable[..., Awaitable[Any]]
    _write: Callable[..., Awaitable[Any]]
    _seconds: Callable[[], int]
    _directory_write: Callable[..., Awaitable[Any]]
    changes: NotifyChangeFeed

    # domains, accounts, aliases
    async def add_domain(self, name: str) -> Domain:
        name, now = normalize_domain(name), self._seconds()
        return await self._directory_write(lambda c: directory.add_domain(c, name, now))

    async def list_domains(self) -> list[Domain]:
        return await self._read(directory.list_domains)

    async def delete_domain(self, name: str) -> None:
        name = normalize_domain(name)
        await self._directory_write(lambda c: directory.delete_domain(c, name))

    def directory_version(self) -> int:
        """Moves whenever domains, accounts or aliases change on any node (heard by LISTEN)."""
        return self.changes.directory_version()

    async def has_domain(self, name: str) -> bool:
        name = normalize_domain(name)
        return await self._read(lambda c: directory.domain_id(c, name)) is not None

    async def add_account(self, address: str, password_hash: str, scram_sha256: str | None) -> Account:
        address, now = mailbox_address(address), self._seconds()  # a new address: RFC 5321 Mailbox

        async def add(conn: Conn) -> Account:
            first = await mailboxes.next_uidvalidity(conn, now, count=6)
            return await directory.add_account(conn, address, password_hash, scram_sha256, now, first)
        return await self._directory_write(add)

    async def get_account(self, address: str) -> Account | None:
        address = normalize_address(address)
        return await self._read(lambda c: directory.get_account(c, address))

    async def list_accounts(self) -> list[Account]:
        return await self._read(directory.list_accounts)

    async def delete_account(self, address: str) -> None:
        address = normalize_address(address)

        async def delete(conn: Conn) -> None:
            account_id = await directory.require_account_id(conn, address)
            for mailbox in await mailboxes.list_mailboxes(conn, account_id):
                await messages.drop_mailbox_messages(conn, mailbox.id)
                await mailboxes.remove_mailbox_row(conn, mailbox.id)
            await grants.delete_account_grants(conn, account_id)
            await spam.forget_account(conn, account_id)
            await sieve.delete_account_rows(conn, account_id)
            await directory.delete_account(conn, account_id)
        await self._directory_write(delete)

    async def set_password(self, address: str, password_hash: str, scram_sha256: str | None) -> None:
        address = normalize_address(address)
        await self._directory_write(lambda c: directory.update_account(
            c, address, "password_hash = $2, scram_sha256 = $3", password_hash, scram_sha256))

    async def replace_credentials(
        self, address: str, old_hash: str, password_hash: str, scram_sha256: str | None
    ) -> bool:
        """Compare-and-set: False, and nothing changed, when the stored hash is no longer ``old_hash``."""
        address = normalize_address(address)
        status = await self._directory_write(lambda c: c.execute(
            "UPDATE accounts SET password_hash = $3, scram_sha256 = $4 WHERE address = $1 AND password_hash = $2",
            address, old_hash, password_hash, scram_sha256))
        return status == "UPDATE 1"

    async def set_quota(self, address: str, quota_bytes: int | None, quota_messages: int | None) -> None:
        address = normalize_address(address)
        await self._directory_write(lambda c: directory.update_account(
            c, address, "quota_bytes = $2, quota_messages = $3", quota_bytes, quota_messages))

    async def set_admin(self, address: str, admin: bool) -> None:
        address = normalize_address(address)
        await self._directory_write(lambda c: directory.update_account(c, address, "admin = $2", admin))

    async def set_pop3_policy(self, address: str, delete_after_days: int | None) -> None:
        address = normalize_address(address)
        await self._directory_write(lambda c: directory.update_account(
            c, address, "pop3_delete_after_days = $2", delete_after_days))

    async def get_credentials(self, address: str) -> Credentials | None:
        address = normalize_address(address)
        return await self._read(lambda c: directory.get_credentials(c, address))

    async def account_usage(self, account_id: int) -> tuple[int, int]:
        return await self._read(lambda c: directory.account_usage(c, account_id))

    async def add_alias(self, address: str, targets: Sequence[str], replace: bool = False) -> Alias:
        address = normalize_alias(address, mailbox_address)
        normalized = [mailbox_address(t) for t in targets]
        if not normalized:
            raise StoreError("an alias needs at least one target")
        return await self._directory_write(lambda c: directory.add_alias(c, address, normalized, replace))

    async def get_alias(self, address: str) -> Alias | None:
        address = normalize_alias(address)
        targets = await self._read(lambda c: directory.alias_targets(c, address))
        return Alias(address, targets) if targets else None

    async def list_aliases(self) -> list[Alias]:
        return await self._read(directory.list_aliases)

    async def delete_alias(self, address: str) -> None:
        address = normalize_alias(address)
        await self._directory_write(lambda c: directory.delete_alias(c, address))

    # sender grants
    async def add_sender_grant(self, user: str, address: str) -> SenderGrant:
        user, address = normalize_address(user), normalize_alias(address, mailbox_address)
        return await self._directory_write(lambda c: grants.add(c, user, address))

    async def delete_sender_grant(self, user: str, address: str) -> None:
        user, address = normalize_address(user), normalize_alias(address)
        await self._directory_write(lambda c: grants.delete(c, user, address))

    async def sender_grants(self, user: str) -> tuple[str, ...]:
        user = normalize_address(user)
        return await self._read(lambda c: grants.of_account(c, user))

    async def list_sender_grants(self) -> list[SenderGrant]:
        return await self._read(grants.list_all)
