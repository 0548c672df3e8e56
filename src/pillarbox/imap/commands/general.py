"""Commands of any state (RFC 9051 6.1, 6.2) and the light authenticated ones: CAPABILITY, NOOP,
LOGOUT, ID, ENABLE, LOGIN, UNAUTHENTICATE (RFC 8437), NAMESPACE."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pillarbox import __version__
from pillarbox.auth.authenticator import LoginRefused
from pillarbox.imap import response as r
from pillarbox.imap.commands.folders import DELIMITER, SHARED_ROOT
from pillarbox.imap.parser.commands import Command, Enable, Id, Login
from pillarbox.obs import get_logger, log_event

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession

log = get_logger("imap")
ENABLEABLE = frozenset({"IMAP4REV2", "CONDSTORE", "QRESYNC", "UTF8=ACCEPT"})


async def capability(session: IMAPSession, command: Command) -> r.TaggedReply:
    session.send(r.capability_data(session.capabilities()))
    return r.ok(command.tag, "CAPABILITY completed")


async def noop(session: IMAPSession, command: Command) -> r.TaggedReply:
    return r.ok(command.tag, f"{command.name} completed")


async def logout(session: IMAPSession, command: Command) -> r.TaggedReply:
    session.send(r.bye("Logging out").to_bytes())
    session.closed = True
    return r.ok(command.tag, "LOGOUT completed")


async def id_command(session: IMAPSession, command: Id) -> r.TaggedReply:
    session.send(r.id_data([("name", "Pillarbox"), ("version", __version__)]))
    return r.ok(command.tag, "ID completed")


async def enable(session: IMAPSession, command: Enable) -> r.TaggedReply:
    """RFC 5161: only what we implement is enabled, and ENABLED lists just those newly enabled."""
    newly = [name for name in command.capabilities if name in ENABLEABLE and name not in session.enabled]
    session.enabled.update(newly)
    if "QRESYNC" in newly:
        session.enabled.add("CONDSTORE")  # RFC 7162 3.2.3: QRESYNC implies CONDSTORE
    if "IMAP4REV2" in newly and session.selected is not None:
        session.selected.recent.clear()  # IMAP4rev2 has no \Recent (RFC 9051 Appendix E 10)
    session.send(r.enabled_data(newly))
    return r.ok(command.tag, "ENABLE completed")


async def login(session: IMAPSession, command: Login) -> r.TaggedReply:
    if not session.conn.is_tls:
        # RFC 9051 6.2.3 and LOGINDISABLED: never a clear-text password, loopback included
        return r.no(command.tag, r.PRIVACYREQUIRED, "LOGIN is disabled before STARTTLS")
    try:
        account = await session.services.authenticator.login(
            "imap", session.conn.peer[0], command.userid, command.password, secure=session.conn.is_tls
        )
    except LoginRefused:  # a locked-out client too: it must not learn that its guesses go unchecked
        return r.no(command.tag, r.AUTHENTICATIONFAILED, "Authentication failed")
    return session.complete_login(account, command.tag)


async def unauthenticate(session: IMAPSession, command: Command) -> r.TaggedReply | None:
    """RFC 8437 3: OK, and the session is not authenticated any more; never NO (a client may have
    pipelined its next AUTHENTICATE). Where the state cannot be reset, BYE, as the RFC allows: when
    the connection cannot take a stranger's place again, and under COMPRESS, whose inflater cannot
    tell where the client's compressed bytes end and its plain ones begin (4.1)."""
    assert session.user is not None
    user = session.user.address
    if session.deflate is not None or not session.conn.logged_out():
        session.send(r.bye("Cannot return to the not authenticated state here; reconnect", r.UNAVAILABLE).to_bytes())
        session.closed = True
        return None
    session.logout_user()
    log_event(log, "info", "unauthenticated", session=session.session_id, user=user, client=session.conn.peer[0])
    return r.ok(command.tag, "UNAUTHENTICATE completed")


async def namespace(session: IMAPSession, command: Command) -> r.TaggedReply:
    session.send(r.namespace_data([("", "/")], None, [(SHARED_ROOT + DELIMITER, DELIMITER)]))  # RFC 2342 5
    return r.ok(command.tag, "NAMESPACE completed")
