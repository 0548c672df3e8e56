"""The parsed commands: one frozen dataclass per command family (RFC 9051 6, 9 ``command``).

Every command has ``tag`` and ``name`` (upper case, without "UID"); commands that have a UID form
carry ``uid``. Mailbox names are already decoded (modified UTF-7 or UTF-8) and INBOX normalised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pillarbox.imap.parser.fetch_att import FetchAtt, FetchModifiers
from pillarbox.imap.parser.mailbox_filter import MailboxFilter
from pillarbox.imap.parser.search_key import And
from pillarbox.imap.parser.sequence_set import SequenceSet


@dataclass(frozen=True)
class Command:
    """A command without arguments: CAPABILITY, NOOP, LOGOUT, STARTTLS, CHECK, CLOSE, UNSELECT,
    EXPUNGE, IDLE, NAMESPACE."""

    tag: str
    name: str


@dataclass(frozen=True)
class Authenticate(Command):
    """``"AUTHENTICATE" SP auth-type [SP initial-resp]`` (RFC 4959: "=" is an empty response)."""

    mechanism: str
    initial_response: bytes | None = None  # the base64 text as sent


@dataclass(frozen=True)
class Login(Command):
    """``"LOGIN" SP userid SP password``."""

    userid: str
    password: str


@dataclass(frozen=True)
class Enable(Command):
    """``"ENABLE" 1*(SP capability)`` (RFC 5161), names upper-cased."""

    capabilities: tuple[str, ...]


@dataclass(frozen=True)
class QResync:
    """RFC 7162 3.2.5: ``"QRESYNC" SP "(" uidvalidity SP mod-sequence-value [SP known-uids]
    [SP seq-match-data] ")"``; ``seq-match-data = "(" known-sequence-set SP known-uid-set ")"``."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    seq_match: tuple[SequenceSet, SequenceSet] | None = None


@dataclass(frozen=True)
class Select(Command):
    """SELECT / EXAMINE ``SP mailbox [select-params]`` (CONDSTORE, QRESYNC)."""

    mailbox: str
    readonly: bool = False
    condstore: bool = False
    qresync: QResync | None = None


@dataclass(frozen=True)
class MailboxCommand(Command):
    """DELETE, SUBSCRIBE, UNSUBSCRIBE, GETQUOTAROOT: ``SP mailbox``."""

    mailbox: str


@dataclass(frozen=True)
class Create(Command):
    """``"CREATE" SP mailbox [create-params]``; RFC 6154 ``"USE" SP "(" use-attr *(SP use-attr) ")"``."""

    mailbox: str
    special_use: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rename(Command):
    mailbox: str
    new_name: str


@dataclass(frozen=True)
class ListCommand(Command):
    """LIST (basic and RFC 5258 extended) and LSUB (``name == "LSUB"``).

    ``selection`` holds list-select-opts (SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE);
    ``returns`` the return options (CHILDREN, SUBSCRIBED, SPECIAL-USE, MYRIGHTS, STATUS);
    ``status_items`` the STATUS return option's items (RFC 5819).
    """

    reference: str
    patterns: tuple[str, ...]
    selection: tuple[str, ...] = ()
    returns: tuple[str, ...] = ()
    status_items: tuple[str, ...] = ()
    extended: bool = False
    metadata: tuple[str, ...] = ()
    """RFC 9590 LIST-METADATA: the entries ``RETURN (METADATA (...))`` asks for with each mailbox."""
    metadata_maxsize: int | None = None


@dataclass(frozen=True)
class Status(Command):
    """``"STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"``."""

    mailbox: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class AppendMessage:
    """One message of APPEND (several with MULTIAPPEND, RFC 3502)."""

    flags: tuple[str, ...]
    internal_date: datetime | None
    data: bytes
    binary: bool = False  # sent as literal8 (RFC 3516 4.4)
    catenate: tuple[tuple[str, bytes], ...] = ()
    """RFC 4469: ("TEXT", bytes) and ("URL", url bytes) parts to join into the message (data is empty)."""


@dataclass(frozen=True)
class Append(Command):
    mailbox: str
    messages: tuple[AppendMessage, ...]


@dataclass(frozen=True)
class Replace(Command):
    """RFC 8508 5: ``replace = "REPLACE" SP seq-number SP mailbox append-message``, and its UID form."""

    uid: bool
    number: int
    mailbox: str
    message: AppendMessage


@dataclass(frozen=True)
class Expunge(Command):
    """EXPUNGE, or UID EXPUNGE with ``uids`` (RFC 4315 2.1)."""

    uid: bool = False
    uids: SequenceSet | None = None


@dataclass(frozen=True)
class SearchReturn:
    """ESEARCH ``search-return-opts`` (RFC 4731, 5182 SAVE, 5267 CONTEXT/UPDATE, 9394 PARTIAL); ``None``
    in Search means plain SEARCH."""

    options: tuple[str, ...]  # MIN MAX ALL COUNT SAVE PARTIAL... (empty tuple = "RETURN ()", which means ALL)
    partial: tuple[int, int] | None = None
    """PARTIAL's range as the client wrote it: positive from the first result, negative from the last."""
    update_fetch: tuple[FetchAtt, ...] = ()
    """RFC 5465 7: ``"UPDATE" ["(" fetch-att *(SP fetch-att) ")"]``, what to FETCH of a new message the
    updating context takes in."""


@dataclass(frozen=True)
class Search(Command):
    """SEARCH / UID SEARCH ``[search-return-opts] [SP "CHARSET" SP charset] 1*(SP search-key)``."""

    uid: bool
    criteria: And
    charset: str | None = None
    returns: SearchReturn | None = None


@dataclass(frozen=True)
class CancelUpdate(Command):
    """RFC 5267 4.3.5: ``"CANCELUPDATE" 1*(SP quoted)``, the tags of the searching commands."""

    tags: tuple[str, ...]


@dataclass(frozen=True)
class MultiSearch(Command):
    """RFC 7377 ``esearch = "ESEARCH" [SP esearch-source-opts] [SP search-return-opts] SP search-program``;
    ``sources`` empty means the selected mailbox (2.2)."""

    sources: tuple[MailboxFilter, ...]
    criteria: And
    charset: str | None = None
    returns: SearchReturn | None = None
    uid: bool = True  # 2.1: always UIDs


@dataclass(frozen=True)
class Fetch(Command):
    """``fetch = "FETCH" SP sequence-set SP (...) [fetch-modifiers]``; PARTIAL (RFC 9394 3.3) is a
    modifier of UID FETCH only."""

    uid: bool
    sequence_set: SequenceSet
    items: tuple[FetchAtt, ...]
    modifiers: FetchModifiers = field(default_factory=FetchModifiers)


@dataclass(frozen=True)
class Store(Command):
    """``"STORE" SP sequence-set [store-modifiers] SP store-att-flags``.

    ``mode`` is "+", "-" or "" (replace); ``unchangedsince`` is RFC 7162's store modifier.
    """

    uid: bool
    sequence_set: SequenceSet
    mode: str
    silent: bool
    flags: tuple[str, ...]
    unchangedsince: int | None = None


@dataclass(frozen=True)
class Copy(Command):
    """COPY / MOVE (RFC 6851) ``SP sequence-set SP mailbox``; ``name`` tells which."""

    uid: bool
    sequence_set: SequenceSet
    mailbox: str


@dataclass(frozen=True)
class Sort(Command):
    """RFC 5256: ``"SORT" [sort-return] SP sort-criteria SP search-criteria``; criteria are
    (key, reverse) with keys ARRIVAL CC DATE FROM SIZE SUBJECT TO DISPLAYFROM DISPLAYTO (RFC 5957)."""

    uid: bool
    criteria: tuple[tuple[str, bool], ...]
    charset: str
    search: And
    returns: SearchReturn | None = None


@dataclass(frozen=True)
class Thread(Command):
    """RFC 5256: ``"THREAD" SP thread-alg SP search-charset 1*(SP search-key)``."""

    uid: bool
    algorithm: str
    charset: str
    search: And


@dataclass(frozen=True)
class Id(Command):
    """RFC 2971: ``"ID" SP id-params-list``; None for NIL."""

    fields: tuple[tuple[str, str | None], ...] | None


@dataclass(frozen=True)
class QuotaRoot(Command):
    """GETQUOTA ``SP quota-root-name`` (RFC 9208)."""

    root: str


@dataclass(frozen=True)
class SetQuota(Command):
    """``"SETQUOTA" SP quota-root-name SP setquota-list``: (resource, limit) pairs."""

    root: str
    limits: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class GetMetadata(Command):
    """RFC 5464 4.2: ``mailbox`` "" for the server; ``depth`` "0", "1" or "INFINITY"."""

    mailbox: str
    entries: tuple[str, ...]
    maxsize: int | None = None
    depth: str = "0"


@dataclass(frozen=True)
class SetMetadata(Command):
    """RFC 5464 4.3: (entry, value) pairs, value None to remove the entry."""

    mailbox: str
    values: tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True)
class EventGroup:
    """RFC 5465 ``event-group``: a mailbox specifier, its events (upper case; empty for NONE) and the
    fetch-atts of MessageNew for the selected mailbox."""

    filter: MailboxFilter
    events: tuple[str, ...]
    fetch: tuple[FetchAtt, ...] = ()


@dataclass(frozen=True)
class Notify(Command):
    """RFC 5465 NOTIFY: ``groups`` None for NOTIFY NONE; ``status`` the SET STATUS indicator."""

    groups: tuple[EventGroup, ...] | None
    status: bool = False


@dataclass(frozen=True)
class AclCommand(Command):
    """RFC 4314 SETACL, DELETEACL, GETACL, LISTRIGHTS, MYRIGHTS: a mailbox, and for some an identifier
    (SASLprep'd) and SETACL's rights modification as given."""

    mailbox: str
    identifier: str | None = None
    rights: str | None = None


@dataclass(frozen=True)
class UrlAuthCommand(Command):
    """RFC 4467 GENURLAUTH (``urls`` with ``mechanisms``, pairwise), RESETKEY (``mailbox`` or all,
    ``mechanisms``), URLFETCH (``urls``)."""

    urls: tuple[str, ...] = ()
    mechanisms: tuple[str, ...] = ()
    mailbox: str | None = None


@dataclass(frozen=True)
class Compress(Command):
    """RFC 4978 ``"COMPRESS" SP algorithm``."""

    mechanism: str
