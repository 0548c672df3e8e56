"""A consistent copy of a live data_dir, and putting one back.

The problem: the server keeps delivering while the copy is taken, and a copy is only worth having if
every row in it has its bytes and every counter agrees with its rows. Copying the files (``cp -a``)
gets neither: the database file and its WAL are caught at different moments, and blobs come and go.

The database: SQLite's online backup API (``sqlite3.Connection.backup``) with every page in one step
reads inside a single read transaction. In WAL mode a reader never blocks the writer, so delivery goes
on, and the copy is the database exactly as of one commit.

The blobs (bodies above the in-row limit, ``store/blobs.py``): a blob is on disk before any committed
row names it and is never changed, so every blob the snapshot names exists, whole, when the snapshot
is taken. It can only vanish afterwards, when a message deleted since is its last user. So we copy
the blobs the snapshot names, checking each against its name (SHA-256); if one is gone we take a new
snapshot (which no longer names it) and copy what that one adds. This ends after a round or two,
since only mail deleted during the copy forces another.

The rest: the TLS and ACME key material. Locks, wake-up sockets and the workers' load board belong to
running processes and are not copied. The copy is built in a ``DEST.partial-PID`` folder and renamed to
DEST when complete, so DEST is a whole backup or absent. It is itself a data_dir: ``restore`` copies it
onto an empty data_dir, and ``serve --config`` with ``data_dir`` pointed at it would run it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pillarbox.errors import StoreError
from pillarbox.store.blobs import BlobStore, fsync_path
from pillarbox.store.datadir import DATABASE_NAME, has_store
from pillarbox.store.sqlite.schema import MIGRATIONS

KEY_MATERIAL = ("tls", "acme")  # folders of the data_dir that hold keys and certificates
MAX_ROUNDS = 10
CHUNK = 1024 * 1024

Progress = Callable[[int, int], None]  # (done, total) message files


class BackupError(StoreError):
    """A backup or restore that cannot be done (the message says why, on one line)."""


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    messages: int
    blob_files: int
    schema_version: int


def backup(data_dir: Path, dest: Path, progress: Progress | None = None) -> BackupSummary:
    """Copy the store in ``data_dir`` to the new folder ``dest`` while the server may be running."""
    data_dir, dest = Path(data_dir), Path(dest)
    if not has_store(data_dir):
        raise BackupError(f"no Pillarbox store in {data_dir}")
    _refuse_nonempty(dest, "backup destination")
    work = dest.with_name(f"{dest.name}.partial-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(mode=0o700, parents=True)
    try:
        names = _copy_consistent(data_dir, work, progress)
        for folder in KEY_MATERIAL:
            if (data_dir / folder).is_dir():
                shutil.copytree(data_dir / folder, work / folder, copy_function=shutil.copy2)
        _sync_tree(work)
        messages, version = _describe(work / DATABASE_NAME)
        _replace_empty(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BackupSummary(dest, messages, len(names), version)


def restore(source: Path, data_dir: Path, progress: Progress | None = None) -> BackupSummary:
    """Copy the backup ``source`` onto ``data_dir``, which must hold no store (empty or absent)."""
    source, data_dir = Path(source), Path(data_dir)
    if not has_store(source):
        raise BackupError(f"{source} is not a Pillarbox backup (no {DATABASE_NAME} in it)")
    messages, version = _describe(source / DATABASE_NAME)
    if version > len(MIGRATIONS):
        raise BackupError(f"{source} was made by a newer Pillarbox (schema {version}, this one knows "
                          f"{len(MIGRATIONS)}); restore it with that version")
    _refuse_nonempty(data_dir, "data_dir", allowed={"serve.lock"})
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    blob_files = _copy_blob_tree(BlobStore(source / "blobs"), BlobStore(data_dir / "blobs"), progress)
    for folder in KEY_MATERIAL:
        if (source / folder).is_dir():
            shutil.copytree(source / folder, data_dir / folder, copy_function=shutil.copy2)
    # the database last: until it is there the data_dir holds no store, and admin commands say so
    tmp = data_dir / f".{DATABASE_NAME}.restoring"
    shutil.copy2(source / DATABASE_NAME, tmp)
    _sync_tree(data_dir)
    os.replace(tmp, data_dir / DATABASE_NAME)
    fsync_path(data_dir)
    return BackupSummary(data_dir, messages, blob_files, version)


def _refuse_nonempty(path: Path, what: str, allowed: set[str] | None = None) -> None:
    if path.exists() and (not path.is_dir() or set(os.listdir(path)) - (allowed or set())):
        raise BackupError(f"{what} {path} exists and is not empty; name a new or empty folder")


def _replace_empty(work: Path, dest: Path) -> None:
    if dest.is_dir():
        dest.rmdir()  # empty (checked before): rename cannot replace a folder otherwise
    os.rename(work, dest)
    fsync_path(dest.parent)


def _copy_consistent(data_dir: Path, work: Path, progress: Progress | None) -> set[str]:
    """Snapshot the database into ``work`` and copy every blob it names; another round whenever a
    named blob vanished meanwhile (its message was deleted after the snapshot)."""
    source, target = BlobStore(data_dir / "blobs"), BlobStore(work / "blobs")
    copied: set[str] = set()
    for _round in range(MAX_ROUNDS):
        _snapshot(data_dir / DATABASE_NAME, work / DATABASE_NAME)
        wanted = _blob_files_named(work / DATABASE_NAME)
        missing = _copy_blobs(source, target, sorted(wanted - copied), copied, progress)
        if not missing:
            for stale in copied - wanted:  # copied for an earlier snapshot only
                target.unlink(stale)
            return wanted
    raise BackupError(f"blobs kept vanishing during {MAX_ROUNDS} rounds; is something deleting mail in bulk?")


def _snapshot(database: Path, copy: Path) -> None:
    copy.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(copy)
    try:
        src.backup(dst)  # pages=-1: every page in one step, inside one read transaction
        dst.execute("PRAGMA journal_mode = DELETE")  # a single file: no -wal beside it
        problems = [row[0] for row in dst.execute("PRAGMA quick_check") if row[0] != "ok"]
    finally:
        dst.close()
        src.close()
    if problems:
        raise BackupError(f"the copied database fails SQLite's check: {problems[0]}")


def _blob_files_named(database: Path) -> set[str]:
    conn = sqlite3.connect(database)
    try:
        rows = conn.execute("SELECT DISTINCT m.blob FROM messages m WHERE NOT EXISTS"
                            " (SELECT 1 FROM message_bodies b WHERE b.message_id = m.id)")
        return {row[0] for row in rows}
    finally:
        conn.close()


def _copy_blobs(source: BlobStore, target: BlobStore, names: list[str], copied: set[str],
                progress: Progress | None) -> bool:
    """Copy ``names``, checking each against its SHA-256; True when one of them was gone."""
    missing = False
    for done, name in enumerate(names, 1):
        try:
            _copy_checked(source.path(name), target.path(name), name)
            copied.add(name)
        except FileNotFoundError:
            missing = True
        if progress is not None:
            progress(done, len(names))
    return missing


def _copy_checked(src: Path, dst: Path, name: str) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with open(src, "rb") as reader, open(dst, "wb") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
    if digest.hexdigest() != name:
        dst.unlink()
        raise BackupError(f"message file {src} is damaged (its content no longer matches its name)")


def _copy_blob_tree(source: BlobStore, target: BlobStore, progress: Progress | None) -> int:
    names = sorted(p.name for p in source.root.rglob("*") if p.is_file() and len(p.name) == 64)
    copied: set[str] = set()
    if _copy_blobs(source, target, names, copied, progress):
        raise BackupError(f"a message file vanished from {source.root} while restoring")
    return len(copied)


def _describe(database: Path) -> tuple[int, int]:
    """(messages, schema version) of a copied database."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        return int(messages), int(version)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{database}: not a Pillarbox database ({exc})") from None
    finally:
        conn.close()


def _sync_tree(root: Path) -> None:
    """fsync every file and folder under ``root``: the copy is durable before it is named."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            fsync_path(Path(folder, name))
        fsync_path(Path(folder))
