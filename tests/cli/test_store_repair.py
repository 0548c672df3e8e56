"""``pillarbox store check`` reports blob files no message uses; ``--repair`` removes them."""

from __future__ import annotations

from pathlib import Path

from pillarbox.store.sqlite.orphans import GRACE_SECONDS
from pillarbox.store.sqlite.store import SQLiteStore
from tests.cli.conftest import Pillarbox
from tests.store.test_orphans import _orphan


def test_store_check_reports_and_repair_removes(pb: Pillarbox) -> None:
    async def plant(store: SQLiteStore) -> Path:
        return _orphan(store, b"left by a crash", GRACE_SECONDS + 10)

    orphan = pb.with_store(plant)
    report = pb.run("store", "check")
    assert report.code == 1 and str(orphan) in report.out and "--repair" in report.out
    repaired = pb.ok("store", "check", "--repair")
    assert "removed 1 message file(s)" in repaired.out and not orphan.exists()
    assert "no problems" in pb.ok("store", "check").out
