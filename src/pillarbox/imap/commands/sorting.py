"""SORT and THREAD commands (RFC 5256, RFC 5957 SORT=DISPLAY, RFC 5267 ESORT): search, then order or thread;
CANCELUPDATE (RFC 5267 4.3.5) for the searches kept current (``imap.contexts``).

The search program runs as for SEARCH; the matching messages' summaries (subject, Date and the
stored structure, all computed at delivery) are read in one store call, so neither command reads
a message body.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pillarbox.imap import response as r
from pillarbox.imap.commands.messages import answer, charset_ok, view_of
from pillarbox.imap.parser.commands import CancelUpdate, Sort, Thread
from pillarbox.imap.search import search as run_search
from pillarbox.imap.sort import NEEDS_ENVELOPE, Facts, sort_numbered
from pillarbox.imap.thread import ALGORITHMS, ThreadMessage

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession


async def _facts(session: IMAPSession, uids: list[int], envelope: bool) -> dict[int, Facts]:
    """UID → Facts: one query over the mailbox for Date and base subject, the summaries for the rest."""
    view = view_of(session)
    if not envelope:
        rows = await session.store.sort_fields(view.id)
        return {uid: Facts(*rows.get(uid, (None, ""))) for uid in uids}
    message_ids = {entry.uid: entry.message_id for _, entry in view.numbered_entries(uids)}
    summaries = await session.store.get_summaries(list(message_ids.values()))
    return {uid: Facts.of(summaries.get(message_id)) for uid, message_id in message_ids.items()}


async def sorted_numbered(
    session: IMAPSession, uids: list[int], criteria: tuple[tuple[str, bool], ...]
) -> list[tuple[int, int]]:
    """(sequence number, UID) of ``uids`` (ascending, in the view) in the order of ``criteria``."""
    view = view_of(session)
    facts = await _facts(session, uids, envelope=any(key in NEEDS_ENVELOPE for key, _ in criteria))
    return sort_numbered(list(view.numbered(uids)), facts, criteria, view.entry)


async def sort(session: IMAPSession, command: Sort) -> r.TaggedReply:
    view = view_of(session)
    if not charset_ok(command.charset):
        return r.no(command.tag, r.code_badcharset(), "Unsupported charset")
    reused = session.updating.reused_tag(session, command)
    if reused is not None:
        return reused
    uids = await run_search(session.store, view, command.search, session.saved_search)
    ordered = await sorted_numbered(session, uids, command.criteria)
    numbers = [uid if command.uid else seq for seq, uid in ordered]
    answer(session, command, [uid for _, uid in ordered], numbers, ordered=True)  # RFC 5256 4, RFC 5267 3
    return r.ok(command.tag, f"{'UID ' if command.uid else ''}SORT completed")


async def cancel_update(session: IMAPSession, command: CancelUpdate) -> r.TaggedReply:
    """RFC 5267 4.3.5: no more updates for the contexts named; a tag that names none is BAD."""
    if not session.updating.cancel(session, command.tags):
        return r.bad(command.tag, "No updating search has that tag")
    return r.ok(command.tag, "No further updates")


async def thread(session: IMAPSession, command: Thread) -> r.TaggedReply:
    view = view_of(session)
    if not charset_ok(command.charset):
        return r.no(command.tag, r.code_badcharset(), "Unsupported charset")
    uids = await run_search(session.store, view, command.search, session.saved_search)
    fields = await session.store.thread_fields(view.id)
    older = [uid for uid in uids if fields.get(uid, (None, "", None, None))[3] is None]
    facts = await _facts(session, older, envelope=True) if older else {}  # stored before thread_refs
    messages = []
    for seq, uid in view.numbered(uids):
        seconds, base, message_id, refs = fields.get(uid, (None, ("", False), None, None))
        sent = datetime.fromtimestamp(seconds, UTC) if seconds is not None else view.entry(uid).internal_date
        references = tuple(refs.split()) if refs else ()
        parsed = facts[uid].parsed if uid in facts else None
        if parsed is not None:
            references = parsed.references or ((parsed.in_reply_to,) if parsed.in_reply_to else ())
            message_id = parsed.message_id
        # RFC 5256 2.2: the sent date; References, else the first In-Reply-To (recorded at delivery)
        number = uid if command.uid else seq
        messages.append(ThreadMessage(number, seq, sent, "", message_id, references, known_base=base))
    text = ALGORITHMS[command.algorithm](messages)
    session.send(r.untagged(b"THREAD" + (b" " + text.encode() if text else b"")))  # RFC 5256 4
    return r.ok(command.tag, f"{'UID ' if command.uid else ''}THREAD completed")
