"""The command table: which handler runs a command, and in which states (RFC 9051 3, 6)."""

from __future__ import annotations

from pillarbox.imap import turnaround
from pillarbox.imap.commands import (
    acls,
    appending,
    folders,
    general,
    listing,
    messages,
    metadata,
    multisearch,
    notifying,
    quota,
    selecting,
    sorting,
    urlauthing,
)
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
    "UNAUTHENTICATE": (AUTH, general.unauthenticate),
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
    "ESEARCH": (AUTH, multisearch.multisearch),
    "GETMETADATA": (AUTH, metadata.getmetadata),
    "SETMETADATA": (AUTH, metadata.setmetadata),
    "NOTIFY": (AUTH, notifying.notify_command),
    **dict.fromkeys(("SETACL", "DELETEACL", "GETACL", "LISTRIGHTS", "MYRIGHTS"), (AUTH, acls.acl_command)),
    **dict.fromkeys(("GENURLAUTH", "RESETKEY", "URLFETCH"), (AUTH, urlauthing.urlauth_command)),
    "SORT": (SELECTED, sorting.sort),
    "CANCELUPDATE": (SELECTED, sorting.cancel_update),
    "THREAD": (SELECTED, sorting.thread),
    "FETCH": (SELECTED, messages.fetch),
    "STORE": (SELECTED, messages.store),
    "COPY": (SELECTED, messages.copy),
    "MOVE": (SELECTED, messages.copy),
    "REPLACE": (SELECTED, appending.replace),
}
