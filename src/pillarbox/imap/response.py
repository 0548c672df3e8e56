"""IMAP responses as bytes (RFC 9051 7, formal syntax 9): replies, response codes, data items.

Everything a server writes is built here so the session never formats wire text itself. Strings go
out as ``quoted`` when they are short and safe, otherwise as a ``literal`` (RFC 9051 4.3): a quoted
string cannot hold CR, LF or NUL, and holds 8-bit text only once the client enabled UTF8=ACCEPT
(RFC 6855 3). Mailbox names are sent in modified UTF-7 to IMAP4rev1 clients (RFC 3501 5.1.3).

Replies (``TaggedReply``, ``UntaggedReply``) are what ``ProtocolError`` carries; ``ok``, ``no``,
``bad`` build them. ENVELOPE and BODYSTRUCTURE live in ``bodystructure``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pillarbox.errors import StorageFull, StoreError
from pillarbox.imap import utf7

MAX_QUOTED = 1024  # longer strings go out as literals
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_UNSAFE_QUOTED = frozenset(b"\r\n\x00")
CRLF = b"\r\n"


# -- replies ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaggedReply:
    """``tag SP resp-cond-state`` (RFC 9051 7.1): status is OK, NO or BAD; tag "*" makes it untagged."""

    tag: str
    status: str
    text: str
    code: str | None = None

    def to_bytes(self) -> bytes:
        code = f"[{self.code}] " if self.code else ""
        return f"{self.tag} {self.status} {code}{_text(self.text)}".encode() + CRLF


@dataclass(frozen=True)
class UntaggedReply:
    """``"*" SP (resp-cond-state / resp-cond-bye)``: OK, NO, BAD, BYE or PREAUTH with a code."""

    status: str
    text: str
    code: str | None = None

    def to_bytes(self) -> bytes:
        return TaggedReply("*", self.status, self.text, self.code).to_bytes()


def _text(text: str) -> str:
    """``text = 1*TEXT-CHAR``: no CR/LF; an empty text becomes a single word."""
    cleaned = text.replace("\r", " ").replace("\n", " ").replace("\x00", " ")
    return cleaned or "."


def ok(tag: str, text: str = "Completed", code: str | None = None) -> TaggedReply:
    return TaggedReply(tag, "OK", text, code)


def no(tag: str, code: str | None, text: str) -> TaggedReply:
    return TaggedReply(tag, "NO", text, code)


def storage_full(tag: str) -> TaggedReply:
    """A full disk (or the store's free-space reserve). RFC 5530: UNAVAILABLE is a temporary failure of
    a subsystem, the client may try again later; OVERQUOTA would tell the user that their own quota
    is used up and send them deleting mail that is not the cause."""
    return no(tag, UNAVAILABLE, "Insufficient storage on the server, try again later")


def store_refused(tag: str, exc: StoreError) -> TaggedReply:
    """NO for a store refusal without a more specific code."""
    return storage_full(tag) if isinstance(exc, StorageFull) else no(tag, CANNOT, str(exc))


def bad(tag: str, text: str, code: str | None = None) -> TaggedReply:
    return TaggedReply(tag, "BAD", text, code)


def bye(text: str, code: str | None = None) -> UntaggedReply:
    return UntaggedReply("BYE", text, code)


def continuation(text: str = "Ready for literal data") -> bytes:
    """``continue-req = "+" SP (resp-text / base64) CRLF``."""
    return b"+ " + _text(text).encode() + CRLF


def untagged(*items: bytes) -> bytes:
    """``"*" SP`` the space-separated items, CRLF."""
    return b"* " + b" ".join(items) + CRLF


# -- response codes (RFC 9051 7.1, and each extension's own) ------------------------------------------

ALERT, ALREADYEXISTS, AUTHENTICATIONFAILED = "ALERT", "ALREADYEXISTS", "AUTHENTICATIONFAILED"
AUTHORIZATIONFAILED, CANNOT, CLIENTBUG, CLOSED = "AUTHORIZATIONFAILED", "CANNOT", "CLIENTBUG", "CLOSED"
CONTACTADMIN, CORRUPTION, EXPIRED, EXPUNGEISSUED = "CONTACTADMIN", "CORRUPTION", "EXPIRED", "EXPUNGEISSUED"
HASCHILDREN, INUSE, LIMIT, NONEXISTENT = "HASCHILDREN", "INUSE", "LIMIT", "NONEXISTENT"
NOMODSEQ, NOPERM, NOTSAVED, OVERQUOTA, PARSE = "NOMODSEQ", "NOPERM", "NOTSAVED", "OVERQUOTA", "PARSE"
PRIVACYREQUIRED, READ_ONLY, READ_WRITE = "PRIVACYREQUIRED", "READ-ONLY", "READ-WRITE"
SERVERBUG, TOOBIG, TRYCREATE, UNAVAILABLE = "SERVERBUG", "TOOBIG", "TRYCREATE", "UNAVAILABLE"
UNKNOWN_CTE, UIDNOTSTICKY, COMPRESSIONACTIVE = "UNKNOWN-CTE", "UIDNOTSTICKY", "COMPRESSIONACTIVE"
USEATTR = "USEATTR"

TOO_MANY_CONNECTIONS = bye("Too many connections, try again later", UNAVAILABLE)
"""The goodbye of a connection refused or let go because its listener is full (``net/limits.py``)."""


def code_capability(capabilities: Iterable[str]) -> str:
    return "CAPABILITY " + " ".join(capabilities)


def code_inprogress(tag: str, done: int | None = None, goal: int | None = None) -> str:
    """RFC 9585: ``"INPROGRESS" SP "(" progress-tag SP progress-count SP progress-goal ")"``, NIL for an
    unknown count or goal."""
    counts = " ".join("NIL" if n is None else str(n) for n in (done, goal))
    return f"INPROGRESS ({string(tag).decode()} {counts})"


def code_noupdate(tag: str) -> str:
    """RFC 5267 4.3.1 ``"NOUPDATE" SP quoted``: the searching command whose UPDATE is refused."""
    return "NOUPDATE " + string(tag).decode()


def code_badurl(url: str | bytes) -> str:
    """RFC 4469 4.1 ``"BADURL" SP url-resp-text``: the URL, any TEXT-CHAR but "]"."""
    text = url.decode("utf-8", "replace") if isinstance(url, bytes) else url
    return "BADURL " + text.replace("]", "%5D").replace("\r", "").replace("\n", "")


def code_uidvalidity(value: int) -> str:
    return f"UIDVALIDITY {value}"


def code_uidnext(value: int) -> str:
    return f"UIDNEXT {value}"


def code_unseen(value: int) -> str:
    return f"UNSEEN {value}"


def code_highestmodseq(value: int) -> str:
    return f"HIGHESTMODSEQ {value}"


def code_permanentflags(flags: Iterable[str]) -> str:
    return "PERMANENTFLAGS " + flag_list(flags).decode()


def code_appenduid(uidvalidity: int, uids: Iterable[int]) -> str:
    """RFC 4315 3: ``"APPENDUID" SP nz-number SP append-uid`` (a uid-set for MULTIAPPEND)."""
    return f"APPENDUID {uidvalidity} {uid_set(uids)}"


def code_copyuid(uidvalidity: int, source: Sequence[int], destination: Sequence[int]) -> str:
    """RFC 4315 3: ``"COPYUID" SP nz-number SP uid-set SP uid-set``; both sets keep the pairing order."""
    return f"COPYUID {uidvalidity} {uid_set(source, sort=False)} {uid_set(destination, sort=False)}"


def code_modified(numbers: Iterable[int]) -> str:
    """RFC 7162 3.1.3: ``"MODIFIED" SP sequence-set``."""
    return f"MODIFIED {uid_set(numbers)}"


def code_badcharset(charsets: Iterable[str] = ("UTF-8", "US-ASCII")) -> str:
    return "BADCHARSET (" + " ".join(astring(name).decode() for name in charsets) + ")"


def code_mailboxid(objectid: str) -> str:
    return f"MAILBOXID ({objectid})"


def code_appendlimit(limit: int) -> str:
    return f"APPENDLIMIT {limit}"


# -- strings (RFC 9051 4.3: quoted / literal; 9: astring, nstring) -----------------------------------


def _to_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value


def quotable(data: bytes, utf8: bool = False) -> bool:
    """Whether ``data`` can travel as a ``quoted`` string."""
    if len(data) > MAX_QUOTED or not _UNSAFE_QUOTED.isdisjoint(data):
        return False
    if not data.isascii():
        if not utf8:
            return False
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def string(value: str | bytes, utf8: bool = False) -> bytes:
    """``string = quoted / literal``: quoted when safe, else ``{n}CRLF`` data (``~{n}`` with a NUL)."""
    data = _to_bytes(value)
    if quotable(data, utf8):
        return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    prefix = b"~" if b"\x00" in data else b""
    return prefix + b"{%d}\r\n" % len(data) + data


def literal(data: bytes) -> bytes:
    """``literal = "{" number64 "}" CRLF *CHAR8``; ``literal8`` (``~{n}``) when data holds a NUL."""
    return (b"~" if b"\x00" in data else b"") + b"{%d}\r\n" % len(data) + data


def nstring(value: str | bytes | None, utf8: bool = False) -> bytes:
    """``nstring = string / nil``."""
    return b"NIL" if value is None else string(value, utf8)


_ATOM_SPECIALS = frozenset(b'(){ %*"\\]') | frozenset(range(0x20)) | {0x7F}


def is_atom(data: bytes) -> bool:
    """``atom = 1*ATOM-CHAR`` (RFC 9051 9)."""
    return bool(data) and data.isascii() and _ATOM_SPECIALS.isdisjoint(data)


def astring(value: str | bytes, utf8: bool = False) -> bytes:
    """``astring = 1*ASTRING-CHAR / string``: a bare atom when it is one (``]`` allowed), else string."""
    data = _to_bytes(value)
    if data and data.isascii() and _ATOM_SPECIALS.isdisjoint(data.replace(b"]", b"")) and data.upper() != b"NIL":
        return data
    return string(data, utf8)


def mailbox(name: str, utf8: bool = False) -> bytes:
    """``mailbox`` as astring; modified UTF-7 for IMAP4rev1 clients (no UTF8=ACCEPT)."""
    if name.upper() == "INBOX":
        return b"INBOX"
    wire = name if utf8 else utf7.encode(name)
    return string(wire, utf8) if wire.upper() == "NIL" else astring(wire, utf8)


def flag_list(flags: Iterable[str]) -> bytes:
    """``flag-list = "(" [flag *(SP flag)] ")"``."""
    return b"(" + " ".join(flags).encode() + b")"


def number_list(numbers: Iterable[int]) -> bytes:
    return b" ".join(b"%d" % n for n in numbers)


def uid_set(numbers: Iterable[int], sort: bool = True) -> str:
    """Compact ``sequence-set``/``uid-set``: runs of consecutive numbers as "a:b" ("1:5,7").

    With ``sort=False`` the order is kept (COPYUID pairs source and destination by position) and only
    ascending runs are joined.
    """
    values = sorted(set(numbers)) if sort else list(numbers)
    pieces: list[str] = []
    index = 0
    while index < len(values):
        stop = index
        while stop + 1 < len(values) and values[stop + 1] == values[stop] + 1:
            stop += 1
        first, last = values[index], values[stop]
        pieces.append(str(first) if first == last else f"{first}:{last}")
        index = stop + 1
    return ",".join(pieces)


# -- dates ----------------------------------------------------------------------------------------


def format_internal_date(moment: datetime) -> str:
    """``date-time`` body: "17-Jul-1996 02:44:25 -0700" (RFC 9051 9; a naive datetime is UTC)."""
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return (
        f"{moment.day:02d}-{_MONTHS[moment.month - 1]}-{moment.year:04d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} {sign}{hours:02d}{mins:02d}"
    )


def date_time(moment: datetime) -> bytes:
    """``date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE``.

    RFC 9051 uses ``date-day-fixed = (SP DIGIT) / 2DIGIT``: a leading space, not a zero.
    """
    text = format_internal_date(moment)
    if text[0] == "0":
        text = " " + text[1:]
    return b'"' + text.encode() + b'"'


# -- untagged data (RFC 9051 7.2 - 7.5 and extensions) ------------------------------------------------


def capability_data(capabilities: Iterable[str]) -> bytes:
    return untagged(b"CAPABILITY " + " ".join(capabilities).encode())


def enabled_data(capabilities: Iterable[str]) -> bytes:
    """RFC 5161 3.2: ``"ENABLED" *(SP capability)``."""
    return untagged(b"ENABLED" + b"".join(b" " + name.encode() for name in capabilities))


def flags_data(flags: Iterable[str]) -> bytes:
    return untagged(b"FLAGS " + flag_list(flags))


def exists_data(count: int) -> bytes:
    return untagged(b"%d EXISTS" % count)


def recent_data(count: int) -> bytes:
    return untagged(b"%d RECENT" % count)


def expunge_data(sequence: int) -> bytes:
    return untagged(b"%d EXPUNGE" % sequence)


def vanished_data(uids: Iterable[int], earlier: bool = False) -> bytes:
    """RFC 7162 3.2.10: ``"VANISHED" [SP "(EARLIER)"] SP known-uids``."""
    return untagged(b"VANISHED " + (b"(EARLIER) " if earlier else b"") + uid_set(uids).encode())


def list_data(
    name: str,
    attributes: Iterable[str],
    delimiter: str | None = "/",
    *,
    utf8: bool = False,
    childinfo: Iterable[str] = (),
    oldname: str | None = None,
    command: str = "LIST",
) -> bytes:
    """``mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP mailbox
    [SP mbox-list-extended]``; extended items CHILDINFO (RFC 5258 4) and OLDNAME (RFC 9051 7.3.1)."""
    delim = b"NIL" if delimiter is None else string(delimiter)
    out = command.encode() + b" " + flag_list(attributes) + b" " + delim + b" " + mailbox(name, utf8)
    extended: list[bytes] = []
    childinfo = tuple(childinfo)
    if childinfo:
        extended.append(b'"CHILDINFO" (' + b" ".join(string(item) for item in childinfo) + b")")
    if oldname is not None:
        extended.append(b'"OLDNAME" (' + mailbox(oldname, utf8) + b")")
    if extended:
        out += b" (" + b" ".join(extended) + b")"
    return untagged(out)


def status_data(name: str, items: Sequence[tuple[str, int | str]], utf8: bool = False) -> bytes:
    """``"STATUS" SP mailbox SP "(" [status-att-list] ")"``; MAILBOXID's value is "(id)" (RFC 8474)."""
    pieces = [f"{key} ({value})" if key == "MAILBOXID" else f"{key} {value}" for key, value in items]
    return untagged(b"STATUS " + mailbox(name, utf8) + b" (" + " ".join(pieces).encode() + b")")


def myrights_data(name: str, rights: str, utf8: bool = False) -> bytes:
    """RFC 4314 3.8 ``"MYRIGHTS" SP mailbox SP rights``."""
    return untagged(b"MYRIGHTS " + mailbox(name, utf8) + b" " + astring(rights))


def acl_data(name: str, entries: Sequence[tuple[str, str]], utf8: bool = False) -> bytes:
    """RFC 4314 3.6 ``"ACL" SP mailbox *(SP identifier SP rights)``."""
    pairs = b"".join(b" " + astring(who, utf8) + b" " + astring(rights) for who, rights in entries)
    return untagged(b"ACL " + mailbox(name, utf8) + pairs)


def listrights_data(name: str, identifier: str, required: str, optional: Sequence[str], utf8: bool = False) -> bytes:
    """RFC 4314 3.7 ``"LISTRIGHTS" SP mailbox SP identifier SP rights *(SP rights)``."""
    rest = b"".join(b" " + astring(rights) for rights in optional)
    return untagged(b"LISTRIGHTS " + mailbox(name, utf8) + b" " + astring(identifier, utf8) + b" "
                    + astring(required) + rest)


def metadata_data(name: str, values: Sequence[tuple[str, bytes | None]], utf8: bool = False) -> bytes:
    """RFC 5464 5: ``metadata-resp = "METADATA" SP mailbox SP entry-values``; ``value = nstring / literal8``."""
    pairs = [astring(entry) + b" " + (b"NIL" if value is None else string(value, utf8)) for entry, value in values]
    return untagged(b"METADATA " + mailbox(name, utf8) + b" (" + b" ".join(pairs) + b")")


def search_data(numbers: Iterable[int], highest_modseq: int | None = None, keyword: bytes = b"SEARCH") -> bytes:
    """RFC 3501 7.2.5 ``"SEARCH" *(SP nz-number)``, RFC 5256 ``"SORT" *(SP nz-number)``, each with RFC 7162's
    ``[SP search-sort-mod-seq]``."""
    out = keyword + b"".join(b" %d" % n for n in numbers)
    if highest_modseq is not None:
        out += b" (MODSEQ %d)" % highest_modseq
    return untagged(out)


def esearch_data(
    tag: str | None,
    uid: bool,
    results: Sequence[tuple[str, int | str | Iterable[int]]],
    mailbox_of: tuple[str, int] | None = None,
    *,
    utf8: bool = False,
) -> bytes:
    """RFC 9051 7.3.4 ``esearch-response = "ESEARCH" [search-correlator] [SP "UID"] *(SP search-return-data)``.

    ``results`` holds (name, value): MIN/MAX/COUNT/MODSEQ take a number, ALL a set of numbers
    (sent as a compact sequence-set, omitted when empty as RFC 4731 3.1 asks), a string is sent as
    it is (``imap.esearch`` builds ordered sets and PARTIAL's payload). ``mailbox_of`` (name,
    UIDVALIDITY) adds RFC 7377's MAILBOX and UIDVALIDITY correlators.
    """
    out = b"ESEARCH"
    if mailbox_of is not None:
        name, uidvalidity = mailbox_of
        out += b" (TAG %s MAILBOX %s UIDVALIDITY %d)" % (string(tag or ""), mailbox(name, utf8), uidvalidity)
    elif tag is not None:
        out += b" (TAG " + string(tag) + b")"
    if uid:
        out += b" UID"
    for name, value in results:
        if isinstance(value, int):
            out += b" %s %d" % (name.encode(), value)
        elif isinstance(value, str):
            out += b" %s %s" % (name.encode(), value.encode())
        else:
            numbers = uid_set(value)
            if numbers:
                out += b" " + name.encode() + b" " + numbers.encode()
    return untagged(out)


def fetch_data(sequence: int, items: Sequence[tuple[str, bytes]]) -> bytes:
    """``message-data = nz-number SP "FETCH" SP msg-att``; items are (name, serialized value)."""
    return fetch_att_data(sequence, [name.encode() + b" " + value for name, value in items])


def fetch_att_data(sequence: int, attributes: Sequence[bytes]) -> bytes:
    """``fetch_data`` of items already written as ``name SP value``."""
    return b"* %d FETCH (%s)\r\n" % (sequence, b" ".join(attributes))


def namespace_data(
    personal: Sequence[tuple[str, str | None]] | None,
    other: Sequence[tuple[str, str | None]] | None = None,
    shared: Sequence[tuple[str, str | None]] | None = None,
) -> bytes:
    """RFC 2342 / 9051 7.3.5: three namespace lists of (prefix, delimiter), NIL when absent."""

    def one(spaces: Sequence[tuple[str, str | None]] | None) -> bytes:
        if not spaces:
            return b"NIL"
        return b"(" + b"".join(b"(" + string(p) + b" " + nstring(d) + b")" for p, d in spaces) + b")"

    return untagged(b"NAMESPACE " + one(personal) + b" " + one(other) + b" " + one(shared))


def id_data(fields: Sequence[tuple[str, str | None]] | None) -> bytes:
    """RFC 2971 3.2: ``"ID" SP id-params-list``."""
    if not fields:
        return untagged(b"ID NIL")
    pairs = b" ".join(string(key) + b" " + nstring(value) for key, value in fields)
    return untagged(b"ID (" + pairs + b")")


def quota_data(root: str, resources: Sequence[tuple[str, int, int]]) -> bytes:
    """RFC 9208 5.1: ``"QUOTA" SP quota-root-name SP "(" name usage limit *(...) ")"``."""
    body = " ".join(f"{name} {usage} {limit}" for name, usage, limit in resources)
    return untagged(b"QUOTA " + astring(root) + b" (" + body.encode() + b")")


def quotaroot_data(name: str, roots: Iterable[str], utf8: bool = False) -> bytes:
    return untagged(b"QUOTAROOT " + mailbox(name, utf8) + b"".join(b" " + astring(r) for r in roots))
