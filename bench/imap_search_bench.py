"""IMAP search/sort/resync benchmark: how fast the IMAP core answers on a big mailbox.

Populates one mailbox with N generated messages (fixed seed) directly through the store API
(``append_messages``, 1,000 per writer job), then drives a real ``IMAPSession`` (the same code a
socket would, with an in-memory connection: no TLS, no network, so the figures are the server's own
cost) through:

    SEARCH TEXT <word>      full-text, headers and body (word index + stored text, folded when indexed)
    SEARCH BODY <word>      body only
    SEARCH BODY <rare>      a needle matching few messages
    SORT (DATE)             Date header, from the stored summaries
    SORT (SUBJECT)          RFC 5256 base subject
    THREAD REFERENCES       over the whole mailbox
    QRESYNC SELECT          after 1,000 flag changes and 100 expunges made by another session

Each timing is the median and range of 5 runs (the first included). Before the timings the backlog is
indexed (``index_pending`` until empty, timed) and the size of the search index is compared with the
size of the mail it indexes (SQLite's dbstat: every table and index named message_text*, message_words*
or search_terms*). ``--corpus DIR`` appends the messages found in DIR (one file each, as in the
SpamAssassin public corpus) before the generated ones, for a size measured on real mail.

    .venv/bin/python bench/imap_search_bench.py --messages 10000 100000 [--dir /tmp/bench] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from pillarbox.imap.session import IMAPServices, IMAPSession, IMAPSettings
from pillarbox.store.records import DeliveryTarget
from pillarbox.store.sqlite.store import SQLiteStore

WORDS = [
    *("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo"),
    *("lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor"),
    *("whiskey", "xray", "yankee", "zulu", "meeting", "report", "invoice", "budget", "schedule", "project"),
    *("review", "draft", "release", "server", "client", "cluster", "network", "storage", "backup", "weekly"),
]
RARE = ["zanzibar", "quixotic", "café", "façade", "jalapeño"]


def generate(n: int, rng: random.Random) -> bytes:
    subject = " ".join(rng.choices(WORDS, k=rng.randint(2, 6)))
    if rng.random() < 0.3:
        subject = "Re: " + subject
    words = rng.choices(WORDS, k=rng.randint(40, 250))
    if rng.random() < 0.01:
        words.insert(rng.randrange(len(words)), rng.choice(RARE))
    lines = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
    parent = rng.randrange(n) if n and rng.random() < 0.5 else None
    refs = f"References: <m{parent}@bench.test>\r\n" if parent is not None else ""
    day, hour = 1 + n % 28, n % 24
    return (
        f"From: User {n % 97} <user{n % 97}@bench.test>\r\nTo: bob@bench.test\r\nSubject: {subject}\r\n"
        f"Date: {day:02d} Oct 2026 {hour:02d}:{n % 60:02d}:00 +0000\r\nMessage-ID: <m{n}@bench.test>\r\n{refs}"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + "\r\n".join(lines) + "\r\n"
    ).encode()


class MemoryConnection:
    """What IMAPSession needs of a connection, keeping the output in memory."""

    is_tls = True
    peer = ("127.0.0.1", 0)

    def __init__(self) -> None:
        self.out = bytearray()

    async def write(self, data: bytes) -> None:
        self.out += data


async def command(session: IMAPSession, conn: MemoryConnection, line: str) -> tuple[float, bytes]:
    conn.out.clear()
    started = time.perf_counter()
    await session.on_data(line.encode() + b"\r\n")
    elapsed = time.perf_counter() - started
    tag = line.split()[0].encode()
    assert (tag + b" OK") in conn.out, bytes(conn.out[-300:])
    return elapsed, bytes(conn.out)


async def timed(session: IMAPSession, conn: MemoryConnection, line: str, runs: int = 5) -> tuple[str, int]:
    """'median (min-max)' in ms of ``runs`` runs, and the response size."""
    times = []
    size = 0
    for _ in range(runs):
        elapsed, out = await command(session, conn, line)
        times.append(elapsed * 1000)
        size = len(out)
    return f"{statistics.median(times):.1f} ({min(times):.1f}-{max(times):.1f})", size


def corpus_messages(root: Path) -> list[bytes]:
    """Every file under ``root`` as a message with CRLF line ends (an mbox "From " line dropped)."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix not in (".json", ".js")):
        raw = path.read_bytes()
        if raw.startswith(b"From "):
            raw = raw.partition(b"\n")[2]
        found.append(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    return found


def index_size(db_path: Path) -> tuple[int, int]:
    """(bytes of the search index's tables and indexes, bytes of the mail in the store)."""
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        mail = conn.execute("SELECT sum(size) FROM messages").fetchone()[0]
        index = conn.execute(
            "SELECT sum(pgsize) FROM dbstat WHERE name GLOB 'message_text*' OR name GLOB 'message_words*'"
            " OR name GLOB 'search_terms*' OR name GLOB 'sqlite_autoindex_search_terms*'").fetchone()[0]
    return index, mail


async def populate(store: SQLiteStore, count: int, seed: int, corpus: list[bytes]) -> tuple[int, int, float]:
    await store.add_domain("bench.test")
    account = await store.add_account("bob@bench.test", "x", None)
    inbox = await store.get_mailbox(account.id, "INBOX")
    assert inbox is not None
    rng = random.Random(seed)
    started = time.perf_counter()
    for start in range(0, len(corpus), 1000):
        await store.append_messages(inbox.id, [(raw, DeliveryTarget(inbox.id)) for raw in corpus[start:start + 1000]])
    for start in range(0, count, 1000):
        batch = [(generate(n, rng), DeliveryTarget(inbox.id)) for n in range(start, min(count, start + 1000))]
        await store.append_messages(inbox.id, batch)
    return account.id, inbox.id, time.perf_counter() - started


def session_for(store: SQLiteStore) -> tuple[IMAPSession, MemoryConnection]:
    settings = IMAPSettings(hostname="bench", timeout=600, max_literal=50 << 20, max_command_errors=100)
    services = IMAPServices(settings=settings, store=store, authenticator=None, tls=None)  # type: ignore[arg-type]
    conn = MemoryConnection()
    return IMAPSession(conn, services, implicit_tls=True), conn  # type: ignore[arg-type]


async def bench(count: int, root: Path, seed: int, corpus: list[bytes]) -> dict[str, object]:
    store = SQLiteStore.open(root / f"m{count}")
    try:
        _, inbox_id, fill = await populate(store, count, seed, corpus)
        started = time.perf_counter()
        while await store.index_pending():
            pass
        indexing = time.perf_counter() - started
        index, mail = index_size(store.db_path)
        account = await store.get_account("bob@bench.test")
        assert account is not None
        session, conn = session_for(store)
        session.login(account)
        await command(session, conn, "e1 ENABLE QRESYNC")
        _, out = await command(session, conn, "s1 SELECT INBOX")
        uidvalidity = int(out.split(b"[UIDVALIDITY ")[1].split(b"]")[0])
        modseq = int(out.split(b"[HIGHESTMODSEQ ")[1].split(b"]")[0])
        results: dict[str, object] = {
            "messages": count + len(corpus), "populate_s": round(fill, 1), "index_s": round(indexing, 1),
            "index_bytes": index, "mail_bytes": mail, "index_ratio": round(index / mail, 2)}
        for name, line in [
            ("search_text_common", "a1 SEARCH TEXT invoice"),
            ("search_body_common", "a2 SEARCH BODY budget"),
            ("search_body_rare", "a3 SEARCH BODY zanzibar"),
            ("search_body_accent", "a4 SEARCH BODY FACADE"),
            ("search_subject", "a5 SEARCH SUBJECT weekly"),
            ("sort_date", "a6 SORT (DATE) UTF-8 ALL"),
            ("sort_subject", "a7 SORT (SUBJECT) UTF-8 ALL"),
            ("thread_references", "a8 THREAD REFERENCES UTF-8 ALL"),
        ]:
            results[name] = await timed(session, conn, line)
        await command(session, conn, "u1 UNSELECT")
        # another session changes 1,000 messages' flags and expunges 100 while this one is away
        rng = random.Random(seed + 1)
        uids = [e.uid for e in await store.list_messages(inbox_id)]
        for chunk in range(10):
            await store.store_flags(inbox_id, rng.sample(uids, 100), "add", [f"$bench{chunk}"])
        await store.expunge(inbox_id, rng.sample(uids, 100))
        line = f"q1 SELECT INBOX (QRESYNC ({uidvalidity} {modseq}))"
        results["qresync_select"] = await timed(session, conn, line)
        results["plain_select"] = await timed(session, conn, "s2 SELECT INBOX")
        return results
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--corpus", type=Path, default=None, help="a folder of real messages to add first")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="pillarbox-search-bench-"))
    corpus = corpus_messages(args.corpus) if args.corpus else []
    for count in args.messages:
        results = asyncio.run(bench(count, root, args.seed, corpus))
        print(f"== {results.pop('messages')} messages")
        for name, value in results.items():
            if isinstance(value, tuple):
                print(f"  {name:22s} median (range) {value[0]} ms   response {value[1]} bytes")
            else:
                print(f"  {name:22s} {value}")


if __name__ == "__main__":
    main()
