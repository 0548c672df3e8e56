"""Mailbox commands: SELECT/EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, LIST, LSUB, STATUS, APPEND.

Each ``parse_*`` starts after ``tag SP command-name`` and reads to the end of the command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pillarbox.imap.parser.commands import (
    Append,
    AppendMessage,
    Create,
    ListCommand,
    MailboxCommand,
    QResync,
    Rename,
    Replace,
    Select,
    Status,
)
from pillarbox.imap.parser.flags import parse_flag_list
from pillarbox.imap.parser.metadata_cmds import entry_run
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
RETURN_OPTIONS = frozenset({"SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "MYRIGHTS", "STATUS", "METADATA"})
_USE_NAMES = ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash")
USE_ATTRS = {name.upper(): name for name in _USE_NAMES}
MAX_APPEND_MESSAGES = 1000
MAX_CAT_PARTS = 1000


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
    """``create = "CREATE" SP mailbox [create-params]``; RFC 6154 ``"USE" SP "(" [use-attr *(SP use-attr)] ")"``."""
    reader.sp()
    mailbox = reader.mailbox()
    uses: tuple[str, ...] = ()
    if reader.take(b" ("):
        if reader.keyword() != "USE":
            raise ParseError("Unknown CREATE parameter")
        reader.expect(b" (")
        found = [] if reader.peek() == b")" else [_use_attr(reader)]  # RFC 6154 6: [use-attr *(SP use-attr)]
        while found and reader.take(b" "):
            found.append(_use_attr(reader))
        reader.expect(b"))")
        uses = tuple(dict.fromkeys(found))
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
    returned = _ReturnOptions()
    if name == "LIST" and reader.take(b" RETURN "):
        returned, extended = _return_options(reader), True
    reader.end()
    return ListCommand(tag, name, reference, patterns, selection, tuple(returned.options), returned.status, extended,
                       returned.metadata, returned.metadata_maxsize)


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


@dataclass
class _ReturnOptions:
    options: list[str] = field(default_factory=list)
    status: tuple[str, ...] = ()
    metadata: tuple[str, ...] = ()
    metadata_maxsize: int | None = None


def _return_options(reader: Reader) -> _ReturnOptions:
    """``list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"`` ("RETURN SP" read)."""
    reader.expect(b"(")
    found = _ReturnOptions()
    while not reader.take(b")"):
        if found.options:
            reader.sp()
        option = reader.keyword()
        if option not in RETURN_OPTIONS:
            raise ParseError(f"Invalid return option {option}")
        if option == "STATUS":  # RFC 5819: "STATUS" SP "(" status-att *(SP status-att) ")"
            reader.sp()
            found.status = tuple(dict.fromkeys(found.status + _status_atts(reader)))
        elif option == "METADATA":
            reader.sp()
            _metadata_option(reader, found)
        if option not in found.options:  # RFC 9051 6.3.9: an option given twice acts as if given once
            found.options.append(option)
    return found


def _metadata_option(reader: Reader, found: _ReturnOptions) -> None:
    """RFC 9590: ``"METADATA" SP "(" [getmetadata-options SP] entry *(SP entry) ")"`` (MAXSIZE only)."""
    reader.expect(b"(")
    if reader.take(b"("):
        reader.expect(b"MAXSIZE ", "MAXSIZE")
        found.metadata_maxsize = reader.number()
        reader.expect(b") ")
    found.metadata = tuple(dict.fromkeys(found.metadata + entry_run(reader)))


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


def _cat_parts(reader: Reader) -> tuple[tuple[str, bytes], ...]:
    """RFC 4469 5: ``"CATENATE" SP "(" cat-part *(SP cat-part) ")"``, ``cat-part = text-literal / url``,
    ``text-literal = "TEXT" SP literal``, ``url = "URL" SP astring`` ("CATENATE (" read)."""
    parts: list[tuple[str, bytes]] = []
    while True:
        if len(parts) >= MAX_CAT_PARTS:
            raise ParseError("Too many CATENATE parts", code="LIMIT", status="NO")
        kind = reader.keyword()
        reader.sp()
        if kind == "TEXT":
            parts.append((kind, reader.literal()))
        elif kind == "URL":
            parts.append((kind, reader.astring()))
        else:
            raise ParseError(f"Invalid CATENATE part {kind}")
        if not reader.take(b" "):
            break
    reader.expect(b")")
    return tuple(parts)


def parse_replace(reader: Reader, tag: str, name: str, uid: bool) -> Replace:
    """RFC 8508 5: ``replace = "REPLACE" SP seq-number SP mailbox append-message``; ``uid =/ "UID" SP replace``."""
    reader.sp()
    number = reader.nz_number()
    reader.sp()
    mailbox = reader.mailbox()
    message = _append_message(reader)
    reader.end()
    return Replace(tag, name, uid, number, mailbox, message)


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
    if reader.take(b"CATENATE ("):
        return AppendMessage(flags, when, b"", catenate=_cat_parts(reader))
    binary = reader.is_literal8()
    return AppendMessage(flags, when, reader.literal(allow_binary=True), binary)
