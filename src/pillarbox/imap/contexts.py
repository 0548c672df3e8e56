"""Searches kept current (RFC 5267 4.3, CONTEXT=SEARCH and CONTEXT=SORT): UPDATE, ADDTO, REMOVEFROM.

A SEARCH or SORT with the UPDATE return option leaves a context in the session: its tag, its search
program, its sort criteria (none for a SEARCH, whose order is the mailbox's: 4.1) and the result as
the client holds it, UIDs in the requested order. Whenever the session reports what changed in the
selected mailbox (after a command, during IDLE, for a NOTIFY watch: ``IMAPSession.report_changes``),
every context is brought up to date and the difference told in ESEARCH responses with its tag:

- expunged messages: REMOVEFROM before the EXPUNGE, while their numbers are still good (4.3.4), and
  at once even when the EXPUNGE must wait (during FETCH, STORE, SEARCH: Appendix A.3);
- new messages and changed flags (``SelectedMailbox.take_touched``): the program is evaluated on those
  messages alone (Appendix B), REMOVEFROM for those that stopped matching, ADDTO for those that
  started, after the EXISTS and FETCH responses that carried the change (4.3.3); with NOTIFY's
  ``UPDATE (fetch-att...)`` (RFC 5465 7), a FETCH of each new message taken in, after its ADDTO.

A SEARCH context gives position 0, "in mailbox order" (4.3.3, 4.3.4). A SORT context gives real
positions, 1 for the first result: removals from the last one back, so that each position is one the
client's list has when it reads it, then insertions from the first one on, each at its place in the
new order (sort keys never change: the kept messages keep their order). Consecutive positions go in
one pair, the preferred form (4.3.3).

Sequence numbers and "$" in the program are fixed at the command, as UIDs (4.3: "evaluated at the time
the command is received"); a UID range up to "*" is evaluated again on every message whenever "*"
moves (new mail, or the last message expunged). OLDER and YOUNGER (RFC 5032) change what they match as
time passes, which no change of the mailbox reports: UPDATE is refused for them with NOUPDATE (4.3.1),
as it is past ``MAX_CONTEXTS``.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pillarbox.imap import response as r
from pillarbox.imap.commands.sorting import sorted_numbered
from pillarbox.imap.fetch import FetchOptions, fetch_responses
from pillarbox.imap.parser.commands import MultiSearch, Search, Sort
from pillarbox.imap.parser.fetch_att import FetchAtt
from pillarbox.imap.parser.search_key import And, Not, NumberKey, Or, SearchKey, SetKey
from pillarbox.imap.parser.sequence_set import SequenceSet
from pillarbox.imap.search import search as run_search
from pillarbox.imap.search import walk
from pillarbox.imap.selected import SelectedMailbox

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession

MAX_CONTEXTS = 8
"""Updating contexts one session may hold (RFC 5267 4.3.1 MUST allow one; 6: a bound against abuse)."""
Pairs = list[tuple[int, list[int]]]
"""(context position, UIDs in the requested order) as ADDTO and REMOVEFROM carry them."""


@dataclass
class UpdateContext:
    tag: str
    uid: bool
    program: And
    order: tuple[tuple[str, bool], ...] | None
    """SORT's criteria; None for a SEARCH (mailbox order)."""
    results: array[int]
    """UIDs in the requested order, as the client holds them."""
    whole: bool
    """A UID range to "*" in the program: every message is evaluated again whenever "*" moves."""
    mailbox_of: tuple[str, int] | None = None
    """An ESEARCH command's (RFC 7377 2.1) MAILBOX and UIDVALIDITY correlators, in its updates too."""
    fetch: tuple[FetchAtt, ...] = ()
    """RFC 5465 7: what to FETCH of each new message the context takes in."""
    last_uid: int = 0
    """The highest UID of the view when the context was last brought up to date: above it, new mail."""

    def holds(self) -> Callable[[int], bool]:
        """Whether a UID is among the results: a SEARCH's are ascending (a bisection), a SORT's not."""
        if self.order is not None:
            return set(self.results).__contains__
        results = self.results

        def held(uid: int) -> bool:
            index = bisect.bisect_left(results, uid)
            return index < len(results) and results[index] == uid

        return held


def reused_tag(session: IMAPSession, command: Search | Sort | MultiSearch) -> r.TaggedReply | None:
    """4.3: UPDATE under the tag of a context still updating is BAD, and the command has no effect."""
    wants = command.returns is not None and "UPDATE" in command.returns.options
    return r.bad(command.tag, "Tag reuse") if wants and command.tag in session.contexts else None


def start(session: IMAPSession, command: Search | Sort | MultiSearch, uids: list[int], saved: list[int]) -> None:
    """Keep ``uids`` (the result, in the requested order) current, or tell NOUPDATE why not (4.3.1)."""
    program = command.search if isinstance(command, Sort) else command.criteria
    if any(isinstance(key, NumberKey) and key.name in ("OLDER", "YOUNGER") for key in walk(program)):
        session.send(r.UntaggedReply("NO", "OLDER and YOUNGER change with time, not updated",
                                     r.code_noupdate(command.tag)).to_bytes())
    elif len(session.contexts) >= MAX_CONTEXTS:
        session.send(r.UntaggedReply("NO", f"At most {MAX_CONTEXTS} updating contexts",
                                     r.code_noupdate(command.tag)).to_bytes())
    else:
        view = session.selected
        assert view is not None
        fixed = _fixed(program, view, saved)
        assert isinstance(fixed, And)
        session.contexts[command.tag] = UpdateContext(
            command.tag, command.uid, fixed, command.criteria if isinstance(command, Sort) else None,
            array("I", uids), any(isinstance(k, SetKey) and k.uid and k.set.uses_star() for k in walk(fixed)),
            (view.mailbox.name, view.mailbox.uidvalidity) if isinstance(command, MultiSearch) else None,
            command.returns.update_fetch if command.returns is not None else (), _last_uid(view))


def cancel(session: IMAPSession, tags: tuple[str, ...]) -> bool:
    """4.3.5: stop the contexts of ``tags``; False (and nothing stopped) if one of them is not updating."""
    if not all(tag in session.contexts for tag in tags):
        return False
    for tag in tags:
        del session.contexts[tag]
    return True


def expunged(session: IMAPSession, view: SelectedMailbox) -> list[bytes]:
    """REMOVEFROM for the pending expunges, to go before the EXPUNGE (4.3.4)."""
    gone = view.pending_expunges
    if not gone or not session.contexts:
        return []
    contexts = session.contexts.values()
    return [line for context in contexts if (line := _tell(session, context, _remove(context, gone), []))]


async def changed(session: IMAPSession, view: SelectedMailbox) -> list[bytes]:
    """ADDTO and REMOVEFROM for the messages new or changed since last told (4.3.2-4.3.4)."""
    if not session.contexts:  # after every command of every session: nothing to sort or look up
        view.touched.clear()
        return []
    touched = view.take_touched()
    lines = []
    for context in list(session.contexts.values()):
        star_moved = context.whole and context.last_uid != _last_uid(view)  # new mail, or the last expunged
        among = view.live_uids() if star_moved else touched
        if not among:
            continue
        matching = set(await run_search(session.store, view, context.program, None, among=among))
        held = context.holds()
        leaving = {uid for uid in among if held(uid) and uid not in matching}
        joining = [uid for uid in among if uid in matching and not held(uid)]
        removed = _remove(context, leaving) if leaving else []
        added = await _add(session, context, joining) if joining else []
        line = _tell(session, context, removed, added)
        if line:
            lines.append(line)
        new = [uid for uid in joining if uid > context.last_uid]
        if context.fetch and new:  # RFC 5465 5.2: after the ADDTO (7 says before: erratum 4833, either)
            options = FetchOptions(uid=True, utf8=session.utf8, condstore=False)
            fetched = await fetch_responses(session.store, view, new, context.fetch, options,
                                            session.services.structures, set())
            lines.extend(fetched.lines)
        context.last_uid = _last_uid(view)
    return lines


def _last_uid(view: SelectedMailbox) -> int:
    return view.uids[-1] if view.uids else 0


def _remove(context: UpdateContext, uids: set[int]) -> Pairs:
    """Take ``uids`` out of the context's results; the REMOVEFROM pairs that say so."""
    positions = [index for index, uid in enumerate(context.results) if uid in uids]
    if context.order is None:
        pairs: Pairs = [(0, [context.results[index] for index in positions])] if positions else []
    else:
        pairs = [(run[0] + 1, [context.results[index] for index in run]) for run in reversed(_runs(positions))]
    for index in reversed(positions):
        del context.results[index]
    return pairs


async def _add(session: IMAPSession, context: UpdateContext, uids: list[int]) -> Pairs:
    """Put ``uids`` (ascending) into the context's results at their places; the ADDTO pairs."""
    if context.order is None:
        for uid in uids:
            context.results.insert(bisect.bisect_left(context.results, uid), uid)
        return [(0, uids)]
    new = set(uids)
    ordered = [uid for _, uid in await sorted_numbered(session, sorted([*context.results, *uids]), context.order)]
    context.results = array("I", ordered)
    positions = [index for index, uid in enumerate(ordered) if uid in new]
    return [(run[0] + 1, [ordered[index] for index in run]) for run in _runs(positions)]


def _runs(positions: list[int]) -> list[list[int]]:
    """``positions`` (ascending) cut into runs of consecutive ones."""
    runs: list[list[int]] = []
    for position in positions:
        if runs and runs[-1][-1] == position - 1:
            runs[-1].append(position)
        else:
            runs.append([position])
    return runs


def _tell(session: IMAPSession, context: UpdateContext, removed: Pairs, added: Pairs) -> bytes:
    """One ESEARCH response with the context's REMOVEFROM then ADDTO, in its numbers (4.3.2)."""
    view = session.selected
    assert view is not None
    items: list[tuple[str, int | str]] = []
    for name, pairs in (("REMOVEFROM", removed), ("ADDTO", added)):
        if pairs:
            numbered = (" ".join(f"{position} {_numbers(view, context, uids)}" for position, uids in pairs))
            items.append((name, f"({numbered})"))
    if not items:
        return b""
    return r.esearch_data(context.tag, context.uid, items, context.mailbox_of, utf8=session.utf8_names)


def _numbers(view: SelectedMailbox, context: UpdateContext, uids: list[int]) -> str:
    numbers = uids if context.uid else [view.seq_of(uid) or 0 for uid in uids]
    return r.uid_set(numbers, sort=False)


def _fixed(key: SearchKey, view: SelectedMailbox, saved: list[int]) -> SearchKey:
    """``key`` with its sequence sets and "$" replaced by the UIDs they name now."""
    match key:
        case And(keys):
            return And(tuple(_fixed(k, view, saved) for k in keys))
        case Or(left, right):
            return Or(_fixed(left, view, saved), _fixed(right, view, saved))
        case Not(inner):
            return Not(_fixed(inner, view, saved))
        case SetKey(set=numbers) if numbers.saved:
            return SetKey(True, SequenceSet().with_saved(saved))
        case SetKey(False, numbers):
            return SetKey(True, SequenceSet().with_saved(view.uid_at(seq) for seq in numbers.iterate(view.exists)))
    return key
