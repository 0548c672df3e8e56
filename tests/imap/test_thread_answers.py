"""SORT and THREAD through a real session over random mailboxes, against the straightforward
implementation (``thread_reference``): searches that restrict the set, expunged messages, duplicate
Message-IDs, loops, missing parents, sequence numbers and UIDs; each command asked twice, the second
answer coming from the shared answer cache (``imap.answer_cache``), and again after a delivery."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pillarbox.imap.answer_cache import AnswerCache
from pillarbox.imap.thread import ThreadMessage
from pillarbox.mime.subject import base_subject
from pillarbox.store.records import DeliveryTarget
from tests.imap import thread_reference
from tests.imap.test_thread_store import logged_in
from tests.stores import open_at

START = datetime(2026, 1, 1, tzinfo=UTC)
IDS = [f"<{i}@t>" for i in range(8)]
SUBJECTS = ["a", "Re: a", "Fwd: [x] a", "b", "Re: b", ""]
SEARCHES = {"ALL": lambda flagged: True, "FLAGGED": lambda flagged: flagged, "UNFLAGGED": lambda flagged: not flagged}

rows = st.lists(
    st.tuples(
        st.sampled_from([*IDS, None]), st.lists(st.sampled_from(IDS), max_size=4).map(tuple),
        st.sampled_from(SUBJECTS), st.integers(0, 4), st.booleans(), st.booleans(),
    ),
    min_size=1, max_size=14,
)
Row = tuple[str | None, tuple[str, ...], str, int, bool, bool]
"""Message-ID, References, Subject, hour sent, flagged, expunged."""


def raw(row: Row) -> bytes:
    mid, refs, subject, hour, _, _ = row
    date = (START + timedelta(hours=hour)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    headers = [f"Subject: {subject}", f"Date: {date}"]
    headers += [f"Message-ID: {mid}"] if mid else []
    headers += [f"References: {' '.join(refs)}"] if refs else []
    return ("\r\n".join(headers) + "\r\n\r\nbody\r\n").encode()


def expected(mailbox: list[Row], search: str, by_uid: bool) -> dict[str, str]:
    """The answers computed from the rows: UIDs are 1, 2, ... in delivery order."""
    kept = [(uid, row) for uid, row in enumerate(mailbox, 1) if not row[5]]
    found = [(seq, uid, row) for seq, (uid, row) in enumerate(kept, 1) if SEARCHES[search](row[4])]
    msgs = [
        ThreadMessage(uid if by_uid else seq, seq, START + timedelta(hours=row[3]), row[2], row[0], row[1])
        for seq, uid, row in found
    ]
    by_subject = sorted(msgs, key=lambda m: (base_subject(m.subject)[0], m.seq))
    return {
        "THREAD REFERENCES": f"* THREAD {thread_reference.references(msgs)}".rstrip(),
        "THREAD ORDEREDSUBJECT": f"* THREAD {thread_reference.ordered_subject(msgs)}".rstrip(),
        "SORT (SUBJECT)": " ".join(["* SORT", *(str(m.number) for m in by_subject)]),
    }


async def answers(mailbox: list[Row], later: Row, data_dir: Path) -> None:
    store = await open_at(data_dir)
    try:
        session, memory, inbox_id = await logged_in(store, answers=AnswerCache(min_messages=0))
        await store.append_messages(inbox_id, [(raw(row), DeliveryTarget(inbox_id)) for row in mailbox])

        async def run(line: str) -> str:
            memory.out.clear()
            await session.on_data(line.encode() + b"\r\n")
            return memory.out.decode()

        await run("s SELECT INBOX")
        for uid, row in enumerate(mailbox, 1):
            flags = [name for name, on in (("\\Flagged", row[4]), ("\\Deleted", row[5])) if on]
            if flags:
                await run(f"f UID STORE {uid} +FLAGS.SILENT ({' '.join(flags)})")
        await run("e EXPUNGE")
        await check(run, mailbox)
        await store.append_messages(inbox_id, [(raw(later), DeliveryTarget(inbox_id))])
        await run("n NOOP")
        await check(run, [*mailbox, later])
    finally:
        await store.close()


async def check(run, mailbox: list[Row]) -> None:  # type: ignore[no-untyped-def]
    for search in SEARCHES:
        for by_uid in (False, True):
            for command, answer in expected(mailbox, search, by_uid).items():
                line = f"t {'UID ' if by_uid else ''}{command} UTF-8 {search}"
                for _ in range(2):  # computed, then from the cache
                    got = re.search(r"^\* (THREAD|SORT)[^\r\n]*", await run(line), re.M)
                    assert got is not None and got.group() == answer, line


@settings(max_examples=30, deadline=None)
@given(rows, rows.map(lambda more: more[0]))
def test_sort_and_thread_answers_as_the_reference_implementation(mailbox: list[Row], later: Row) -> None:
    later = (*later[:4], False, False)
    with TemporaryDirectory() as data_dir:
        asyncio.run(answers(mailbox, later, Path(data_dir)))


def test_a_repeated_answer_reads_nothing_from_the_store_until_the_mailbox_changes(tmp_path: Path) -> None:
    async def reads(store: Any) -> list[str]:
        session, memory, inbox_id = await logged_in(store, answers=AnswerCache(min_messages=0))
        first = raw(("<1@t>", (), "a", 0, False, False))
        await store.append_messages(inbox_id, [(first, DeliveryTarget(inbox_id))] * 3)
        done: list[str] = []
        for name in ("sort_fields", "thread_fields"):
            method = getattr(store, name)

            async def counted(mailbox_id: int, name: str = name, method: Any = method) -> Any:
                done.append(name)
                return await method(mailbox_id)

            setattr(store, name, counted)
        for line in [b"s SELECT INBOX", *COMMANDS, *COMMANDS]:
            await session.on_data(line + b"\r\n")
        await store.append_messages(inbox_id, [(raw(("<9@t>", (), "c", 1, False, False)), DeliveryTarget(inbox_id))])
        for line in [b"n NOOP", *COMMANDS, *COMMANDS]:
            await session.on_data(line + b"\r\n")
        assert memory.out.count(b"* THREAD (") == 8
        return done

    async def scenario() -> list[str]:
        store = await open_at(tmp_path)
        try:
            return await reads(store)
        finally:
            await store.close()

    once = ["sort_fields", "thread_fields", "sort_fields"]  # SORT (SUBJECT), REFERENCES, ORDEREDSUBJECT
    assert asyncio.run(scenario()) == once * 2  # each computed once, and once again after the delivery


COMMANDS = [b"t1 SORT (SUBJECT) UTF-8 ALL", b"t2 THREAD REFERENCES UTF-8 ALL",
            b"t3 UID THREAD ORDEREDSUBJECT UTF-8 ALL"]
