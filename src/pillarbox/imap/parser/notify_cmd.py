"""NOTIFY (RFC 5465 8): ``notify = "NOTIFY" SP (notify-set / notify-none)``.

``notify-set = "SET" [SP "STATUS"] SP event-groups``, ``event-group = "(" filter-mailboxes SP events
")"``, ``events = ("(" event *(SP event) ")") / "NONE"``, ``message-event = ("MessageNew" [SP "("
fetch-att *(SP fetch-att) ")"]) / "MessageExpunge" / "FlagChange" / "AnnotationChange"``. The rules of 5
and 8 that make a command BAD are checked here: MessageNew and MessageExpunge only together,
FlagChange and AnnotationChange only with both, fetch-atts and only message events with SELECTED or
SELECTED-DELAYED, and at most one of those two. An event we do not know is syntax we cannot refuse
as BAD (``event-ext = atom``): the command refuses it with NO [BADEVENT].
"""

from __future__ import annotations

from pillarbox.imap.parser.commands import EventGroup, Notify
from pillarbox.imap.parser.fetch_att import FetchAtt, parse_fetch_items
from pillarbox.imap.parser.mailbox_filter import SELECTED_KINDS, parse_filter
from pillarbox.imap.parser.primitives import ParseError, Reader

NOTIFY_KINDS = frozenset({"SELECTED", "SELECTED-DELAYED", "INBOXES", "PERSONAL", "SUBSCRIBED", "SUBTREE",
                          "MAILBOXES"})
MESSAGE_EVENTS = frozenset({"MESSAGENEW", "MESSAGEEXPUNGE", "FLAGCHANGE", "ANNOTATIONCHANGE"})
MAX_GROUPS = 100


def parse_notify(reader: Reader, tag: str, name: str) -> Notify:
    reader.sp()
    if reader.take(b"NONE"):
        reader.end()
        return Notify(tag, name, None)
    reader.expect(b"SET", "SET or NONE")
    status = reader.take(b" STATUS")
    groups: list[EventGroup] = []
    while reader.take(b" "):
        if len(groups) >= MAX_GROUPS:
            raise ParseError("Too many event groups")
        groups.append(_event_group(reader))
    reader.end()
    if not groups:
        raise ParseError("NOTIFY SET needs an event group")
    if sum(group.filter.kind in SELECTED_KINDS for group in groups) > 1:
        raise ParseError("Only one of SELECTED and SELECTED-DELAYED")
    return Notify(tag, name, tuple(groups), status)


def _event_group(reader: Reader) -> EventGroup:
    reader.expect(b"(")
    spec = parse_filter(reader, NOTIFY_KINDS)
    reader.sp()
    events: list[str] = []
    fetch: tuple[FetchAtt, ...] = ()
    if not reader.take(b"NONE"):
        reader.expect(b"(")
        while True:
            event = reader.keyword()
            if event == "MESSAGENEW" and reader.peek(2) == b" (":
                reader.sp()
                fetch = parse_fetch_items(reader)
            events.append(event)
            if not reader.take(b" "):
                break
        reader.expect(b")")
    reader.expect(b")")
    group = EventGroup(spec, tuple(dict.fromkeys(events)), fetch)
    _check(group)
    return group


def _check(group: EventGroup) -> None:
    events = set(group.events)
    if ("MESSAGENEW" in events) != ("MESSAGEEXPUNGE" in events):
        raise ParseError("MessageNew and MessageExpunge go together")  # 5
    if events & {"FLAGCHANGE", "ANNOTATIONCHANGE"} and "MESSAGENEW" not in events:
        raise ParseError("FlagChange needs MessageNew and MessageExpunge")  # 5
    selected = group.filter.kind in SELECTED_KINDS
    if group.fetch and not selected:
        raise ParseError("MessageNew fetch attributes only for the selected mailbox")  # 8
    if selected and events - MESSAGE_EVENTS:
        raise ParseError("Only message events for the selected mailbox")  # 8
