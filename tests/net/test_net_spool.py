"""Bodies on their way in: the head in memory from its half of the budget, the rest in an unnamed 0600
file, read back whole within the other half; disk full is a SpoolError, not a crash."""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pillarbox.net import spool as spool_module
from pillarbox.net.spool import MemoryBudget, SpoolArea, SpoolError


def area(tmp_path: Path, memory: int = 1 << 20, in_memory: int = 1000) -> SpoolArea:
    prepared = SpoolArea.prepare(tmp_path, memory, sweep=False)
    prepared.in_memory = in_memory
    return prepared


async def read_back(body) -> bytes:
    async with body.contents() as data:
        return data


def test_a_small_body_stays_in_memory_and_gives_its_memory_back(tmp_path: Path, run) -> None:
    spool = area(tmp_path)
    body = spool.open()
    body.write(b"hello ")
    body.write(b"world")
    assert spool.heads.used == 11 and body._file is None
    assert run(read_back(body)) == b"hello world"
    body.close()
    assert spool.heads.used == 0 and spool.bodies.used == 0


def test_a_large_body_goes_to_an_unnamed_private_file(tmp_path: Path, run) -> None:
    spool = area(tmp_path)
    body = spool.open()
    for _ in range(30):
        body.write(b"x" * 100)
    assert body._file is not None and spool.heads.used == 0  # the head moved to the file with the rest
    assert stat.S_IMODE(os.fstat(body._file.fileno()).st_mode) == 0o600
    assert list(spool.directory.iterdir()) == []
    assert run(read_back(body)) == b"x" * 3000
    body.close()
    assert body._file is None


def test_when_the_heads_budget_is_spent_bodies_go_to_disk_from_their_first_byte(tmp_path: Path) -> None:
    spool = area(tmp_path, memory=1000, in_memory=400)  # 500 for heads
    first, second = spool.open(), spool.open()
    first.write(b"a" * 400)
    second.write(b"b" * 200)
    assert first._file is None and second._file is not None
    first.close()
    second.close()
    assert spool.heads.used == 0


def test_disk_full_is_a_spool_error_when_the_body_is_wanted(tmp_path: Path, run, monkeypatch) -> None:
    def full(**_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spool_module.tempfile, "TemporaryFile", full)
    body = area(tmp_path).open()
    for _ in range(20):
        body.write(b"y" * 100)  # never raises: the protocol must read the body to its end anyway
    assert body.size == 2000 and body.failure is not None
    with pytest.raises(SpoolError, match="No space left on device"):
        run(read_back(body))
    body.close()


def test_the_sweep_removes_what_a_crash_left_and_makes_the_directory_private(tmp_path: Path) -> None:
    (tmp_path / "spool").mkdir(mode=0o755)
    (tmp_path / "spool" / "tmpabc").write_bytes(b"left")
    SpoolArea.prepare(tmp_path, 1 << 20, sweep=True)
    assert list((tmp_path / "spool").iterdir()) == []
    assert stat.S_IMODE((tmp_path / "spool").stat().st_mode) == 0o700


def test_bodies_in_memory_for_delivery_wait_their_turn(run) -> None:
    budget = MemoryBudget(100)
    order: list[str] = []

    async def deliver(name: str, size: int, release: asyncio.Event) -> None:
        async with budget.hold(size):
            order.append(f"{name} in ({budget.used})")
            await release.wait()
        order.append(f"{name} out")

    async def scenario() -> None:
        releases = {name: asyncio.Event() for name in "abcd"}
        tasks = [asyncio.create_task(deliver("a", 60, releases["a"]))]
        await asyncio.sleep(0)
        tasks += [asyncio.create_task(deliver(n, s, releases[n])) for n, s in (("b", 60), ("c", 500), ("d", 10))]
        await asyncio.sleep(0.01)
        assert order == ["a in (60)"]  # b waits; d fits but does not jump the line
        tasks[2].cancel()  # c gives up while waiting
        releases["a"].set()
        await asyncio.sleep(0.01)
        assert order == ["a in (60)", "a out", "b in (70)", "d in (70)"]  # b and d were let in together
        releases["b"].set()
        releases["d"].set()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert budget.used == 0

    run(scenario())


def test_a_body_larger_than_the_budget_waits_for_all_of_it(run) -> None:
    budget = MemoryBudget(100)

    async def scenario() -> None:
        async with budget.hold(10):
            waiter = asyncio.create_task(_hold(budget, 5000))
            await asyncio.sleep(0.01)
            assert not waiter.done()
        await waiter
        assert budget.used == 0

    run(scenario())


async def _hold(budget: MemoryBudget, size: int) -> None:
    async with budget.hold(size):
        assert budget.used == budget.limit


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=700), max_size=12), st.integers(0, 3000), st.integers(0, 4000))
def test_what_is_read_back_is_what_was_written(tmp_path_factory, pieces, in_memory, memory) -> None:
    spool = area(tmp_path_factory.mktemp("spool"), memory=memory, in_memory=in_memory)
    body = spool.open()
    for piece in pieces:
        body.write(piece)
    assert asyncio.run(read_back(body)) == b"".join(pieces)
    body.close()
    assert spool.heads.used == 0 and spool.bodies.used == 0
