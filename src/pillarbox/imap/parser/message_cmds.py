"""Commands on the selected mailbox: SEARCH, FETCH, STORE, COPY, MOVE, UID EXPUNGE, SORT, THREAD.

Each ``parse_*`` starts after ``tag SP command-name`` (after ``"UID" SP name`` for UID forms).
"""

from __future__ import annotations

from pillarbox.imap.parser.commands import (
    CancelUpdate,
    Copy,
    Expunge,
    Fetch,
    MultiSearch,
    Search,
    SearchReturn,
    Sort,
    Store,
    Thread,
)
from pillarbox.imap.parser.fetch_att import (
    FetchAtt,
    FetchModifiers,
    parse_fetch_items,
    parse_fetch_modifiers,
    parse_partial_range,
)
from pillarbox.imap.parser.flags import parse_flag, parse_flag_list
from pillarbox.imap.parser.mailbox_filter import MailboxFilter, parse_filter
from pillarbox.imap.parser.primitives import MAX_NUMBER64, ParseError, Reader
from pillarbox.imap.parser.search_key import And, SearchParser, check_charset
from pillarbox.imap.parser.sequence_set import parse_sequence_set

SEARCH_RETURN_OPTS = frozenset({"MIN", "MAX", "ALL", "COUNT", "SAVE", "PARTIAL", "CONTEXT", "UPDATE"})
SORT_KEYS = frozenset({"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"})
THREAD_ALGORITHMS = frozenset({"ORDEREDSUBJECT", "REFERENCES"})


MULTISEARCH_KINDS = frozenset({"SELECTED", "INBOXES", "PERSONAL", "SUBSCRIBED", "SUBTREE", "SUBTREE-ONE", "MAILBOXES"})


def parse_esearch(reader: Reader, tag: str, name: str) -> MultiSearch:
    """RFC 7377 4: ``esearch = "ESEARCH" [SP esearch-source-opts] [SP search-return-opts] SP
    search-program``; ``esearch-source-opts = "IN" SP "(" source-mbox [SP "(" scope-options ")"] ")"``,
    ``source-mbox = filter-mailboxes *(SP filter-mailboxes)`` without "selected-delayed" (2.2)."""
    reader.sp()
    sources: list[MailboxFilter] = []
    if reader.take(b"IN ("):
        sources.append(parse_filter(reader, MULTISEARCH_KINDS))
        while reader.take(b" "):
            if reader.peek() == b"(":
                raise ParseError("Unknown scope option")  # none is defined (4)
            sources.append(parse_filter(reader, MULTISEARCH_KINDS))
        reader.expect(b")")
        reader.sp()
    returns, charset, criteria = _returns_and_program(reader)
    return MultiSearch(tag, name, tuple(dict.fromkeys(sources)), criteria, charset, returns)


def parse_search(reader: Reader, tag: str, name: str, uid: bool) -> Search:
    """``search = "SEARCH" [search-return-opts] SP search-program``; ``search-program = ["CHARSET" SP
    charset SP] search-key *(SP search-key)``."""
    reader.sp()
    returns, charset, criteria = _returns_and_program(reader)
    return Search(tag, name, uid, criteria, charset, returns)


def _returns_and_program(reader: Reader) -> tuple[SearchReturn | None, str | None, And]:
    """``[search-return-opts] search-program``: the return options, the CHARSET given, the criteria."""
    returns = _search_return(reader)
    charset = None
    if reader.take(b"CHARSET "):
        charset = _charset(reader)
        reader.sp()
    return returns, charset, SearchParser(reader, check_charset(charset or "utf-8")).program()


def _charset(reader: Reader) -> str:
    """``charset = atom / quoted``."""
    return (reader.quoted() if reader.peek() == b'"' else reader.atom().encode()).decode("ascii", "replace")


def _search_return(reader: Reader) -> SearchReturn | None:
    """``search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"``;
    RFC 9394 ``modifier-partial = "PARTIAL" SP partial-range``, never beside ALL (3.1); RFC 5267
    ``modifier-context = "CONTEXT"``, ``modifier-update = "UPDATE"``."""
    if not reader.take(b"RETURN ("):
        return None
    options: list[str] = []
    partial: tuple[int, int] | None = None
    update_fetch: tuple[FetchAtt, ...] = ()
    while not reader.take(b")"):
        if options:
            reader.sp()
        option = reader.keyword()
        if option not in SEARCH_RETURN_OPTS:
            raise ParseError(f"Unknown SEARCH return option {option}")
        if option == "PARTIAL":
            if partial is not None:
                raise ParseError("PARTIAL given twice")
            reader.sp()
            partial = parse_partial_range(reader)
        if option == "UPDATE" and (reader.peek() == b"(" or reader.peek(2) == b" ("):  # RFC 5465 7 (and its example)
            reader.take(b" ")
            update_fetch = parse_fetch_items(reader)
        options.append(option)
    reader.sp()
    if partial is not None and "ALL" in options:
        raise ParseError("PARTIAL and ALL cannot be used together")  # RFC 9394 3.1, RFC 5267 4.4
    return SearchReturn(tuple(dict.fromkeys(options)), partial, update_fetch)


def parse_cancelupdate(reader: Reader, tag: str, name: str) -> CancelUpdate:
    """RFC 5267 5: ``"CANCELUPDATE" 1*(SP quoted)``."""
    tags: list[str] = []
    while reader.take(b" "):
        tags.append(reader.quoted().decode("utf-8", "surrogateescape"))
    if not tags:
        raise ParseError("CANCELUPDATE needs the tag of a searching command")
    reader.end()
    return CancelUpdate(tag, name, tuple(dict.fromkeys(tags)))


def parse_fetch(reader: Reader, tag: str, name: str, uid: bool) -> Fetch:
    """``fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att
    *(SP fetch-att) ")") [fetch-modifiers]``."""
    reader.sp()
    sequence_set = parse_sequence_set(reader)
    reader.sp()
    items = parse_fetch_items(reader)
    modifiers = parse_fetch_modifiers(reader) if reader.take(b" ") else FetchModifiers()
    reader.end()
    if modifiers.vanished and not uid:
        raise ParseError("VANISHED is only allowed with UID FETCH")
    if modifiers.partial is not None and not uid:
        raise ParseError("PARTIAL is only allowed with UID FETCH")  # RFC 9394 3.3
    return Fetch(tag, name, uid, sequence_set, items, modifiers)


def parse_store(reader: Reader, tag: str, name: str, uid: bool) -> Store:
    """``store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags``; ``store-att-flags =
    (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))``."""
    reader.sp()
    sequence_set = parse_sequence_set(reader)
    reader.sp()
    unchangedsince = None
    if reader.take(b"(UNCHANGEDSINCE "):  # RFC 7162 3.1.3 store-modifier
        unchangedsince = reader.number(MAX_NUMBER64)
        reader.expect(b") ")
    mode = "+" if reader.take(b"+") else "-" if reader.take(b"-") else ""
    reader.expect(b"FLAGS", "FLAGS")
    silent = reader.take(b".SILENT")
    reader.sp()
    if reader.peek() == b"(":
        flags = parse_flag_list(reader)
    else:
        found = [parse_flag(reader)]
        while reader.take(b" "):
            found.append(parse_flag(reader))
        flags = tuple(dict.fromkeys(found))
    reader.end()
    return Store(tag, name, uid, sequence_set, mode, silent, flags, unchangedsince)


def parse_copy(reader: Reader, tag: str, name: str, uid: bool) -> Copy:
    """``copy = "COPY" SP sequence-set SP mailbox``; ``move = "MOVE" SP sequence-set SP mailbox``."""
    reader.sp()
    sequence_set = parse_sequence_set(reader)
    reader.sp()
    mailbox = reader.mailbox()
    reader.end()
    return Copy(tag, name, uid, sequence_set, mailbox)


def parse_expunge(reader: Reader, tag: str, name: str, uid: bool) -> Expunge:
    """``expunge = "EXPUNGE"``; ``uid-expunge = "EXPUNGE" SP sequence-set`` (RFC 4315 2.1)."""
    if not uid:
        reader.end()
        return Expunge(tag, name)
    reader.sp()
    uids = parse_sequence_set(reader)
    reader.end()
    return Expunge(tag, name, True, uids)


def parse_sort(reader: Reader, tag: str, name: str, uid: bool) -> Sort:
    """``sort = ["UID" SP] "SORT" [sort-return-opts] SP sort-criteria SP search-criteria`` (RFC 5256,
    RFC 5267 return options); ``sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"``."""
    reader.sp()
    returns = _search_return(reader)
    reader.expect(b"(")
    criteria = [_sort_criterion(reader)]
    while reader.take(b" "):
        criteria.append(_sort_criterion(reader))
    reader.expect(b")")
    reader.sp()
    charset = _charset(reader)
    reader.sp()
    search = SearchParser(reader, check_charset(charset)).program()
    return Sort(tag, name, uid, tuple(criteria), charset, search, returns)


def _sort_criterion(reader: Reader) -> tuple[str, bool]:
    """``sort-criterion = ["REVERSE" SP] sort-key``."""
    reverse = reader.take(b"REVERSE ")
    key = reader.keyword()
    if key not in SORT_KEYS:
        raise ParseError(f"Unknown sort key {key}")
    return key, reverse


def parse_thread(reader: Reader, tag: str, name: str, uid: bool) -> Thread:
    """``thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria``."""
    reader.sp()
    algorithm = reader.keyword()
    if algorithm not in THREAD_ALGORITHMS:
        raise ParseError(f"Unknown thread algorithm {algorithm}")
    reader.sp()
    charset = _charset(reader)
    reader.sp()
    search = SearchParser(reader, check_charset(charset)).program()
    return Thread(tag, name, uid, algorithm, charset, search)
