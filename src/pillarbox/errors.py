"""The error types that cross module boundaries.

Protocol code raises ``ProtocolError`` carrying the reply to send; one dispatcher per protocol turns it
into bytes. Configuration and storage have their own types so the CLI can print one line for each.
"""

from __future__ import annotations


class PillarboxError(Exception):
    """Base of every error Pillarbox raises on purpose; its message is one line for a human."""


class ConfigError(PillarboxError):
    """The configuration file or a command-line option is unusable."""


class StoreError(PillarboxError):
    """A storage operation was refused (unknown account, duplicate name, missing folder...)."""


class NotFound(StoreError):
    """The named domain, account, alias, mailbox or message does not exist."""


class AlreadyExists(StoreError):
    """The named object exists already."""


class QuotaExceeded(StoreError):
    """Storing this would put the account over its quota."""


class LimitReached(StoreError):
    """The operation would make more of something than its configured limit allows (annotations...)."""


class StorageFull(StoreError):
    """The disk is full, or new mail would leave less free than the reserve: a temporary refusal, nothing
    was stored, and the same request will succeed once there is room again."""


class ProtocolError(PillarboxError):
    """A peer's input was refused; ``reply`` is what the protocol sends back (type depends on protocol)."""

    def __init__(self, reply: object, message: str = "") -> None:
        super().__init__(message or str(reply))
        self.reply = reply
        self.detail = message
        """Why, for the log line (which address, which rule), when the reply's text is not enough."""


class StoreUnavailable(PillarboxError):
    """The store cannot be reached right now (database down, failing over, connection lost).

    Not a refusal of the operation (not a ``StoreError``): nothing was committed, and the same request
    may succeed once the store is back. Protocols answer with their temporary-failure reply
    (SMTP 451 4.3.0, IMAP NO [UNAVAILABLE], POP3 -ERR [SYS/TEMP])."""


class InvalidInput(PillarboxError):
    """A value given to an operation is unusable; ``field`` names it (a form field, an API parameter, a
    command-line argument), and the message says why in one line."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
