"""The command table: which handler runs a command, and in which states (RFC 9051 3, 6)."""

from __future__ import annotations

from pillarbox.imap import turnaround
from pillarbox.imap.commands import appending, folders, general, listing, messages, quota, selecting, sorting
from pillarbox.imap.session import ANY, AUTH, NOT_AUTH, SELECTED, Handler, IMAPSession, State


async def _idle(session: IMAPSession, command):  # type: ignore[no-untyped-def]
    await turnaround.idle(session, command)


TABLE: dict[str, tuple[frozenset[State], Handler]] = {
    "CAPABILITY": (ANY, general.capability),
    "NOOP": (ANY, general.noop),
    "LOGOUT": (ANY, general.logout),
    "ID": (ANY, general.id_command),
    "STARTTLS": (NOT_AUTH, turnaround.starttls),
    "AUTHENTICATE": (NOT_AUTH, turnaround.authenticate),
    "LOGIN": (NOT_AUTH, general.login),
    "ENABLE": (AUTH, general.enable),
    "NAMESPACE": (AUTH, general.namespace),
    "COMPRESS": (AUTH, turnaround.compress),
    "GETQUOTA": (AUTH, quota.getquota),
    "GETQUOTAROOT": (AUTH, quota.getquotaroot),
    "SETQUOTA": (AUTH, quota.setquota),
    "SELECT": (AUTH, selecting.select),
    "EXAMINE": (AUTH, selecting.select),
    "CREATE": (AUTH, folders.create),
    "DELETE": (AUTH, folders.delete),
    "RENAME": (AUTH, folders.rename),
    "SUBSCRIBE": (AUTH, folders.subscribe),
    "UNSUBSCRIBE": (AUTH, folders.subscribe),
    "LIST": (AUTH, listing.list_mailboxes),
    "LSUB": (AUTH, listing.list_mailboxes),
    "STATUS": (AUTH, folders.status),
    "APPEND": (AUTH, appending.append),
    "IDLE": (AUTH, _idle),
    "CHECK": (SELECTED, general.noop),
    "CLOSE": (SELECTED, messages.close),
    "UNSELECT": (SELECTED, messages.close),
    "EXPUNGE": (SELECTED, messages.expunge),
    "SEARCH": (SELECTED, messages.search),
    "SORT": (SELECTED, sorting.sort),
    "THREAD": (SELECTED, sorting.thread),
    "FETCH": (SELECTED, messages.fetch),
    "STORE": (SELECTED, messages.store),
    "COPY": (SELECTED, messages.copy),
    "MOVE": (SELECTED, messages.copy),
}
