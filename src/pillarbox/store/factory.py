"""Opening the configured store: the one place that knows which backends exist.

``app.py`` and the CLI call ``open_store`` and see only ``store.api.Backend`` from then on.
"""

from __future__ import annotations

from pillarbox.config import Config
from pillarbox.store.api import Backend


async def open_store(config: Config, primary: bool = True) -> Backend:
    """The store ``[store] url`` names (PostgreSQL), else the embedded SQLite store in ``data_dir``.

    ``primary``: this process runs the SQLite WAL checkpoints (with ``workers``, only the first one
    does). Raises StoreUnavailable (one line) when PostgreSQL refuses the login or cannot be reached."""
    if config.store.url:
        from pillarbox.store.postgres.store import PostgresStore

        return await PostgresStore.open(config.store.url, pool_size=config.store.pool_size,
                                        defer_flags=config.store.flag_flush_delay > 0)
    from pillarbox.store.sqlite.store import SQLiteStore

    return SQLiteStore.open(config.data_dir, checkpoints=primary, min_free_space=config.store.min_free_space,
                            flag_flush_delay=config.store.flag_flush_delay)
