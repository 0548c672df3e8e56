"""Reading or changing a store's SQLite file directly, as a test that plays a crash or an old install must.

``with sqlite3.connect(path) as conn`` only ends the transaction: the connection stays open until it is
collected, and a process must not hold a stray connection to a database file that a store in the same
process opens and closes (POSIX locks are per process: closing one descriptor drops them all).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def sqlite_file(path: Path | str, **options: Any) -> Iterator[sqlite3.Connection]:
    """A connection to ``path`` that commits when the block ends without an error, and is always closed."""
    conn = sqlite3.connect(path, **options)
    try:
        with conn:
            yield conn
    finally:
        conn.close()
