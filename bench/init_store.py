#!/usr/bin/env python3
"""Create an empty Pillarbox store in a data_dir, as the first ``pillarbox serve`` does: the admin
commands (``domain add``, ``user add``, ``import``) refuse a data_dir without one.

    python bench/init_store.py DATA_DIR
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from pillarbox.store.sqlite.store import SQLiteStore


async def init_store(data_dir: Path) -> None:
    await SQLiteStore.open(data_dir).close()


if __name__ == "__main__":
    asyncio.run(init_store(Path(sys.argv[1])))
