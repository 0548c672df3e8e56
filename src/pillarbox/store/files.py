"""Who may read the data_dir: its owner, nobody else.

The data_dir holds password hashes and DKIM private keys (in the database), the mail itself (database
and blob files) and the TLS key. With the usual umask of 022 every one of them was readable by every
local user. Three layers keep them private:

- the process umask is 077 from the start of every ``pillarbox`` command (``cli``), so whatever any
  part of Pillarbox creates (SQLite's WAL and SHM, metrics, locks, spool files) is 0600 / 0700;
- the store creates its own files and folders with those modes explicitly, so it does not depend on
  the umask (a store opened by a library user or a test is private too);
- at start the server repairs an older install: the data_dir and what lies directly in it every time,
  the whole tree when the data_dir itself was open to others (once: after that it is 0700, and behind a
  0700 folder nothing is reachable by others anyway). ``pillarbox store check`` walks the whole tree
  and names every path whose mode is wrong.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

UMASK = 0o077
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_OPEN_TO_OTHERS = 0o077  # any permission bit for the group or others


def make_private_dirs(path: Path) -> None:
    """``mkdir -p`` where every folder it creates is 0700 (``Path.mkdir`` gives parents the umask's mode)."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue  # another process made it meanwhile


def create_private_file(path: Path) -> None:
    """Create ``path`` empty as 0600 unless it exists (SQLite then gives its WAL and SHM the same mode).

    An existing file is never opened: closing a descriptor of a database file drops every POSIX lock
    the process holds on it, those of its open SQLite connections too (a second store in a process)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))


def wanted_mode(mode: int) -> int | None:
    """The mode a path of st_mode ``mode`` should have, or None when it is right (or not ours to set:
    a symbolic link has no mode of its own)."""
    if stat.S_ISLNK(mode) or not mode & _OPEN_TO_OTHERS:
        return None
    private = PRIVATE_DIR if stat.S_ISDIR(mode) else PRIVATE_FILE
    return stat.S_IMODE(mode) & private


def open_paths(root: Path, deep: bool = True) -> Iterator[tuple[Path, int, int]]:
    """(path, its mode, the mode it should have) of every path under ``root`` (itself included) that
    others may use; without ``deep`` only ``root`` and what lies directly in it."""
    paths: Iterator[Path] = _walk(root) if deep else iter([root, *root.iterdir()])
    for path in paths:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            continue  # removed meanwhile (a blob, a temporary file)
        wanted = wanted_mode(mode)
        if wanted is not None:
            yield path, stat.S_IMODE(mode), wanted


def repair(root: Path) -> list[Path]:
    """Make the data_dir private again (see the module's notes for how far it looks); returns what it changed."""
    if not root.is_dir():
        return []  # a first start: the store makes it private
    deep = wanted_mode(root.lstat().st_mode) is not None
    changed = []
    for path, _mode, wanted in list(open_paths(root, deep)):
        os.chmod(path, wanted)  # never a symbolic link (open_paths skips them)
        changed.append(path)
    return changed


def _walk(root: Path) -> Iterator[Path]:
    yield root
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        for name in (*dirs, *files):
            yield base / name
