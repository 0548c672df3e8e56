"""What every admin command shares: exit codes, looking things up with clear refusals, printing.

Listings print a readable table, or with ``--json`` a JSON array of objects (dates in ISO 8601).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pillarbox.errors import NotFound, PillarboxError
from pillarbox.store.api import Backend
from pillarbox.store.records import Account, Mailbox

EX_OK = 0
EX_FAIL = 1
EX_USAGE = 2
EX_NOUSER = 67  # sysexits.h: addressee unknown
EX_TEMPFAIL = 75  # sysexits.h: temporary failure, the caller should retry


class CommandFailed(PillarboxError):
    """A refusal with a specific exit status (the message is the one line the user sees)."""

    def __init__(self, message: str, exit_code: int = EX_FAIL) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def warn(message: str) -> None:
    print(f"pillarbox: warning: {message}", file=sys.stderr)


async def require_account(store: Backend, address: str) -> Account:
    account = await store.get_account(address)
    if account is None:
        raise NotFound(f"no user {address}")
    return account


async def require_mailbox(store: Backend, account: Account, name: str) -> Mailbox:
    mailbox = await store.get_mailbox(account.id, name)
    if mailbox is None:
        raise NotFound(f"no folder {name!r} for {account.address} (see: pillarbox mailbox list {account.address})")
    return mailbox


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def human_size(size: int | None) -> str:
    """1536 -> "1.5K"; None (no quota) -> "-"."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("K", "M", "G", "T"):
        value /= 1024
        if value < 1024 or unit == "T":
            return str(size) if size < 1024 else f"{value:.1f}".removesuffix(".0") + unit
    raise AssertionError("unreachable")


def print_json(rows: Sequence[dict[str, Any]]) -> None:
    json.dump(list(rows), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str) -> None:
    if not rows:
        print(empty)
        return
    cells = [[str(c) for c in headers], *([_cell(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.split())  # one line per row whatever the header held
    return text if len(text) <= 60 else text[:59] + "…"


def listing(as_json: bool, headers: Sequence[str], objects: Sequence[dict[str, Any]],
            row: Any, empty: str) -> int:
    """Print ``objects`` as JSON, or as a table of ``row(obj)`` under ``headers``."""
    if as_json:
        print_json(objects)
    else:
        print_table(headers, [row(o) for o in objects], empty)
    return EX_OK
