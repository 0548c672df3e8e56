"""DMARC aggregate-report data (RFC 7489 7.2): one counted row per policy domain, day and outcome.

The inbound policy records what it saw for every message whose From domain publishes DMARC; a daily
report sender (not written yet) reads a day's rows grouped by policy domain.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from pillarbox.store.records import DMARC_COLUMNS
from pillarbox.store.sqlite.writer import Txn

COLUMNS = DMARC_COLUMNS


def count_observation(txn: Txn, day: str, row: Mapping[str, object]) -> None:
    values = [day if name == "day" else row[name] for name in COLUMNS]
    names = ", ".join(COLUMNS)
    marks = ", ".join("?" for _ in COLUMNS)
    txn.conn.execute(
        f"INSERT INTO dmarc_observations ({names}, count) VALUES ({marks}, 1) "
        f"ON CONFLICT ({names}) DO UPDATE SET count = count + 1",
        values,
    )


def claim_daily_job(txn: Txn, job: str, day: str) -> bool:
    """True the first time ``job`` is claimed for ``day``."""
    return txn.conn.execute("INSERT OR IGNORE INTO daily_jobs (job, day) VALUES (?, ?)", (job, day)).rowcount == 1


def observations(conn: sqlite3.Connection, day: str | None) -> list[dict[str, object]]:
    sql = f"SELECT {', '.join(COLUMNS)}, count FROM dmarc_observations"
    if day:
        rows = conn.execute(sql + " WHERE day = ? ORDER BY 1, 3", (day,))
    else:
        rows = conn.execute(sql + " ORDER BY 2, 1, 3")
    return [dict(zip((*COLUMNS, "count"), row, strict=True)) for row in rows]
