"""``pillarbox import ADDRESS PATH``: bring an mbox file or a Maildir (with Maildir++ subfolders) in.

Each message is delivered whole or not at all (one ``store.deliver`` per message, durable on return),
so an import that stops half-way (a refusal such as a full quota, an unreadable file) leaves only
complete messages behind, and the one line it prints says how many made it. Speed comes from the
store's group commit: up to ``WINDOW`` deliveries are in flight at once, and the writer commits them
in shared transactions with one fsync each.

Messages may be stored slightly out of file order (deliveries in flight overtake one another), so UIDs
follow the file only roughly; INTERNALDATE is kept from the file, which is what clients sort by.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from pillarbox.admin.common import EX_OK, CommandFailed, require_account, warn
from pillarbox.admin.crlf import to_crlf
from pillarbox.admin.maildir import is_maildir, read_maildir, subfolders
from pillarbox.admin.mbox import FileMessage, read_mbox
from pillarbox.errors import PillarboxError
from pillarbox.store.api import Backend
from pillarbox.store.records import Account, DeliveryTarget, Mailbox, Refused

WINDOW = 64


class Importer:
    """Delivers messages with at most ``window`` in flight; stops at the first refusal."""

    def __init__(self, store: Backend, window: int = WINDOW) -> None:
        self.store = store
        self.window = window
        self.pending: set[asyncio.Task[None]] = set()
        self.counts: Counter[str] = Counter()
        self.skipped = 0
        self.error: BaseException | None = None

    async def add(self, mailbox: Mailbox, message: FileMessage | Path) -> bool:
        """Start delivering one message; False once a delivery failed (the caller stops reading)."""
        if isinstance(message, Path) or not message.raw.strip():
            self.skipped += 1
            return True
        while len(self.pending) >= self.window:
            await self._wait_one()
        if self.error is not None:
            return False
        task = asyncio.create_task(self._deliver(mailbox, message))
        self.pending.add(task)
        return True

    async def _deliver(self, mailbox: Mailbox, message: FileMessage) -> None:
        target = DeliveryTarget(mailbox.id, message.flags, message.internal_date)
        (result,) = await self.store.deliver(to_crlf(message.raw), [target])
        if isinstance(result, Refused):
            raise result.error
        self.counts[mailbox.name] += 1

    async def _wait_one(self) -> None:
        done, self.pending = await asyncio.wait(self.pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception() is not None and self.error is None:
                self.error = task.exception()

    async def finish(self) -> None:
        """Wait for every delivery in flight, whatever happened (nothing is left half-done)."""
        while self.pending:
            await self._wait_one()


async def import_command(store: Backend, args: argparse.Namespace) -> int:
    account = await require_account(store, args.address)
    path = Path(args.path)
    folder = args.folder or "INBOX"
    importer = Importer(store)
    try:
        if path.is_dir():
            await _import_maildir(store, importer, account, path, folder)
        elif path.exists():
            await _import_mbox(store, importer, account, path, folder)
        else:
            raise CommandFailed(f"{path}: no such file or directory")
    except (PillarboxError, OSError) as exc:
        await importer.finish()
        raise _stopped(importer, account, path, exc) from None
    await importer.finish()
    if importer.error is not None:
        raise _stopped(importer, account, path, importer.error)
    print(_summary(importer, account) if importer.counts else f"no messages in {path}; nothing imported")
    if importer.skipped:
        warn(f"skipped {importer.skipped} empty message(s)")
    return EX_OK


async def _import_mbox(store: Backend, importer: Importer, account: Account, path: Path, folder: str) -> None:
    mailbox = await _folder(store, account, folder)
    with path.open("rb") as stream:
        await _feed(importer, mailbox, read_mbox(stream))


async def _import_maildir(
    store: Backend, importer: Importer, account: Account, root: Path, folder: str
) -> None:
    parts = subfolders(root)
    if not is_maildir(root) and not parts:
        raise CommandFailed(f"{root}: not a Maildir (no cur/ or new/ in it) and not an mbox file")
    if is_maildir(root):
        await _feed(importer, await _folder(store, account, folder), read_maildir(root))
    for name, path in parts:
        full = name if folder.upper() == "INBOX" else f"{folder}/{name}"
        if importer.error is None:
            await _feed(importer, await _folder(store, account, full), read_maildir(path))


async def _feed(importer: Importer, mailbox: Mailbox, messages: Iterable[FileMessage | Path]) -> None:
    for message in messages:
        if not await importer.add(mailbox, message):
            return


async def _folder(store: Backend, account: Account, name: str) -> Mailbox:
    mailbox = await store.get_mailbox(account.id, name)
    if mailbox is None:
        mailbox = await store.create_mailbox(account.id, name)
        # the user's mail moved here: its folders should show in clients that list subscribed ones only
        await store.set_subscribed(account.id, mailbox.name, True)
        print(f"created folder {account.address}/{mailbox.name}")
    return mailbox


def _stopped(importer: Importer, account: Account, path: Path, exc: BaseException) -> CommandFailed:
    if isinstance(exc, OSError):
        reason = f"cannot read {exc.filename or path}: {exc.strerror or exc}"
    elif isinstance(exc, PillarboxError):
        reason = str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}"
    else:  # a database failure: sqlite3.Error and the like
        reason = f"{path}: store failure: {exc}"
    if not importer.counts:
        return CommandFailed(f"{reason}; nothing imported")
    return CommandFailed(f"{reason}; {_summary(importer, account, stopped=True)}")


def _summary(importer: Importer, account: Account, stopped: bool = False) -> str:
    total = sum(importer.counts.values())
    noun = "message" if total == 1 else "messages"
    if len(importer.counts) == 1:
        where = f"{account.address}/{next(iter(importer.counts))}"
    elif importer.counts:
        where = f"{account.address} (" + ", ".join(f"{n}: {c}" for n, c in sorted(importer.counts.items())) + ")"
    else:
        where = account.address
    text = f"imported {total} {noun} into {where}"
    return text + " before stopping (each one complete)" if stopped else text
