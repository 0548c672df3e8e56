"""Progress of long CLI work: a line that counts up on a terminal, nothing at all in a script."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO


def progress_printer(what: str, stream: TextIO | None = None) -> Callable[[int, int], None] | None:
    """A ``(done, total)`` callback that rewrites one line of ``stream`` (stderr), or None when it is
    not a terminal (cron, pipes, tests): then the command prints only its result."""
    out = stream or sys.stderr
    if not out.isatty():
        return None
    shown = [-1]

    def show(done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        if percent != shown[0] or done == total:
            shown[0] = percent
            out.write(f"\r{what}: {done}/{total} ({percent}%)" + ("\n" if done == total else ""))
            out.flush()

    return show
