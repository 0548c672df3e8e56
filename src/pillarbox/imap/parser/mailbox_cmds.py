"""Mailbox commands: SELECT/EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, LIST, LSUB, STATUS, APPEND.

Each ``parse_*`` starts after ``tag SP command-name`` and reads to the end of the command.
"""

from __future__ import annotations

from datetime import datetime

from pillarbox.imap.parser.commands import (
    Append,
    AppendMessage,
    Create,
    ListCommand,
    MailboxCommand,
    QResync,
    Rename,
    Select,
    Status,
)
from pillarbox.imap.parser.flags import parse_flag_list
from pillarbox.imap.parser.primitives import ParseError, Reader
from pillarbox.imap.parser.sequence_set import SequenceSet, parse_sequence_set

STATUS_ATTS = frozenset(
    [
        "MESSAGES",
        "UIDNEXT",
        "UIDVALIDITY",
        "UNSEEN",
        "DELETED",
        "SIZE",
        "RECENT",
        "HIGHESTMODSEQ",
        "APPENDLIMIT",
        "MAILBOXID",
    ]
)
SELECT_OPTIONS = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})
RETURN_OPTIONS = frozenset({"SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "MYRIGHTS", "STATUS"})
_USE_NAMES = ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash")
USE_ATTRS = {name.upper(): name for name in _USE_NAMES}
MAX_APPEND_MESSAGES = 1000


def parse_select(reader: Reader, tag: str, name: str) -> Select:
    """``select = "SELECT" SP mailbox [select-params]``, ``select-params = SP "(" select-param
    *(SP select-param) ")"`` with CONDSTORE (RFC 7162 3.1.8) and QRESYNC (3.2.5)."""
    reader.sp()
    mailbox = reader.mailbox()
    condstore, qresync = False, None
    if reader.take(b" ("):
        while True:
            param = reader.keyword()
            if param == "CONDSTORE" and not condstore:
                condstore = True
            elif param == "QRESYNC" and qresync is None:
                reader.sp()
                qresync = _qresync(reader)
            else:
                raise ParseError(f"Invalid SELECT parameter {param}")
            if not reader.take(b" "):
                break
        reader.expect(b")")
    reader.end()
    return Select(tag, name, mailbox, readonly=name == "EXAMINE", condstore=condstore, qresync=qresync)


def _qresync(reader: Reader) -> QResync:
    reader.expect(b"(")
    uidvalidity = reader.nz_number()
    reader.sp()
    modseq = reader.nz_number(2**63 - 1)
    known: SequenceSet | None = None
    match: tuple[SequenceSet, SequenceSet] | None = None
    if reader.take(b" "):
        if reader.peek() != b"(":
            known = parse_sequence_set(reader, allow_saved=False)
            if not reader.take(b" "):
                reader.expect(b")")
                return QResync(uidvalidity, modseq, known)
        reader.expect(b"(")
        seqs = parse_sequence_set(reader, allow_saved=False)
        reader.sp()
        match = (seqs, parse_sequence_set(reader, allow_saved=False))
        reader.expect(b")")
    reader.expect(b")")
    return QResync(uidvalidity, modseq, known, match)


def parse_create(reader: Reader, tag: str, name: str) -> Create:
    """``create = "CREATE" SP mailbox [create-params]``; RFC 6154 ``"USE" SP "(" use-attr ... ")"``."""
    reader.sp()
    mailbox = reader.mailbox()
    uses: tuple[str, ...] = ()
    if reader.take(b" ("):
        if reader.keyword() != "USE":
            raise ParseError("Unknown CREATE parameter")
        reader.expect(b" (")
        found = [_use_attr(reader)]
        while reader.take(b" "):
            found.append(_use_attr(reader))
        reader.expect(b"))")
        uses = tuple(found)
    reader.end()
    return Create(tag, name, mailbox, uses)


def _use_attr(reader: Reader) -> str:
    reader.expect(b"\\")
    text = "\\" + reader.atom()
    attr = USE_ATTRS.get(text.upper())
    if attr is None:
        raise ParseError("Unknown special-use attribute", code="USEATTR", status="NO")
    return attr


def parse_mailbox_only(reader: Reader, tag: str, name: str) -> MailboxCommand:
    """DELETE, SUBSCRIBE, UNSUBSCRIBE, GETQUOTAROOT: ``SP mailbox``."""
    reader.sp()
    mailbox = reader.mailbox()
    reader.end()
    return MailboxCommand(tag, name, mailbox)


def parse_rename(reader: Reader, tag: str, name: str) -> Rename:
    """``rename = "RENAME" SP mailbox SP mailbox``."""
    reader.sp()
    old = reader.mailbox()
    reader.sp()
    new = reader.mailbox()
    reader.end()
    return Rename(tag, name, old, new)


def parse_list(reader: Reader, tag: str, name: str) -> ListCommand:
    """``list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]`` (RFC 5258);
    ``lsub = "LSUB" SP mailbox SP list-mailbox``."""
    reader.sp()
    selection: tuple[str, ...] = ()
    extended = False
    if name == "LIST" and reader.peek() == b"(":
        selection, extended = _options(reader, SELECT_OPTIONS), True
        # RFC 5258 3.1: RECURSIVEMATCH MUST NOT occur as the only selection option, or only with REMOTE
        if "RECURSIVEMATCH" in selection and not set(selection) - {"RECURSIVEMATCH", "REMOTE"}:
            raise ParseError("RECURSIVEMATCH needs another selection option")
        reader.sp()
    reference = reader.list_mailbox()  # a mailbox; read as a pattern so "" and wildcards pass
    reader.sp()
    if name == "LIST" and reader.peek() == b"(":
        patterns, extended = _patterns(reader), True
    else:
        patterns = (reader.list_mailbox(),)
    if name == "LIST" and reader.take(b" RETURN "):
        returns, status_items = _return_options(reader)
        extended = True
    else:
        returns, status_items = (), ()
    reader.end()
    return ListCommand(tag, name, reference, patterns, selection, returns, status_items, extended)


def _options(reader: Reader, allowed: frozenset[str]) -> tuple[str, ...]:
    reader.expect(b"(")
    found: list[str] = []
    while not reader.take(b")"):
        if found:
            reader.sp()
        option = reader.keyword()
        if option not in allowed:
            raise ParseError(f"Unknown option {option}")
        found.append(option)
    return tuple(dict.fromkeys(found))


def _patterns(reader: Reader) -> tuple[str, ...]:
    """``patterns = "(" list-mailbox *(SP list-mailbox) ")"``."""
    reader.expect(b"(")
    found = [reader.list_mailbox()]
    while reader.take(b" "):
        found.append(reader.list_mailbox())
    reader.expect(b")")
    return tuple(found)


def _return_options(reader: Reader) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"`` ("RETURN SP" read)."""
    reader.expect(b"(")
    options: list[str] = []
    status: tuple[str, ...] = ()
    while not reader.take(b")"):
        if options:
            reader.sp()
        option = reader.keyword()
        if option not in RETURN_OPTIONS:
            raise ParseError(f"Invalid return option {option}")
        if option == "STATUS":  # RFC 5819: "STATUS" SP "(" status-att *(SP status-att) ")"
            reader.sp()
            status = tuple(dict.fromkeys(status + _status_atts(reader)))
        if option not in options:  # RFC 9051 6.3.9: an option given twice acts as if given once
            options.append(option)
    return tuple(options), status


def parse_status(reader: Reader, tag: str, name: str) -> Status:
    """``status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"``."""
    reader.sp()
    mailbox = reader.mailbox()
    reader.sp()
    items = _status_atts(reader)
    reader.end()
    return Status(tag, name, mailbox, items)


def _status_atts(reader: Reader) -> tuple[str, ...]:
    reader.expect(b"(")
    items = [reader.keyword()]
    while reader.take(b" "):
        items.append(reader.keyword())
    reader.expect(b")")
    for item in items:
        if item not in STATUS_ATTS:
            raise ParseError(f"Unknown STATUS item {item}")
    return tuple(dict.fromkeys(items))


def parse_append(reader: Reader, tag: str, name: str) -> Append:
    """``append = "APPEND" SP mailbox 1*append-message`` (RFC 3502 MULTIAPPEND; RFC 9051 has one)."""
    reader.sp()
    mailbox = reader.mailbox()
    messages = [_append_message(reader)]
    while not reader.at_end():
        if len(messages) >= MAX_APPEND_MESSAGES:
            raise ParseError("Too many messages in one APPEND", code="LIMIT", status="NO")
        messages.append(_append_message(reader))
    return Append(tag, name, mailbox, tuple(messages))


def _append_message(reader: Reader) -> AppendMessage:
    """``append-message = SP [flag-list SP] [date-time SP] append-data``; ``append-data = literal /
    literal8 / "UTF8" SP "(" literal8 ")"`` (RFC 6855 4)."""
    reader.sp()
    flags: tuple[str, ...] = ()
    when: datetime | None = None
    if reader.peek() == b"(":
        flags = parse_flag_list(reader)
        reader.sp()
    if reader.peek() == b'"':
        when = reader.date_time()
        reader.sp()
    if reader.take(b"UTF8 ("):
        data = reader.literal(allow_binary=True)
        reader.expect(b")")
        return AppendMessage(flags, when, data, binary=True)
    binary = reader.is_literal8()
    return AppendMessage(flags, when, reader.literal(allow_binary=True), binary)
