"""SORT and THREAD commands (RFC 5256, RFC 5957 SORT=DISPLAY, RFC 5267 ESORT): search, then order or thread;
CANCELUPDATE (RFC 5267 4.3.5) for the searches kept current (``imap.contexts``).

The search program runs as for SEARCH; the matching messages' summaries (subject, Date and the
stored structure, all computed at delivery) are read in one store call, so neither command reads
a message body.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Any

from pillarbox.imap import response as r
from pillarbox.imap.answer_cache import UID_BYTES, uid_key
from pillarbox.imap.commands.messages import answer, charset_ok, view_of
from pillarbox.imap.parser.commands import CancelUpdate, Sort, Thread
from pillarbox.imap.search import search as run_search
from pillarbox.imap.sort import NEEDS_ENVELOPE, Facts, sort_order
from pillarbox.imap.thread import ALGORITHMS, ThreadColumns

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
    numbered = list(view_of(session).numbered(uids))
    return [numbered[position] for position in await _sort_order(session, numbered, criteria)]


async def _sort_order(
    session: IMAPSession, numbered: list[tuple[int, int]], criteria: tuple[tuple[str, bool], ...]
) -> list[int]:
    uids = [uid for _, uid in numbered]
    facts = await _facts(session, uids, envelope=any(key in NEEDS_ENVELOPE for key, _ in criteria))
    return sort_order(uids, facts, criteria, view_of(session).entry)


async def sort(session: IMAPSession, command: Sort) -> r.TaggedReply:
    view = view_of(session)
    if not charset_ok(command.charset):
        return r.no(command.tag, r.code_badcharset(), "Unsupported charset")
    reused = session.updating.reused_tag(session, command)
    if reused is not None:
        return reused
    uids = await run_search(session.store, view, command.search, session.saved_search)
    numbered = list(view.numbered(uids))
    key = _answer_key(session, ("SORT", *command.criteria), [uid for _, uid in numbered], by_uid=True)
    order = session.services.answers.get(key)  # positions in ``numbered``: no sequence number in it
    if order is None:
        order = array("l", await _sort_order(session, numbered, command.criteria))
        _remember(session, key, order)
    ordered = [numbered[position] for position in order]
    numbers = [uid if command.uid else seq for seq, uid in ordered]
    answer(session, command, [uid for _, uid in ordered], numbers, ordered=True)  # RFC 5256 4, RFC 5267 3
    return r.ok(command.tag, f"{'UID ' if command.uid else ''}SORT completed")


async def cancel_update(session: IMAPSession, command: CancelUpdate) -> r.TaggedReply:
    """RFC 5267 4.3.5: no more updates for the contexts named; a tag that names none is BAD."""
    if not session.updating.cancel(session, command.tags):
        return r.bad(command.tag, "No updating search has that tag")
    return r.ok(command.tag, "No further updates")


def _remember(session: IMAPSession, key: tuple[Any, ...], answer: object) -> None:
    """Keep ``answer`` in the shared cache, counted as the UIDs its key holds and as many in the answer."""
    view = view_of(session)
    held = len(key[3]) // UID_BYTES + (view.exists if key[4] is not None else 0)
    session.services.answers.put(key, answer, 2 * held, view.exists)


def _answer_key(session: IMAPSession, what: tuple[object, ...], uids: list[int], by_uid: bool) -> tuple[Any, ...]:
    """What an answer depends on (``imap.answer_cache``): the mailbox and its UIDVALIDITY, the command,
    the searched UIDs and, where it names sequence numbers, every UID of the view."""
    view = view_of(session)
    seqs = None if by_uid else view.uids.tobytes()
    return (view.id, view.mailbox.uidvalidity, what, uid_key(uids), seqs)


async def thread(session: IMAPSession, command: Thread) -> r.TaggedReply:
    view = view_of(session)
    if not charset_ok(command.charset):
        return r.no(command.tag, r.code_badcharset(), "Unsupported charset")
    uids = await run_search(session.store, view, command.search, session.saved_search)
    numbered = list(view.numbered(uids))
    key = _answer_key(session, ("THREAD", command.algorithm), [uid for _, uid in numbered], command.uid)
    text = session.services.answers.get(key)
    if text is None:
        read = _linked_columns if command.algorithm == "REFERENCES" else _subject_columns
        text = ALGORITHMS[command.algorithm](await read(session, numbered, command.uid))
        _remember(session, key, text)
    session.send(r.untagged(b"THREAD" + (b" " + text.encode() if text else b"")))  # RFC 5256 4
    return r.ok(command.tag, f"{'UID ' if command.uid else ''}THREAD completed")


def _sent(session: IMAPSession, numbered: list[tuple[int, int]], dates: list[int | None]) -> list[float]:
    """RFC 5256 2.2: the sent date, the Date header, else INTERNALDATE."""
    entry = view_of(session).entry
    pairs = zip(numbered, dates, strict=True)
    return [date if date is not None else entry(uid).internal_seconds for (_, uid), date in pairs]


def _numbers(numbered: list[tuple[int, int]], by_uid: bool) -> list[int]:
    return [uid if by_uid else seq for seq, uid in numbered]


async def _subject_columns(session: IMAPSession, numbered: list[tuple[int, int]], by_uid: bool) -> ThreadColumns:
    """What ORDEREDSUBJECT reads: the sent date and the base subject."""
    rows = await session.store.sort_fields(view_of(session).id)
    found = [rows.get(uid, (None, "")) for _, uid in numbered]
    dates = _sent(session, numbered, [date for date, _ in found])
    return ThreadColumns(_numbers(numbered, by_uid), dates, [base for _, base in found], (), (), ())


async def _linked_columns(session: IMAPSession, numbered: list[tuple[int, int]], by_uid: bool) -> ThreadColumns:
    """What REFERENCES reads: also whether the subject marked a reply, the Message-ID and the
    References (else the first In-Reply-To), recorded at delivery; a message stored before they
    were has them read from its stored structure."""
    rows = await session.store.thread_fields(view_of(session).id)
    found = [rows.get(uid, (None, ("", False), None, None)) for _, uid in numbered]
    message_ids = [row[2] for row in found]
    references = [tuple(row[3].split()) if row[3] else () for row in found]
    older = {numbered[index][1]: index for index, row in enumerate(found) if row[3] is None}
    facts = await _facts(session, list(older), envelope=True) if older else {}
    for uid, index in older.items():
        parsed = facts[uid].parsed
        if parsed is not None:
            references[index] = parsed.references or ((parsed.in_reply_to,) if parsed.in_reply_to else ())
            message_ids[index] = parsed.message_id
    return ThreadColumns(
        _numbers(numbered, by_uid), _sent(session, numbered, [row[0] for row in found]),
        [row[1][0] for row in found], [row[1][1] for row in found], message_ids, references,
    )
