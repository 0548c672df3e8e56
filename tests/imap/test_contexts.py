"""RFC 5267 4.3 as a property: whatever another process or the session itself changes (new mail, flags,
expunges, told at once or deferred by a FETCH), a client that applies every ADDTO, REMOVEFROM and
EXPUNGE to the result it was first given holds what a fresh SEARCH or SORT answers, in its order."""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pillarbox.store.records import DeliveryTarget
from tests.imap.test_thread_store import logged_in
from tests.stores import open_at

FLAGS = ["\\Seen", "\\Flagged", "\\Deleted", "$Work"]
PROGRAMS = ["ALL", "FLAGGED", "UNSEEN", "KEYWORD $Work", "OR FLAGGED DELETED", "NOT SEEN UNDELETED",
            "UID 3:*", "SUBJECT b", "LARGER 60"]
ORDERS = ["(DATE)", "(REVERSE SUBJECT)", "(SIZE DATE)", "(REVERSE ARRIVAL)"]
_ESEARCH = re.compile(rb'\* ESEARCH \(TAG "(\w+)"\)(?: UID)?(.*)')
_ITEM = re.compile(rb"(ADDTO|REMOVEFROM) \(([^)]*)\)|ALL (\S+)")

operation = st.one_of(
    st.tuples(st.just("deliver"), st.sets(st.sampled_from(FLAGS)), st.integers(0, 5)),
    st.tuples(st.just("flags"), st.integers(0, 30), st.sampled_from(["add", "remove", "replace"]),
              st.sets(st.sampled_from(FLAGS))),
    st.tuples(st.just("expunge"), st.integers(0, 30)),
    st.tuples(st.just("command"), st.sampled_from(
        [b"STORE 1 +FLAGS (\\Flagged)", b"STORE 1:2 -FLAGS (\\Seen \\Deleted)", b"EXPUNGE", b"FETCH 1 FLAGS",
         b"FETCH 1:* BODY[TEXT]", b"NOOP"])),
)


def _numbers(text: bytes) -> list[int]:
    """A sequence-set, expanded in its order (ranges ascend: RFC 5267 3.2)."""
    out: list[int] = []
    for piece in text.split(b","):
        low, _, high = piece.partition(b":")
        first, last = sorted((int(low), int(high or low)))
        out.extend(range(first, last + 1))
    return out


class Client:
    """What a client holds: each context's result, kept by the server's updates and EXPUNGEs."""

    def __init__(self) -> None:
        self.results: dict[str, list[int]] = {}
        self.by_number: set[str] = set()

    def read(self, output: bytes) -> None:
        for line in output.split(b"\r\n"):
            expunged = re.fullmatch(rb"\* (\d+) EXPUNGE", line)
            if expunged:
                self._renumber(int(expunged.group(1)))
            found = _ESEARCH.fullmatch(line)
            if found:
                self._update(found.group(1).decode(), found.group(2))

    def _renumber(self, gone: int) -> None:
        for tag in self.by_number:
            assert gone not in self.results[tag], "REMOVEFROM must come before the EXPUNGE"
            self.results[tag] = [n - 1 if n > gone else n for n in self.results[tag]]

    def _update(self, tag: str, items: bytes) -> None:
        for name, pairs, whole in _ITEM.findall(items):
            if whole:
                self.results[tag] = _numbers(whole)
                continue
            result = self.results[tag]
            words = pairs.split()
            for position, numbers in zip(words[::2], words[1::2], strict=True):
                self._apply(result, name, int(position), _numbers(numbers))

    @staticmethod
    def _apply(result: list[int], name: bytes, position: int, numbers: list[int]) -> None:
        if name == b"REMOVEFROM" and position == 0:
            assert set(numbers) <= set(result)
            result[:] = [n for n in result if n not in numbers]
        elif name == b"REMOVEFROM":
            assert result[position - 1 : position - 1 + len(numbers)] == numbers
            del result[position - 1 : position - 1 + len(numbers)]
        elif position == 0:
            result[:] = sorted(result + numbers)
        else:
            result[position - 1 : position - 1] = numbers


async def _scenario(data_dir: Path, program: str, order: str, operations: list[tuple]) -> None:
    store = await open_at(data_dir)
    try:
        session, memory, inbox_id = await logged_in(store)
        for n in range(4):
            await _deliver(store, inbox_id, {FLAGS[n]}, n)
        client = Client()
        client.by_number = {"n"}

        async def run(command: bytes) -> None:
            memory.out.clear()
            await session.on_data(command + b"\r\n")
            client.read(bytes(memory.out))

        await run(b"s SELECT INBOX")
        await run(b"u UID SEARCH RETURN (UPDATE) " + program.encode())
        await run(b"n SEARCH RETURN (UPDATE ALL) " + program.encode())
        await run(f"o UID SORT RETURN (UPDATE) {order} UTF-8 {program}".encode())
        for step in operations:
            await _operate(store, inbox_id, step, run)
        await run(b"z NOOP")
        fresh = Client()
        for tag, command in (("u", b"UID SEARCH RETURN (ALL) "), ("n", b"SEARCH RETURN (ALL) "),
                             ("o", f"UID SORT RETURN (ALL) {order} UTF-8 ".encode())):
            memory.out.clear()
            await session.on_data(b"%s %s%s\r\n" % (tag.encode(), command, program.encode()))
            fresh.read(bytes(memory.out))
            assert client.results[tag] == fresh.results.get(tag, []), (tag, bytes(memory.out))
    finally:
        await store.close()


async def _deliver(store, mailbox_id: int, flags: set[str], n: int) -> None:  # type: ignore[no-untyped-def]
    subject = "abcdef"[n % 6]
    raw = (f"Subject: {subject}\r\nDate: Mon, 0{1 + n % 6} Jun 2026 10:00:00 +0000\r\n\r\n" + "x" * (n * 7)).encode()
    await store.deliver(raw + b"\r\n", [DeliveryTarget(mailbox_id, frozenset(flags))])


async def _operate(store, mailbox_id: int, step: tuple, run) -> None:  # type: ignore[no-untyped-def]
    uids = [entry.uid for entry in await store.list_messages(mailbox_id)]
    kind = step[0]
    if kind == "deliver":
        await _deliver(store, mailbox_id, step[1], step[2])
    elif kind == "flags" and uids:
        await store.store_flags(mailbox_id, [uids[step[1] % len(uids)]], step[2], sorted(step[3]))
    elif kind == "expunge" and uids:
        await store.expunge(mailbox_id, [uids[step[1] % len(uids)]])
    elif kind == "command":
        await run(b"c " + step[1])


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(PROGRAMS), st.sampled_from(ORDERS), st.lists(operation, max_size=12))
def test_a_result_kept_by_its_updates_is_what_a_fresh_search_gives(program: str, order: str, operations: list):
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(_scenario(Path(directory), program, order, operations))
