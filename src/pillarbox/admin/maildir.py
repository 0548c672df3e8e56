"""Reading a Maildir (cur/ and new/) and the Maildir++ subfolders of a Maildir root.

A message is one file. Files in new/ are unseen; a file in cur/ carries its flags after the "info"
separator (``name:2,FRS``; ``!`` or ``;`` stand for ``:`` where a filesystem forbids colons):
D = \\Draft, F = \\Flagged, P = $Forwarded, R = \\Answered, S = \\Seen, T = \\Deleted. Lower-case
letters are Dovecot keywords, numbered by a side file; they are ignored. INTERNALDATE is the file's
modification time (what Dovecot uses; copy with ``cp -p``/``rsync -t`` to keep it).

Maildir++ (Courier, Dovecot): the root is INBOX; each subfolder is a directory ``.Sub.Folder`` beside
cur/ and new/, whose name is in modified UTF-7 (RFC 3501 5.1.3) with "." as the hierarchy separator.
It becomes "Sub/Folder". Files are read in delivery order (the leading timestamp of the name).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from pillarbox.admin.mbox import FileMessage

_INFO = re.compile(r"[:!;]2,([A-Za-z]*)$")
_FLAG_LETTERS = {"D": "\\Draft", "F": "\\Flagged", "P": "$Forwarded", "R": "\\Answered", "S": "\\Seen",
                 "T": "\\Deleted"}
_LEADING_NUMBER = re.compile(r"(\d+)")


def is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() or (path / "new").is_dir()


def subfolders(root: Path) -> list[tuple[str, Path]]:
    """The Maildir++ subfolders of ``root``: ("Sub/Folder", root/".Sub.Folder"), sorted by name."""
    found = []
    for entry in os.scandir(root):
        if entry.name.startswith(".") and entry.name not in (".", "..") and entry.is_dir():
            path = Path(entry.path)
            if is_maildir(path) and len(entry.name) > 1:
                found.append((_folder_name(entry.name[1:]), path))
    return sorted(found)


def _folder_name(dotted: str) -> str:
    return "/".join(decode_mutf7(part) for part in dotted.split(".") if part)


def decode_mutf7(text: str) -> str:
    """Modified UTF-7 (``&AOk-`` → ``é``, ``&-`` → ``&``); text that is not valid mUTF-7 stays as it is."""
    out, i = [], 0
    while i < len(text):
        if text[i] != "&":
            out.append(text[i])
            i += 1
            continue
        end = text.find("-", i)
        if end < 0:
            return text
        chunk = text[i + 1:end]
        try:
            out.append(base64.b64decode(chunk.replace(",", "/") + "=" * (-len(chunk) % 4)).decode("utf-16-be")
                       if chunk else "&")
        except (binascii.Error, UnicodeDecodeError):
            return text
        i = end + 1
    return "".join(out)


def flags_of(filename: str) -> frozenset[str]:
    match = _INFO.search(filename)
    if match is None:
        return frozenset()
    return frozenset(_FLAG_LETTERS[c] for c in match.group(1) if c in _FLAG_LETTERS)


def _order(path: Path) -> tuple[int, str]:
    match = _LEADING_NUMBER.match(path.name)
    return (int(match.group(1)) if match else 0, path.name)


def message_files(maildir: Path) -> list[Path]:
    files = []
    for sub in ("new", "cur"):
        directory = maildir / sub
        if directory.is_dir():
            files.extend(Path(e.path) for e in os.scandir(directory) if not e.name.startswith(".") and e.is_file())
    return sorted(files, key=_order)


def read_maildir(maildir: Path) -> Iterator[FileMessage | Path]:
    """Each message of one Maildir folder; an empty file comes back as its Path (to be skipped)."""
    for path in message_files(maildir):
        with path.open("rb") as f:
            raw = f.read()
            mtime = os.fstat(f.fileno()).st_mtime
        if not raw.strip():
            yield path
            continue
        flags = flags_of(path.name) if path.parent.name == "cur" else frozenset()
        yield FileMessage(raw, flags, datetime.fromtimestamp(mtime, UTC))
