"""SORT (SUBJECT) and THREAD over a big mailbox: the base subject kept at delivery against computed per command.

Populates one mailbox with N generated messages (``imap_search_bench.py``'s generator and fixed seed;
no search indexing, which SORT and THREAD do not read) and drives a real ``IMAPSession`` in memory
through SORT (SUBJECT), THREAD REFERENCES and THREAD ORDEREDSUBJECT. Then it sets ``base_subject`` to
NULL, as for messages stored before the column existed, so every command normalises each subject again
(what every command did before), and measures once more.

Each command is measured twice: "cold", in a new server each run (nothing remembered: what the first
client after a delivery waits for), and "warm", asked again of the same server (the answer cache,
``imap/answer_cache.py``: what a webmail client paging through a list waits for).

Each figure is the CPU time of the process (``time.process_time``, median and minimum of 5 runs), not
wall time: on a shared machine the wall clock measures the neighbours.

    .venv/bin/python bench/imap_sort_thread_bench.py --messages 100000 [--dir /tmp/bench]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.imap_search_bench import MemoryConnection, command, populate, session_for  # noqa: E402
from pillarbox.imap.session import IMAPSession  # noqa: E402
from pillarbox.store.sqlite.store import SQLiteStore  # noqa: E402

COMMANDS = ["a1 SORT (SUBJECT) UTF-8 ALL", "a2 THREAD REFERENCES UTF-8 ALL", "a3 THREAD ORDEREDSUBJECT UTF-8 ALL"]


async def measure(store: SQLiteStore, label: str, runs: int = 5) -> None:
    account = await store.get_account("bob@bench.test")
    assert account is not None
    for line in COMMANDS:
        cold, warm = [], []
        for _ in range(runs):
            session, conn = session_for(store)  # a new server: an empty answer cache
            session.login(account)
            await command(session, conn, "s1 SELECT INBOX")
            cold.append(await _cpu(session, conn, line))
            warm.append(await _cpu(session, conn, line))
        print(f"{label:9} {line[3:]:36} cold median {statistics.median(cold):.3f} s  min {min(cold):.3f} s"
              f"  warm median {statistics.median(warm):.3f} s", flush=True)


async def _cpu(session: IMAPSession, conn: MemoryConnection, line: str) -> float:
    started = time.process_time()
    await command(session, conn, line)
    return time.process_time() - started


async def bench(count: int, root: Path) -> None:
    store = SQLiteStore.open(root / f"sort{count}")
    try:
        await populate(store, count, 1, [])
        await measure(store, "stored")
        with sqlite3.connect(store.db_path) as conn:
            conn.execute("UPDATE messages SET base_subject = NULL")
        await measure(store, "computed")
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    asyncio.run(bench(args.messages, args.dir or Path(tempfile.mkdtemp(prefix="pillarbox-sort-bench-"))))


if __name__ == "__main__":
    main()
