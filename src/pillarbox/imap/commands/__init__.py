"""The command table: which handler runs a command, and in which states (RFC 9051 3, 6)."""

from __future__ import annotations

from pillarbox.imap.commands import folders, general, messages
from pillarbox.imap.session import ANY, AUTH, NOT_AUTH, SELECTED, Handler, IMAPSession, State


async def _starttls(session: IMAPSession, command):  # type: ignore[no-untyped-def]
    return await session.starttls(command)


async def _authenticate(session: IMAPSession, command):  # type: ignore[no-untyped-def]
    return await session.authenticate(command)


async def _idle(session: IMAPSession, command):  # type: ignore[no-untyped-def]
    await session.idle(command)


TABLE: dict[str, tuple[frozenset[State], Handler]] = {
    "CAPABILITY": (ANY, general.capability),
    "NOOP": (ANY, general.noop),
    "LOGOUT": (ANY, general.logout),
    "ID": (ANY, general.id_command),
    "STARTTLS": (NOT_AUTH, _starttls),
    "AUTHENTICATE": (NOT_AUTH, _authenticate),
    "LOGIN": (NOT_AUTH, general.login),
    "ENABLE": (AUTH, general.enable),
    "NAMESPACE": (AUTH, general.namespace),
    "SELECT": (AUTH, folders.select),
    "EXAMINE": (AUTH, folders.select),
    "CREATE": (AUTH, folders.create),
    "DELETE": (AUTH, folders.delete),
    "RENAME": (AUTH, folders.rename),
    "SUBSCRIBE": (AUTH, folders.subscribe),
    "UNSUBSCRIBE": (AUTH, folders.subscribe),
    "LIST": (AUTH, folders.list_mailboxes),
    "LSUB": (AUTH, folders.list_mailboxes),
    "STATUS": (AUTH, folders.status),
    "APPEND": (AUTH, messages.append),
    "IDLE": (AUTH, _idle),
    "CHECK": (SELECTED, general.noop),
    "CLOSE": (SELECTED, messages.close),
    "UNSELECT": (SELECTED, messages.close),
    "EXPUNGE": (SELECTED, messages.expunge),
    "SEARCH": (SELECTED, messages.search),
    "FETCH": (SELECTED, messages.fetch),
    "STORE": (SELECTED, messages.store),
    "COPY": (SELECTED, messages.copy),
    "MOVE": (SELECTED, messages.copy),
}
