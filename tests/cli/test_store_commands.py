"""``pillarbox store check`` on either backend, and ``pillarbox store migrate`` from SQLite to PostgreSQL:
everything moves with its ids, UIDs, UIDVALIDITY and MODSEQs, so clients and the queue go on as before."""

from __future__ import annotations

import asyncio
import os
import pty
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from pillarbox.store.postgres import copy_in
from pillarbox.store.postgres.store import PostgresStore
from pillarbox.store.records import DeliveryTarget, DKIMKey, OutboundRecipient, OutboundRequest
from tests import pg_cluster, stores
from tests.cli.conftest import Pillarbox
from tests.sqlite_files import sqlite_file
from tests.store.conftest import message

LARGE = ("z" * 76 + "\r\n") * 2000  # a blob file on SQLite


def test_store_check_reports_a_consistent_store_and_a_damaged_one(pb: Pillarbox) -> None:
    pb.ok("domain", "add", "example.com")
    pb.ok("user", "add", "bob@example.com", "--password-stdin", input="secret-password\n")
    pb.ok("message", "add", "bob@example.com", input=message())
    assert pb.ok("store", "check").out.endswith(": no problems\n")

    async def damage(store: Any) -> None:
        await stores.execute_sql(store, *["UPDATE mailboxes SET message_count = 5 WHERE name = 'INBOX'"] * 2)
    pb.with_store(damage)
    result = pb.run("store", "check")
    assert result.code == 1 and "counters" in result.out and "1 problem(s) found in " in result.out


async def _fill(store: Any) -> dict[str, Any]:
    await store.add_domain("example.com")
    await store.add_account("bob@example.com", "hash", None)
    await store.add_alias("team@example.com", ["bob@example.com"])
    bob = await store.get_account("bob@example.com")
    inbox = await store.get_mailbox(bob.id, "INBOX")
    work = await store.create_mailbox(bob.id, "Work")
    for n, body in enumerate(["small\r\n", LARGE, "third\r\n"]):
        await store.deliver(message(f"m{n}", body=body), [DeliveryTarget(inbox.id, frozenset({"$Label1"}))])
    await store.store_flags(inbox.id, [1], "add", ["\\Seen"])
    await store.move(inbox.id, [2], work.id)
    request = OutboundRequest("bob@example.com", (OutboundRecipient("x@remote.test", notify=("FAILURE",)),))
    await store.deliver_and_queue(message("out", body=LARGE), [], request)
    await store.add_dkim_key(DKIMKey("example.com", "s1", "ed25519-sha256", "priv", "pub", True, 1))
    await store.set_subscribed(bob.id, "Work", False)
    await _fill_extensions(store, bob.id, inbox.id, work.id)
    return await _snapshot(store)


async def _fill_extensions(store: Any, bob: int, inbox: int, work: int) -> None:
    """What the extensions merge keeps: a zoned INTERNALDATE and a base subject, METADATA, an ACL, an
    URLAUTH key, the TLS a destination was seen with, the REQUIRETLS/MT-PRIORITY/DELIVERBY queue fields."""
    await store.add_account("alice@example.com", "hash", None)
    zoned = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))
    await store.deliver(message("Re: [list] zoned"), [DeliveryTarget(inbox, internal_date=zoned)])
    await store.set_metadata(bob, inbox, [("/private/comment", b"mine"), ("/shared/comment", b"ours")], 10)
    await store.set_metadata(bob, None, [("/shared/admin", b"mailto:postmaster@example.com")], 10)
    await store.set_acl(work, "alice@example.com", "lrs")
    await store.urlauth_key(inbox)
    await store.raise_tls_seen("remote.test", 2)
    request = OutboundRequest("bob@example.com", (OutboundRecipient("y@remote.test"),), requiretls=True,
                              priority=3, deliver_by=2_000_000_000, by_mode="R")
    await store.deliver_and_queue(message("prio"), [], request)
    await _fill_antispam(store, bob)


async def _fill_antispam(store: Any, bob: int) -> None:
    """The antispam merge's rows: a lesson, an allow entry, sending limits and counts, the learner's place."""
    await store.spam_train(bob, 1, [5, 6], "spam", 1000)
    await store.add_sender_rule(bob, "friend@remote.test", "allow")
    await store.set_sending_limits(bob, 50, None)
    await store.record_sending(bob, "message", 3, 1_700_000_000)
    await store.set_job_cursor("spam_learned", 7)


async def _snapshot(store: Any) -> dict[str, Any]:
    bob = await store.get_account("bob@example.com")
    boxes = await store.list_mailboxes(bob.id)
    contents = {}
    for box in boxes:
        entries = await store.list_messages(box.id)
        contents[box.name] = [(e.uid, e.flags, e.modseq, e.internal_date, await store.read_message(e.message_id))
                              for e in entries]
        contents[box.name + " changes"] = (await store.changes_since(box.id, 0)).expunged
    queue = [(q.id, q.sender, q.recipients, q.requiretls, q.priority, q.deliver_by, q.by_mode,
              await store.read_message(q.message_id)) for q in await store.list_queue()]
    inbox, work = [await store.get_mailbox(bob.id, name) for name in ("INBOX", "Work")]
    extensions = {
        "zones": {box.name: (await store.list_columns(box.id)).internal_zones for box in boxes},
        "threads": await store.thread_fields(inbox.id), "metadata": await store.account_metadata(bob.id),
        "acl": await store.get_acl(work.id), "shared": await store.shared_with("alice@example.com"),
        "urlauth": await store.urlauth_key(inbox.id), "tls": await store.list_tls_seen(),
        "spam": (await store.spam_counts(bob.id, [5, 6]), await store.spam_states(bob.id, [1])),
        "rules": await store.list_sender_rules(), "sending": (await store.sending_policy(bob.id),
                                                              await store.sending_totals(bob.id, 0)),
        "learned": await store.job_cursor("spam_learned"),
    }
    return {"mailboxes": boxes, "contents": contents, "queue": queue, "aliases": await store.list_aliases(),
            "dkim": await store.dkim_keys("example.com"), "accounts": await store.list_accounts(), **extensions}


def test_migrate_moves_everything_and_the_new_store_goes_on_where_the_old_stopped(
    pb: Pillarbox, postgres_cluster: pg_cluster.Cluster
) -> None:
    if stores.url_for(pb.data_dir):
        pytest.skip("the source of a migration is a SQLite data_dir")
    before = pb.with_store(_fill)
    target = stores.fresh_database(postgres_cluster.url())
    out = pb.ok("store", "migrate", "--to", target).out
    assert "messages 6" in out and "done: set [store] url" in out

    async def check() -> None:
        store = await PostgresStore.open(target)
        try:
            assert await _snapshot(store) == before
            assert await store.find_problems() == []
            inbox = await store.get_mailbox((await store.get_account("bob@example.com")).id, "INBOX")
            assert await store.search_text(inbox.id, "third", ("body",)) == {3}  # indexed again
            [appended] = await store.deliver(message("after"), [DeliveryTarget(inbox.id)])
            assert appended.uid == inbox.uidnext and appended.modseq > max(b.highestmodseq
                                                                          for b in before["mailboxes"])
            fresh = await store.create_mailbox(inbox.account_id, "New")
            assert fresh.uidvalidity > max(b.uidvalidity for b in before["mailboxes"])
            assert fresh.id > max(b.id for b in before["mailboxes"])
        finally:
            await store.close()

    asyncio.run(check())
    assert "not empty" in pb.fails("store", "migrate", "--to", target)  # never into a used database
    assert "copying" not in pb.run("store", "migrate", "--to", target).stderr  # a script sees no progress


def test_migrate_counts_the_rows_up_on_a_terminal(pb: Pillarbox, postgres_cluster: pg_cluster.Cluster) -> None:
    if stores.url_for(pb.data_dir):
        pytest.skip("the source of a migration is a SQLite data_dir")
    pb.with_store(_fill)
    target = stores.fresh_database(postgres_cluster.url())
    terminal, shown = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "pillarbox", "--config", str(pb.config), "store", "migrate",
                               "--to", target], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=shown,
                              env={**os.environ, "PILLARBOX_CHEAP_HASHES": "1"}, timeout=120)
        os.close(shown)
        seen = _read_all(terminal).decode()
    finally:
        os.close(terminal)
    assert done.returncode == 0 and b"done: set [store] url" in done.stdout
    counts = re.findall(r"\rcopying rows: (\d+)/(\d+) \((\d+)%\)", seen)
    assert counts and counts[-1][0] == counts[-1][1] and counts[-1][2] == "100", seen
    assert seen.endswith("\r\n")  # the line ends once the copy is done (the pty turns \n into \r\n)


def _read_all(fd: int) -> bytes:
    data = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other end is closed and everything was read
            return data
        if not chunk:
            return data
        data += chunk


def test_migrate_knows_every_sqlite_table(tmp_path: Path) -> None:
    """A table added to the SQLite schema must be copied by ``store migrate`` or be named as not copied."""

    async def make() -> None:
        store = await stores.open_store(tmp_path, None)
        await store.close()

    asyncio.run(make())
    with sqlite_file(tmp_path / "pillarbox.sqlite3") as conn:
        copy_in._check_tables(conn)


def test_migrate_refuses_a_bad_url_and_a_postgresql_source(pb: Pillarbox) -> None:
    result = pb.run("store", "migrate", "--to", "mysql://x/y")
    assert result.code == 2 and "postgresql://" in result.stderr
