"""Connection limits per listener, per address and per user at an address, across processes; the
shared board allocated before it is mapped."""

from __future__ import annotations

import errno
import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pillarbox.net import balance
from pillarbox.net.balance import BoardUnavailable, LoadBoard
from pillarbox.net.limits import ConnectionLimiter, Lease, PoolLimits


def test_the_board_is_allocated_on_disk_before_it_is_mapped(tmp_path: Path) -> None:
    LoadBoard(tmp_path / "load", 3, 0, counters=10)
    size = 3 * (1 + 10 + balance.BUCKETS) * 8
    info = os.stat(tmp_path / "load")
    assert info.st_size == size and info.st_blocks * 512 >= size  # no holes: no SIGBUS on a full disk


def test_a_board_that_cannot_be_allocated_is_one_line(tmp_path: Path, monkeypatch) -> None:
    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(balance.os, "posix_fallocate", full)
    with pytest.raises(BoardUnavailable) as refused:
        LoadBoard(tmp_path / "load", 2, 0, counters=10)
    assert str(refused.value) == (f"cannot allocate 262320 bytes for {tmp_path / 'load'} (the workers' shared "
                                  "connection counts): No space left on device")


LIMITS = PoolLimits(6, max_per_ip=3, max_per_user_ip=2, reserved=2, per_ip_counts_users=False)
ADDRESSES = ["192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db8::2"]  # the last two: one /64
USERS = ["ann", "bob"]
steps = st.lists(st.tuples(st.sampled_from(["admit", "promote", "demote", "release"]), st.integers(0, 1),
                           st.integers(0, 50), st.sampled_from(USERS)), max_size=60)


@settings(max_examples=200, deadline=None)
@given(steps)
def test_every_limit_holds_for_two_processes_together(tmp_path_factory, script) -> None:
    path = tmp_path_factory.mktemp("board") / "load"
    boards = [LoadBoard(path, 2, index, counters=2) for index in (0, 1)]
    limiters = [ConnectionLimiter(LIMITS, name="imap", board=board) for board in boards]
    leases: list[Lease] = []
    for action, process, pick, user in script:
        if action == "admit":
            lease = limiters[process].admit(ADDRESSES[pick % len(ADDRESSES)])
            if lease is not None:
                leases.append(lease)
        elif leases:
            lease = leases[pick % len(leases)]
            if action == "promote":
                lease.promote(user)
            elif action == "demote":
                lease.demote()
            else:
                lease.release()
        check(limiters, [lease for lease in leases if not lease.released])
    for lease in leases:
        lease.release()
    assert [limiter.total for limiter in limiters] == [0, 0] and boards[0].totals() == [0, 0]
    assert all(count == 0 for count in boards[0]._counts)


def check(limiters: list[ConnectionLimiter], open_leases: list[Lease]) -> None:
    users = [lease for lease in open_leases if lease.user is not None]
    assert len(open_leases) <= LIMITS.max_connections
    assert len(open_leases) - len(users) <= LIMITS.max_connections - LIMITS.reserved
    waiting_per_address = Counter(lease.ip_key for lease in open_leases if lease.user is None)
    assert max(waiting_per_address.values(), default=0) <= 3
    per_user_address = Counter((lease.user, lease.ip_key) for lease in users)
    assert max(per_user_address.values(), default=0) <= 2
    assert sum(limiter.total for limiter in limiters) == len(open_leases)
    assert sum(limiter.users for limiter in limiters) == len(users)
