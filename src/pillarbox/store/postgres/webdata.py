"""The web face's rows on PostgreSQL (``store/api.WebStore``): sessions, API tokens, app passwords, logins,
per-account settings, reports received from other domains, delivery outcomes. The same rules as
``sqlite/webdata.py`` (secrets arrive hashed; an account's rows go with it, here by ON DELETE CASCADE).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import asyncpg

from pillarbox.store.web_records import (
    ApiToken,
    AppPassword,
    DeliveryCount,
    LoginRecord,
    QueueSample,
    ReceivedReport,
    WebSession,
)

LOGIN_HISTORY_KEPT = 50
"""Logins kept per account (its account page shows them)."""

_ACCOUNT = "(SELECT id FROM accounts WHERE address = $1)"
_TOKENS = ("SELECT t.id, a.address, a.admin, t.name, t.created, t.last_used FROM api_tokens t"
           " JOIN accounts a ON a.id = t.account_id")
Conn = asyncpg.Connection


class WebData:
    """Mixed into ``PostgresStore``: it supplies ``_read``, ``_write`` and the clock."""

    _read: Callable[..., Awaitable[Any]]
    _write: Callable[..., Awaitable[Any]]
    _clock: Callable[[], float]

    def _fetch(self, query: str, *args: Any) -> Awaitable[list[asyncpg.Record]]:
        return self._read(lambda c: c.fetch(query, *args))

    def _execute(self, query: str, *args: Any) -> Awaitable[str]:
        return self._write(lambda c: c.execute(query, *args))

    # sessions --------------------------------------------------------------------------------------
    async def add_web_session(self, id_hash: str, address: str, csrf: str, ip: str, lifetime: float) -> None:
        now = self._clock()

        async def add(conn: Conn) -> None:
            await conn.execute("DELETE FROM web_sessions WHERE expires < $1", now)
            await conn.execute(f"INSERT INTO web_sessions VALUES ($2, {_ACCOUNT}, $3, $4, $5, $5, $6)",
                               address, id_hash, csrf, ip, now, now + lifetime)

        await self._write(add)

    async def get_web_session(self, id_hash: str) -> WebSession | None:
        rows = await self._fetch(
            "SELECT s.account_id, a.address, a.admin, s.csrf, s.ip, s.created, s.last_seen, s.expires"
            " FROM web_sessions s JOIN accounts a ON a.id = s.account_id WHERE s.id_hash = $1", id_hash)
        return WebSession(*rows[0]) if rows else None

    async def touch_web_session(self, id_hash: str) -> None:
        await self._execute("UPDATE web_sessions SET last_seen = $1 WHERE id_hash = $2", self._clock(), id_hash)

    async def delete_web_session(self, id_hash: str) -> None:
        await self._execute("DELETE FROM web_sessions WHERE id_hash = $1", id_hash)

    # API tokens ------------------------------------------------------------------------------------
    async def add_api_token(self, address: str, name: str, token_hash: str) -> int:
        return int(await self._write(lambda c: c.fetchval(
            f"INSERT INTO api_tokens (account_id, name, token_hash, created) VALUES ({_ACCOUNT}, $2, $3, $4)"
            " RETURNING id", address, name, token_hash, self._clock())))

    async def api_tokens(self, address: str | None = None) -> list[ApiToken]:
        if address is None:
            rows = await self._fetch(_TOKENS + " ORDER BY t.id")
        else:
            rows = await self._fetch(_TOKENS + " WHERE a.address = $1 ORDER BY t.id", address)
        return [ApiToken(*r) for r in rows]

    async def find_api_token(self, token_hash: str) -> ApiToken | None:
        rows = await self._write(lambda c: c.fetch(
            "WITH used AS (UPDATE api_tokens SET last_used = $2 WHERE token_hash = $1 RETURNING id)"
            f" {_TOKENS} WHERE t.id IN (SELECT id FROM used)", token_hash, self._clock()))
        return ApiToken(*rows[0]) if rows else None

    async def delete_api_token(self, token_id: int) -> bool:
        return await self._execute("DELETE FROM api_tokens WHERE id = $1", token_id) != "DELETE 0"

    # app passwords ---------------------------------------------------------------------------------
    async def add_app_password(self, address: str, name: str, password_hash: str) -> int:
        return int(await self._write(lambda c: c.fetchval(
            f"INSERT INTO app_passwords (account_id, name, password_hash, created) VALUES ({_ACCOUNT}, $2, $3, $4)"
            " RETURNING id", address, name, password_hash, self._clock())))

    async def app_passwords(self, address: str) -> list[AppPassword]:
        rows = await self._fetch(f"SELECT id, name, created, last_used FROM app_passwords"
                                 f" WHERE account_id = {_ACCOUNT} ORDER BY id", address)
        return [AppPassword(*r) for r in rows]

    async def use_app_password(self, address: str, password_hash: str) -> bool:
        """True (and its last use noted) when ``password_hash`` is one of the account's app passwords."""
        status = await self._execute(
            f"UPDATE app_passwords SET last_used = $3 WHERE password_hash = $2 AND account_id = {_ACCOUNT}",
            address, password_hash, self._clock())
        return status != "UPDATE 0"

    async def delete_app_password(self, address: str, password_id: int) -> bool:
        status = await self._execute(f"DELETE FROM app_passwords WHERE id = $2 AND account_id = {_ACCOUNT}",
                                     address, password_id)
        return status != "DELETE 0"

    # logins and settings ---------------------------------------------------------------------------
    async def record_login(self, address: str, protocol: str, ip: str) -> None:
        now = self._clock()

        async def add(conn: Conn) -> None:
            account_id = await conn.fetchval("SELECT id FROM accounts WHERE address = $1", address)
            if account_id is None:
                return
            await conn.execute("INSERT INTO login_history VALUES ($1, $2, $3, $4)", account_id, protocol, ip, now)
            await conn.execute(
                "DELETE FROM login_history WHERE account_id = $1 AND at < (SELECT at FROM login_history"
                " WHERE account_id = $1 ORDER BY at DESC LIMIT 1 OFFSET $2)", account_id, LOGIN_HISTORY_KEPT - 1)

        await self._write(add)

    async def recent_logins(self, address: str) -> list[LoginRecord]:
        rows = await self._fetch(f"SELECT protocol, ip, at FROM login_history WHERE account_id = {_ACCOUNT}"
                                 " ORDER BY at DESC", address)
        return [LoginRecord(*r) for r in rows]

    async def account_settings(self, address: str) -> dict[str, Any]:
        rows = await self._fetch(f"SELECT name, value FROM account_settings WHERE account_id = {_ACCOUNT}", address)
        return {name: json.loads(value) for name, value in rows}

    async def set_account_setting(self, address: str, name: str, value: Any) -> None:
        """``value`` None removes the setting."""

        async def put(conn: Conn) -> None:
            await conn.execute(f"DELETE FROM account_settings WHERE account_id = {_ACCOUNT} AND name = $2",
                               address, name)
            if value is not None:
                await conn.execute(
                    "INSERT INTO account_settings SELECT id, $2, $3 FROM accounts WHERE address = $1",
                    address, name, json.dumps(value))

        await self._write(put)

    # reports received and delivery outcomes -------------------------------------------------------
    async def add_received_report(self, kind: str, reporter: str, report_id: str, domain: str, begin: int,
                                  end: int, rows: Sequence[dict[str, Any]]) -> bool:
        """False when the same report (kind, reporter, id) was stored already: reporters resend."""
        status = await self._execute(
            'INSERT INTO received_reports (kind, reporter, report_id, domain, "begin", "end", rows, received)'
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            kind, reporter, report_id, domain, begin, end, json.dumps(list(rows)), self._clock())
        return status == "INSERT 0 1"

    async def received_reports(self, kind: str, since: int = 0) -> list[ReceivedReport]:
        rows = await self._fetch(
            'SELECT id, kind, reporter, report_id, domain, "begin", "end", rows, received FROM received_reports'
            ' WHERE kind = $1 AND "end" >= $2 ORDER BY "begin" DESC, reporter COLLATE "C"', kind, since)
        return [ReceivedReport(*r[:7], json.loads(r[7]), r[8]) for r in rows]

    async def count_delivery(self, domain: str, result: str, count: int = 1) -> None:
        hour = int(self._clock()) // 3600 * 3600
        await self._execute("INSERT INTO delivery_stats VALUES ($1, $2, $3, $4) ON CONFLICT (hour, domain, result)"
                            " DO UPDATE SET count = delivery_stats.count + excluded.count",
                            hour, domain.lower(), result, count)

    async def delivery_counts(self, since: int) -> list[DeliveryCount]:
        rows = await self._fetch("SELECT hour, domain, result, count FROM delivery_stats WHERE hour >= $1"
                                 " ORDER BY hour", since)
        return [DeliveryCount(*r) for r in rows]

    async def record_queue_sample(self, states: Mapping[str, int], keep: int) -> None:
        now = int(self._clock())
        values = (now, states.get("pending", 0), states.get("held", 0), states.get("failed", 0))

        async def add(conn: Conn) -> None:
            await conn.execute("INSERT INTO queue_samples VALUES ($1, $2, $3, $4) ON CONFLICT (at) DO UPDATE"
                               " SET pending = excluded.pending, held = excluded.held, failed = excluded.failed",
                               *values)
            await conn.execute("DELETE FROM queue_samples WHERE at < $1", now - keep)

        await self._write(add)

    async def queue_samples(self, since: int) -> list[QueueSample]:
        rows = await self._fetch("SELECT at, pending, held, failed FROM queue_samples WHERE at >= $1 ORDER BY at",
                                 since)
        return [QueueSample(*r) for r in rows]
