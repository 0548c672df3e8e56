"""The web face's rows in SQLite (``store/api.WebStore``): sessions, API tokens, app passwords, logins,
per-account settings, reports received from other domains, delivery outcomes, queue size samples.

Secrets are stored as SHA-256 hashes only: session ids, API tokens and app passwords are 128+ random
bits the server made, so a fast hash is enough (no guessing to slow down), and the database alone
gives nobody a way in.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from pillarbox.store.sqlite.writer import Txn
from pillarbox.store.web_records import (
    ApiToken,
    AppPassword,
    DeliveryCount,
    LoginRecord,
    QueueSample,
    ReceivedReport,
    WebSession,
)

T = TypeVar("T")
LOGIN_HISTORY_KEPT = 50
"""Logins kept per account (its account page shows them)."""

_SESSION = ("SELECT s.account_id, a.address, a.admin, s.csrf, s.ip, s.created, s.last_seen, s.expires"
            " FROM web_sessions s JOIN accounts a ON a.id = s.account_id WHERE s.id_hash = ?")


def _account_id(conn: sqlite3.Connection, address: str) -> int | None:
    row = conn.execute("SELECT id FROM accounts WHERE address = ?", (address,)).fetchone()
    return row[0] if row else None


class WebData:
    """Mixed into ``SQLiteStore``: it supplies ``_read``, ``_write`` and the clock."""

    _read: Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]
    _write: Callable[[Callable[[Txn], Any]], Awaitable[Any]]
    _clock: Callable[[], float]

    # sessions --------------------------------------------------------------------------------------
    async def add_web_session(self, id_hash: str, address: str, csrf: str, ip: str, lifetime: float) -> None:
        now = self._clock()

        def add(txn: Txn) -> None:
            txn.conn.execute("DELETE FROM web_sessions WHERE expires < ?", (now,))
            txn.conn.execute("INSERT INTO web_sessions VALUES (?, (SELECT id FROM accounts WHERE address = ?),"
                             " ?, ?, ?, ?, ?)", (id_hash, address, csrf, ip, now, now, now + lifetime))

        await self._write(add)

    async def get_web_session(self, id_hash: str) -> WebSession | None:
        row = await self._read(lambda c: c.execute(_SESSION, (id_hash,)).fetchone())
        return WebSession(row[0], row[1], bool(row[2]), *row[3:]) if row else None

    async def touch_web_session(self, id_hash: str) -> None:
        now = self._clock()
        await self._write(lambda t: t.conn.execute(
            "UPDATE web_sessions SET last_seen = ? WHERE id_hash = ?", (now, id_hash)))

    async def delete_web_session(self, id_hash: str) -> None:
        await self._write(lambda t: t.conn.execute("DELETE FROM web_sessions WHERE id_hash = ?", (id_hash,)))

    # API tokens ------------------------------------------------------------------------------------
    async def add_api_token(self, address: str, name: str, token_hash: str) -> int:
        now = self._clock()

        def add(txn: Txn) -> int:
            cursor = txn.conn.execute(
                "INSERT INTO api_tokens (account_id, name, token_hash, created) VALUES"
                " ((SELECT id FROM accounts WHERE address = ?), ?, ?, ?)", (address, name, token_hash, now))
            return int(cursor.lastrowid or 0)

        return await self._write(add)

    async def api_tokens(self, address: str | None = None) -> list[ApiToken]:
        query = ("SELECT t.id, a.address, a.admin, t.name, t.created, t.last_used FROM api_tokens t"
                 " JOIN accounts a ON a.id = t.account_id")
        args: tuple[Any, ...] = ()
        if address is not None:
            query, args = query + " WHERE a.address = ?", (address,)
        rows = await self._read(lambda c: c.execute(query + " ORDER BY t.id", args).fetchall())
        return [ApiToken(r[0], r[1], bool(r[2]), *r[3:]) for r in rows]

    async def find_api_token(self, token_hash: str) -> ApiToken | None:
        query = ("SELECT t.id, a.address, a.admin, t.name, t.created, t.last_used FROM api_tokens t"
                 " JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = ?")
        row = await self._read(lambda c: c.execute(query, (token_hash,)).fetchone())
        if row is None:
            return None
        now = self._clock()
        await self._write(lambda t: t.conn.execute("UPDATE api_tokens SET last_used = ? WHERE id = ?", (now, row[0])))
        return ApiToken(row[0], row[1], bool(row[2]), *row[3:])

    async def delete_api_token(self, token_id: int) -> bool:
        cursor = await self._write(lambda t: t.conn.execute("DELETE FROM api_tokens WHERE id = ?", (token_id,)))
        return bool(cursor.rowcount)

    # app passwords ---------------------------------------------------------------------------------
    async def add_app_password(self, address: str, name: str, password_hash: str) -> int:
        now = self._clock()

        def add(txn: Txn) -> int:
            cursor = txn.conn.execute(
                "INSERT INTO app_passwords (account_id, name, password_hash, created) VALUES"
                " ((SELECT id FROM accounts WHERE address = ?), ?, ?, ?)", (address, name, password_hash, now))
            return int(cursor.lastrowid or 0)

        return await self._write(add)

    async def app_passwords(self, address: str) -> list[AppPassword]:
        query = ("SELECT p.id, p.name, p.created, p.last_used FROM app_passwords p"
                 " JOIN accounts a ON a.id = p.account_id WHERE a.address = ? ORDER BY p.id")
        return [AppPassword(*r) for r in await self._read(lambda c: c.execute(query, (address,)).fetchall())]

    async def use_app_password(self, address: str, password_hash: str) -> bool:
        """True (and its last use noted) when ``password_hash`` is one of the account's app passwords."""
        now = self._clock()
        cursor = await self._write(lambda t: t.conn.execute(
            "UPDATE app_passwords SET last_used = ? WHERE password_hash = ? AND account_id ="
            " (SELECT id FROM accounts WHERE address = ?)", (now, password_hash, address)))
        return bool(cursor.rowcount)

    async def delete_app_password(self, address: str, password_id: int) -> bool:
        cursor = await self._write(lambda t: t.conn.execute(
            "DELETE FROM app_passwords WHERE id = ? AND account_id = (SELECT id FROM accounts WHERE address = ?)",
            (password_id, address)))
        return bool(cursor.rowcount)

    # logins and settings ---------------------------------------------------------------------------
    async def record_login(self, address: str, protocol: str, ip: str) -> None:
        now = self._clock()

        def add(txn: Txn) -> None:
            account_id = _account_id(txn.conn, address)
            if account_id is None:
                return
            txn.conn.execute("INSERT INTO login_history VALUES (?, ?, ?, ?)", (account_id, protocol, ip, now))
            txn.conn.execute("DELETE FROM login_history WHERE account_id = ? AND at < (SELECT at FROM login_history"
                             " WHERE account_id = ? ORDER BY at DESC LIMIT 1 OFFSET ?)",
                             (account_id, account_id, LOGIN_HISTORY_KEPT - 1))

        await self._write(add)

    async def recent_logins(self, address: str) -> list[LoginRecord]:
        query = ("SELECT h.protocol, h.ip, h.at FROM login_history h JOIN accounts a ON a.id = h.account_id"
                 " WHERE a.address = ? ORDER BY h.at DESC")
        return [LoginRecord(*r) for r in await self._read(lambda c: c.execute(query, (address,)).fetchall())]

    async def account_settings(self, address: str) -> dict[str, Any]:
        query = ("SELECT s.name, s.value FROM account_settings s JOIN accounts a ON a.id = s.account_id"
                 " WHERE a.address = ?")
        return {n: json.loads(v) for n, v in await self._read(lambda c: c.execute(query, (address,)).fetchall())}

    async def set_account_setting(self, address: str, name: str, value: Any) -> None:
        """``value`` None removes the setting."""

        def put(txn: Txn) -> None:
            account_id = _account_id(txn.conn, address)
            txn.conn.execute("DELETE FROM account_settings WHERE account_id = ? AND name = ?", (account_id, name))
            if value is not None and account_id is not None:
                txn.conn.execute("INSERT INTO account_settings VALUES (?, ?, ?)", (account_id, name, json.dumps(value)))

        await self._write(put)

    # reports received and delivery outcomes -------------------------------------------------------
    async def add_received_report(self, kind: str, reporter: str, report_id: str, domain: str, begin: int,
                                  end: int, rows: Sequence[dict[str, Any]]) -> bool:
        """False when the same report (kind, reporter, id) was stored already: reporters resend."""
        now, body = self._clock(), json.dumps(list(rows))
        cursor = await self._write(lambda t: t.conn.execute(
            "INSERT OR IGNORE INTO received_reports (kind, reporter, report_id, domain, begin, end, rows, received)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (kind, reporter, report_id, domain, begin, end, body, now)))
        return bool(cursor.rowcount)

    async def received_reports(self, kind: str, since: int = 0) -> list[ReceivedReport]:
        query = ("SELECT id, kind, reporter, report_id, domain, begin, end, rows, received FROM received_reports"
                 " WHERE kind = ? AND end >= ? ORDER BY begin DESC, reporter")
        rows = await self._read(lambda c: c.execute(query, (kind, since)).fetchall())
        return [ReceivedReport(*r[:7], json.loads(r[7]), r[8]) for r in rows]

    async def count_delivery(self, domain: str, result: str, count: int = 1) -> None:
        hour = int(self._clock()) // 3600 * 3600
        await self._write(lambda t: t.conn.execute(
            "INSERT INTO delivery_stats VALUES (?, ?, ?, ?) ON CONFLICT (hour, domain, result)"
            " DO UPDATE SET count = count + excluded.count", (hour, domain.lower(), result, count)))

    async def delivery_counts(self, since: int) -> list[DeliveryCount]:
        rows = await self._read(lambda c: c.execute(
            "SELECT hour, domain, result, count FROM delivery_stats WHERE hour >= ? ORDER BY hour",
            (since,)).fetchall())
        return [DeliveryCount(*r) for r in rows]

    async def record_queue_sample(self, states: Mapping[str, int], keep: int) -> None:
        now = int(self._clock())
        values = (now, states.get("pending", 0), states.get("held", 0), states.get("failed", 0))

        def add(txn: Txn) -> None:
            txn.conn.execute("INSERT OR REPLACE INTO queue_samples VALUES (?, ?, ?, ?)", values)
            txn.conn.execute("DELETE FROM queue_samples WHERE at < ?", (now - keep,))

        await self._write(add)

    async def queue_samples(self, since: int) -> list[QueueSample]:
        rows = await self._read(lambda c: c.execute(
            "SELECT at, pending, held, failed FROM queue_samples WHERE at >= ? ORDER BY at", (since,)).fetchall())
        return [QueueSample(*r) for r in rows]
