"""ESEARCH over several mailboxes (RFC 7377 MULTISEARCH).

The command names mailboxes with NOTIFY's specifiers (``mailbox_sets``), or none for the selected one.
Each mailbox is searched in the newest snapshot of it (``imap.snapshot``, what a SELECT would show,
read-only: no \\Seen, no \\Recent taken) without leaving the selected one, and the answer is always by
UID, one ESEARCH response per mailbox with a match, carrying TAG, MAILBOX and UIDVALIDITY (2.1).
Sequence numbers in the criteria name messages of each searched mailbox as a fresh SELECT would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pillarbox.errors import NotFound
from pillarbox.imap import esearch
from pillarbox.imap import response as r
from pillarbox.imap.commands.mailbox_sets import named_mailboxes
from pillarbox.imap.commands.messages import charset_ok, reported_modseq
from pillarbox.imap.parser.commands import MultiSearch, SearchReturn
from pillarbox.imap.search import search as run_search
from pillarbox.imap.selected import SelectedMailbox

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession

MAX_MAILBOXES = 1000
"""Mailboxes one ESEARCH may search (RFC 7377 2.4 and 5: a limit on one command's work); past it NO [LIMIT]."""


async def multisearch(session: IMAPSession, command: MultiSearch) -> r.TaggedReply:
    sources = {spec.kind for spec in command.sources} or {"SELECTED"}
    if "SELECTED" in sources and session.selected is None:
        return r.bad(command.tag, "No mailbox is selected")  # 2.2
    returns = command.returns or SearchReturn(("ALL",))
    if "SAVE" in returns.options and sources != {"SELECTED"}:
        return r.bad(command.tag, "SAVE needs the selected mailbox alone")  # 2.2
    updating = "UPDATE" in returns.options
    if updating and session.selected is None:
        return r.bad(command.tag, "UPDATE needs a selected mailbox")  # 2.2 (RFC 5267 4.3)
    reused = session.updating.reused_tag(session, command) if updating else None
    if reused is not None:
        return reused
    if not charset_ok(command.charset):
        return r.no(command.tag, r.code_badcharset(), "Unsupported charset")
    views = [session.selected] if "SELECTED" in sources and session.selected is not None else []
    chosen = {view.id for view in views}
    others = [m for m in await named_mailboxes(session, command.sources) if m.id not in chosen]
    if len(views) + len(others) > MAX_MAILBOXES:
        return r.no(command.tag, r.LIMIT, f"At most {MAX_MAILBOXES} mailboxes in one search")
    for view in views:
        saved = session.saved_search
        uids = await _answer(session, command, returns, view, saved)
        if updating:  # 2.2: UPDATE applies to the selected mailbox only
            session.updating.start(session, command, uids, saved)
    if updating and not views:
        session.send(r.UntaggedReply("NO", "Updates are for the selected mailbox only",
                                     r.code_noupdate(command.tag)).to_bytes())
    for mailbox in others:
        try:
            columns = await session.services.snapshots.current(session.store, mailbox.id)
        except NotFound:  # deleted since it was listed
            continue
        await _answer(session, command, returns, SelectedMailbox(columns, read_only=True), [])
    return r.ok(command.tag, "ESEARCH completed")


async def _answer(
    session: IMAPSession, command: MultiSearch, returns: SearchReturn, view: SelectedMailbox, saved: list[int]
) -> list[int]:
    """Search ``view`` and answer for it; its matches."""
    uids = await run_search(session.store, view, command.criteria, saved)
    reported = esearch.reported_positions(returns, len(uids))
    if "SAVE" in returns.options:
        session.saved_search = [uids[i] for i in reported]
    if not uids:
        return uids  # 2.1: no response for a mailbox without a match
    results: list[tuple[str, int | str]] = list(esearch.return_data(returns, uids))
    modseq = reported_modseq(session, view, command.criteria, [uids[i] for i in reported])
    if modseq is not None:
        results.append(("MODSEQ", modseq))
    where = (view.mailbox.name, view.mailbox.uidvalidity)
    session.send(r.esearch_data(command.tag, True, results, where, utf8=session.utf8_names))
    return uids
