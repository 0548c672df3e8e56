"""The two ways a Sieve script fails: it is refused when checked, or it fails while it runs.

A ``SieveSyntaxError`` (a word the grammar forbids, an unknown command, a missing ``require``) is found
when the script is uploaded, and is the text ManageSieve and the CLI show. A ``SieveRuntimeError`` (a
limit hit, two incompatible actions, an include loop) is found during delivery, where RFC 5228 2.10.6
says the message is kept as if there were no script: delivery logs it and files into INBOX.
"""

from __future__ import annotations

from pillarbox.errors import PillarboxError


class SieveError(PillarboxError):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.reason = message


class SieveSyntaxError(SieveError):
    """The script is not valid Sieve (or uses something we do not support); refused at upload."""


class SieveRuntimeError(SieveError):
    """Running the script failed; the caller falls back to implicit keep (RFC 5228 2.10.6)."""


class LimitExceeded(SieveRuntimeError):
    """A bound on actions, redirects, steps, includes or variable sizes was hit (RFC 5228 10)."""
