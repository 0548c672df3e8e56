"""Selected-state commands (RFC 9051 6.4): FETCH, STORE, SEARCH, COPY, MOVE (6851), EXPUNGE,
UID EXPUNGE (4315), CLOSE, UNSELECT (3691), CHECK; and APPEND (6.3.12, authenticated state).

Sequence sets resolve against the session's view (message numbers as this client knows them);
UID sets against its UIDs, where "*" is the highest UID in the view (6.4.8). A sequence number past
the view is a client error (BAD); a UID that does not exist is silently skipped.
"""

from __future__ import annotations

import bisect
import dataclasses
from typing import TYPE_CHECKING

from pillarbox.errors import ProtocolError, QuotaExceeded, StoreError
from pillarbox.imap import response as r
from pillarbox.imap.commands.folders import folder
from pillarbox.imap.fetch import FetchOptions, fetch_responses, sets_seen
from pillarbox.imap.parser.commands import Append, Command, Copy, Expunge, Fetch, Search, Store
from pillarbox.imap.parser.sequence_set import SequenceSet
from pillarbox.imap.search import search as run_search
from pillarbox.imap.selected import SelectedMailbox
from pillarbox.store.records import DeliveryTarget, Refused

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession

_MODES = {"+": "add", "-": "remove", "": "replace"}


def view_of(session: IMAPSession) -> SelectedMailbox:
    assert session.selected is not None
    return session.selected


def resolve(session: IMAPSession, tag: str, numbers: SequenceSet, uid: bool) -> list[int]:
    """The UIDs (ascending) a sequence set names in the session's view."""
    view = view_of(session)
    if numbers.saved:
        saved = set(session.saved_search)
        return [u for u in view.uids if u in saved]
    if uid:
        largest = view.uids[-1] if view.uids else 0
        found: list[int] = []
        for low, high in numbers.resolve(largest):
            start = bisect.bisect_left(view.uids, low)
            end = bisect.bisect_right(view.uids, high)
            found.extend(view.uids[start:end])
        return found
    if numbers.highest_explicit() > view.exists:
        raise ProtocolError(r.bad(tag, "Invalid message sequence number"))
    return [view.uid_at(seq) for seq in numbers.iterate(view.exists)]


async def fetch(session: IMAPSession, command: Fetch) -> r.TaggedReply:
    view = view_of(session)
    uids = resolve(session, command.tag, command.sequence_set, command.uid)
    changed: set[int] = set()
    if sets_seen(command.items) and not view.read_only:
        unseen = [u for u in uids if u not in view.pending_expunges and "\\Seen" not in view.entry(u).flags]
        if unseen:
            result = await session.store.store_flags(view.id, unseen, "add", ["\\Seen"])
            for change in result.changed:
                view.remember(dataclasses.replace(view.entry(change.uid), flags=change.flags, modseq=change.modseq))
                changed.add(change.uid)
    options = FetchOptions(uid=command.uid, utf8=session.utf8, condstore=False)
    for line in await fetch_responses(session.store, view, uids, command.items, options, session.structures, changed):
        session.send(line)
    return r.ok(command.tag, f"{'UID ' if command.uid else ''}FETCH completed")


async def store(session: IMAPSession, command: Store) -> r.TaggedReply:
    view = view_of(session)
    if view.read_only:
        return r.no(command.tag, r.READ_ONLY, "Mailbox is read-only")
    uids = [
        u for u in resolve(session, command.tag, command.sequence_set, command.uid) if u not in view.pending_expunges
    ]
    result = await session.store.store_flags(view.id, uids, _MODES[command.mode], command.flags, command.unchangedsince)
    changed = {change.uid for change in result.changed}
    for change in result.changed:
        view.remember(dataclasses.replace(view.entry(change.uid), flags=change.flags, modseq=change.modseq))
    report = uids if not command.silent else []
    for uid in report:
        seq = view.seq_of(uid)
        if seq is None or uid in result.modified:
            continue
        items = [("FLAGS", r.flag_list(sorted(view.entry(uid).flags)))]
        if command.uid:
            items.append(("UID", b"%d" % uid))
        if uid in changed or not command.silent:
            session.send(r.fetch_data(seq, items))
    code = r.code_modified(sorted(result.modified)) if result.modified else None
    return r.ok(command.tag, f"{'UID ' if command.uid else ''}STORE completed", code)


async def copy(session: IMAPSession, command: Copy) -> r.TaggedReply:
    view = view_of(session)
    target = await folder(session, command.mailbox)
    if target is None:
        return r.no(command.tag, r.TRYCREATE, "No such mailbox")
    uids = [
        u for u in resolve(session, command.tag, command.sequence_set, command.uid) if u not in view.pending_expunges
    ]
    if command.name == "MOVE" and view.read_only:
        return r.no(command.tag, r.READ_ONLY, "Mailbox is read-only")
    operation = session.store.move if command.name == "MOVE" else session.store.copy
    try:
        pairs = await operation(view.id, uids, target.id)
    except QuotaExceeded:
        return r.no(command.tag, r.OVERQUOTA, "Quota exceeded")
    prefix = "UID " if command.uid else ""
    if not pairs:
        return r.ok(command.tag, f"{prefix}{command.name} completed")
    code = r.code_copyuid(target.uidvalidity, [s for s, _ in pairs], [d for _, d in pairs])
    if command.name == "MOVE":  # RFC 6851 4.3: COPYUID goes in an untagged OK before the expunges
        session.send(r.UntaggedReply("OK", "Moved", code).to_bytes())
        return r.ok(command.tag, f"{prefix}MOVE completed")
    return r.ok(command.tag, f"{prefix}COPY completed", code)


async def expunge(session: IMAPSession, command: Expunge) -> r.TaggedReply:
    view = view_of(session)
    if view.read_only:
        return r.no(command.tag, r.READ_ONLY, "Mailbox is read-only")
    await _expunge_deleted(session, command.uids if command.uid else None, command.tag)
    return r.ok(command.tag, f"{'UID ' if command.uid else ''}EXPUNGE completed")


async def _expunge_deleted(session: IMAPSession, only: SequenceSet | None, tag: str) -> None:
    view = view_of(session)
    candidates = resolve(session, tag, only, uid=True) if only is not None else view.live_uids()
    deleted = [u for u in candidates if "\\Deleted" in view.entry(u).flags]
    if deleted:
        await session.store.expunge(view.id, deleted)


async def close(session: IMAPSession, command: Command) -> r.TaggedReply:
    view = view_of(session)
    if not view.read_only and command.name == "CLOSE":
        await session.store.expunge(view.id, [u for u in view.uids if "\\Deleted" in view.entry(u).flags])
    session.select(None)  # no untagged EXPUNGE: RFC 9051 6.4.1
    return r.ok(command.tag, f"{command.name} completed")


async def search(session: IMAPSession, command: Search) -> r.TaggedReply:
    view = view_of(session)
    if command.charset is not None and command.charset.lower().replace("_", "-") not in (
        "utf-8",
        "us-ascii",
        "ascii",
        "utf8",
    ):
        return r.no(command.tag, r.code_badcharset(), "Unsupported charset")
    uids = await run_search(session.store, view, command.criteria, session.saved_search)
    numbers = uids if command.uid else [view.seq_of(u) or 0 for u in uids]
    returns = command.returns
    if returns is not None and "SAVE" in returns.options:
        session.saved_search = list(uids)
    if returns is None and not session.rev2:
        session.send(r.search_data(numbers))
    else:
        options = returns.options if returns is not None and returns.options else ("ALL",)
        results = _esearch_results(options, numbers)
        if results or returns is None or returns.options != ("SAVE",):
            session.send(r.esearch_data(command.tag, command.uid, results))
    return r.ok(command.tag, f"{'UID ' if command.uid else ''}SEARCH completed")


def _esearch_results(options: tuple[str, ...], numbers: list[int]) -> list[tuple[str, object]]:
    results: list[tuple[str, object]] = []
    if "MIN" in options and numbers:
        results.append(("MIN", min(numbers)))
    if "MAX" in options and numbers:
        results.append(("MAX", max(numbers)))
    if "ALL" in options:
        results.append(("ALL", numbers))
    if "COUNT" in options:
        results.append(("COUNT", len(numbers)))
    return results


async def append(session: IMAPSession, command: Append) -> r.TaggedReply:
    target = await folder(session, command.mailbox)
    if target is None:
        return r.no(command.tag, r.TRYCREATE, "No such mailbox")
    uids = []
    for message in command.messages:
        if not message.data:
            return r.no(command.tag, None, "Empty message")
        flags = frozenset(f for f in message.flags if f.lower() != "\\recent")
        try:
            target_copy = DeliveryTarget(target.id, flags, message.internal_date)
            [result] = await session.store.deliver(message.data, [target_copy])
        except StoreError as exc:
            return r.no(command.tag, r.SERVERBUG, str(exc))
        if isinstance(result, Refused):
            code = r.OVERQUOTA if isinstance(result.error, QuotaExceeded) else r.CANNOT
            return r.no(command.tag, code, str(result.error))
        uids.append(result.uid)
    return r.ok(command.tag, "APPEND completed", r.code_appenduid(target.uidvalidity, uids))
