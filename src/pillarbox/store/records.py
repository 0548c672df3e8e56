"""Frozen records that cross the store boundary.

Protocol code sees only these; it never sees a row, a cursor or a file path. Flags are a frozenset of
IMAP flag names ("\\Seen", "$Forwarded"...) whatever their storage form.
"""

from __future__ import annotations

import secrets
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

SPECIAL_USE_FOLDERS: tuple[tuple[str, str | None], ...] = (
    ("INBOX", None),
    ("Drafts", "\\Drafts"),
    ("Sent", "\\Sent"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
)
"""Folders every new account gets, with their RFC 6154 special-use attribute."""

SYSTEM_FLAGS: tuple[str, ...] = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")


@dataclass(frozen=True)
class Domain:
    name: str
    created: datetime


@dataclass(frozen=True)
class Account:
    id: int
    address: str
    domain: str
    quota_bytes: int | None
    quota_messages: int | None
    created: datetime
    pop3_delete_after_days: int | None = None
    """None: POP3 never deletes on its own; 0: delete at download; N: leave N days (RFC 2449 EXPIRE)."""
    admin: bool = False
    """May administer the server (the web admin pages); set by ``user add --admin`` / ``user admin``."""


@dataclass(frozen=True)
class Credentials:
    """What authentication needs of an account; never leaves auth/."""

    account_id: int
    address: str
    password_hash: str
    scram_sha256: str | None


@dataclass(frozen=True)
class Alias:
    address: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class SenderGrant:
    """``user`` (an account) may send as ``address``: one address, or ``@domain`` for all of a domain."""

    user: str
    address: str


@dataclass(frozen=True)
class Mailbox:
    id: int
    account_id: int
    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    special_use: str | None
    subscribed: bool
    messages: int
    unseen: int
    size: int
    deleted: int = 0
    """Messages flagged \\Deleted (for STATUS DELETED in IMAP4rev2)."""
    recent_uid: int = 0
    """The messages with a higher UID are \\Recent (RFC 3501 2.3.2): no read-write IMAP session has
    claimed them yet (``Store.claim_recent``)."""


@dataclass(frozen=True)
class SharedMailbox:
    """A mailbox of another account that grants a user some rights (RFC 4314 ACL)."""

    owner: str
    """The owner's address."""
    mailbox: Mailbox
    rights: str
    """The rights granted to the user and to anyone of the domain, together (RFC 4314 2: rights letters)."""


@dataclass(frozen=True)
class MessageEntry:
    """One message as a member of one mailbox (the mutable part: UID, flags, MODSEQ)."""

    mailbox_id: int
    uid: int
    message_id: int
    flags: frozenset[str]
    modseq: int
    internal_date: datetime
    size: int
    save_date: datetime


@dataclass(frozen=True)
class MessageColumns:
    """Every message of one mailbox at one MODSEQ as parallel arrays, position i holding the i-th UID
    in ascending order: a whole mailbox without an object per message (a 100,000-message SELECT).

    A mailbox has few distinct flag combinations, so ``flag_ids[i]`` indexes ``flag_sets``. Dates are
    Unix seconds. ``mailbox`` was read in the same snapshot: its HIGHESTMODSEQ is the columns' MODSEQ.
    """

    mailbox: Mailbox
    uids: array[int]
    message_ids: array[int]
    flag_ids: array[int]
    flag_sets: tuple[frozenset[str], ...]
    modseqs: array[int]
    sizes: array[int]
    internal_dates: array[int]
    save_dates: array[int]
    internal_zones: Mapping[int, int] = field(default_factory=dict)
    """UID → the INTERNALDATE's zone in minutes east of UTC, for the few messages whose zone is not UTC."""


@dataclass(frozen=True)
class MessageSummary:
    """Header values computed at delivery, for listings, SORT and THREAD without touching the blob."""

    message_id: int
    size: int
    subject: str
    from_: str
    date: datetime | None
    header_message_id: str | None
    structure_json: str
    blob: str


@dataclass(frozen=True)
class DeliveryTarget:
    """Where append/deliver puts one copy: a mailbox and the flags and date of that copy."""

    mailbox_id: int
    flags: frozenset[str] = frozenset()
    internal_date: datetime | None = None
    """None: now; its zone is kept (FETCH INTERNALDATE answers in it), a naive one is UTC."""


@dataclass(frozen=True)
class Appended:
    mailbox_id: int
    uid: int
    modseq: int
    uidvalidity: int


@dataclass(frozen=True)
class Refused:
    """A target that could not take the message; the others still did."""

    mailbox_id: int
    error: Exception


@dataclass(frozen=True)
class FlagChange:
    uid: int
    flags: frozenset[str]
    modseq: int


@dataclass(frozen=True)
class StoreFlagsResult:
    changed: tuple[FlagChange, ...]
    modified: tuple[int, ...] = ()
    """UIDs refused by UNCHANGEDSINCE (RFC 7162 3.1.3 [MODIFIED])."""


@dataclass(frozen=True)
class Changes:
    """What happened in a mailbox after a MODSEQ: the reader's whole view of the change log."""

    mailbox: Mailbox
    changed: tuple[MessageEntry, ...] = field(default=())
    """Messages appended or re-flagged after the MODSEQ, in UID order, with their current state."""
    expunged: tuple[int, ...] = field(default=())
    """UIDs expunged after the MODSEQ, ascending."""


@dataclass(frozen=True)
class OutboundRecipient:
    """One remote recipient of a queued message, with its RFC 3461 DSN parameters."""

    address: str
    orcpt: str | None = None
    notify: tuple[str, ...] = ()


QUEUE_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
"""Crockford's base32 in lower case: no i, l, o or u, so an id read aloud or copied by hand survives."""
QUEUE_ID_LENGTH = 12


def new_queue_id() -> str:
    """A message's id from its SMTP transaction to its last log line: 12 random characters (60 bits).

    Random rather than a row number, so that it means the same on every node of a shared store and
    never repeats after a restore; at 60 bits two ids of a server's lifetime practically never collide.
    One read of the system's randomness (``secrets.choice`` per character made 26 getrandom calls);
    the alphabet has 32 letters, so the low 5 bits of a random byte pick one without bias.
    """
    return "".join(QUEUE_ID_ALPHABET[byte & 31] for byte in secrets.token_bytes(QUEUE_ID_LENGTH))


def is_queue_id(text: str) -> bool:
    return len(text) == QUEUE_ID_LENGTH and all(c in QUEUE_ID_ALPHABET for c in text)


@dataclass(frozen=True)
class OutboundRequest:
    """A message for the outbound queue: the envelope and DSN parameters the queue runner needs."""

    sender: str
    """Reverse-path; empty string for the null sender ``<>`` (bounces never bounce)."""
    recipients: tuple[OutboundRecipient, ...]
    envid: str | None = None
    ret: str | None = None
    body: str | None = None
    smtputf8: bool = False
    auth_user: str | None = None
    queue_id: str = field(default_factory=new_queue_id)
    """The SMTP session passes the id its 250 reply names; mail the server writes itself gets a new one."""
    requiretls: bool = False
    """RFC 8689: sent only over validated TLS to servers that advertise REQUIRETLS, else bounced."""
    priority: int = 0
    """RFC 6710 MT-PRIORITY, -9 to 9: higher is sent first and passed on to peers that take it."""
    deliver_by: int = 0
    """RFC 2852 DELIVERBY: the time the message must be delivered by (0: none), and ``by_mode``."""
    by_mode: str = ""
    """"R" (fail at the deadline) or "N" (a delayed DSN then), "T" appended for a trace."""
    release_at: int | None = None
    """RFC 4865 FUTURERELEASE: not sent before this (Unix seconds); the queue's clock starts there."""


@dataclass(frozen=True)
class DeliveryOutcome:
    results: tuple[Appended | Refused, ...]
    queue_id: str | None = None


# -------------------------------------------------------------------------------------- outbound queue
# Times in these records are Unix seconds (the queue's schedule is arithmetic on them).

RecipientState = str
"""``pending`` (to try, or to try again), ``sent`` (a 250 from a peer that speaks DSN: reporting is its
job now), ``relayed`` (a 250 from a peer without DSN), ``delivered`` (stored in a local mailbox),
``failed`` (permanent failure or expiry)."""
FINAL_STATES = ("sent", "relayed", "delivered", "failed")


@dataclass(frozen=True)
class QueuedRecipient:
    position: int
    address: str
    orcpt: str | None
    notify: tuple[str, ...]
    state: RecipientState
    attempts: int
    next_attempt: int
    last_error: str | None = None
    """The last diagnostic, e.g. ``smtp; 550 5.1.1 no such user`` (RFC 3464 Diagnostic-Code form)."""
    status: str | None = None
    """The enhanced status code (RFC 3463) of the last outcome."""
    remote_mta: str | None = None
    reported: tuple[str, ...] = ()
    """DSN actions already sent for this recipient (``delayed``, ``failed``, ``delivered``, ``relayed``)."""

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].lower()


@dataclass(frozen=True)
class QueuedMessage:
    id: str
    """The queue id (``new_queue_id``): in the SMTP reply, in ``pillarbox queue`` and on every log line."""
    message_id: int
    sender: str
    envid: str | None
    ret: str | None
    body: str | None
    smtputf8: bool
    auth_user: str | None
    held: bool
    created: int
    recipients: tuple[QueuedRecipient, ...]
    lease_owner: str | None = None
    lease_until: int = 0
    requiretls: bool = False
    priority: int = 0
    deliver_by: int = 0
    by_mode: str = ""


@dataclass(frozen=True)
class QueueSummary:
    """The queue at a glance: its entries (messages), their recipients by state ("held" for every
    recipient of a held entry) and the creation time of the oldest entry (None: the queue is empty)."""

    entries: int
    states: dict[str, int]
    oldest: int | None


@dataclass(frozen=True)
class RecipientUpdate:
    """The outcome of one delivery attempt for one recipient; ``counts`` adds one to its attempts."""

    position: int
    state: RecipientState
    next_attempt: int
    last_error: str | None = None
    status: str | None = None
    remote_mta: str | None = None
    counts: bool = True


@dataclass(frozen=True)
class DKIMKey:
    domain: str
    selector: str
    algorithm: str
    """``rsa-sha256`` or ``ed25519-sha256`` (RFC 8463)."""
    private_key: str
    """PEM (PKCS#8) for RSA; base64 of the 32-byte seed for Ed25519 (the form dkimpy signs with)."""
    public_key: str
    """The base64 ``p=`` value of the DNS record."""
    active: bool
    created: int


@dataclass(frozen=True)
class CachedPolicy:
    """An MTA-STS policy as fetched (RFC 8461 3.2), cached by the ``id`` of its TXT record."""

    domain: str
    policy_id: str
    policy: str
    fetched: int
    expires: int


@dataclass(frozen=True)
class IndexBacklog:
    """The stored messages not yet in the full-text index: how many, the newest one's id (it changes
    while deliveries arrive), and when the oldest one was stored (Unix seconds)."""

    count: int
    newest_id: int | None
    oldest_stored: int | None


DMARC_COLUMNS = ("policy_domain", "day", "source_ip", "header_from", "envelope_from", "spf_domain", "spf_result",
                 "dkim", "dmarc_result", "spf_aligned", "dkim_aligned", "disposition", "policy")
"""The keys of one DMARC observation (RFC 7489 7.2 aggregate-report data), as recorded and read back."""


# -------------------------------------------------------------------------------------------- antispam


@dataclass(frozen=True)
class TokenCounts:
    """A user's classifier data for one message: how many messages were trained as spam and as ham,
    and for each token of the message that was seen in training, in how many of each it occurred."""

    spam_messages: int
    ham_messages: int
    tokens: dict[int, tuple[int, int]] = field(default_factory=dict)
    """token → (spam messages containing it, ham messages containing it)."""


@dataclass(frozen=True)
class SpamMessageState:
    """What the antispam layer knows of one stored message of one account."""

    filed: str | None
    """``spam`` when the filter put it in Junk at delivery (no user said so)."""
    trained: str | None
    """``spam`` or ``ham``: what the user's classifier learned it as."""


@dataclass(frozen=True)
class SenderRule:
    """A user's allow/block entry: an address, or a domain (and its subdomains)."""

    user: str
    pattern: str
    action: str
    """``allow`` or ``block``."""
    source: str
    """``user`` (set by the user or an admin) or ``sent`` (the user wrote to this address)."""
    updated: int


@dataclass(frozen=True)
class SendingPolicy:
    """An account's own sending limits (None: the configured default) and whether it is held."""

    messages_per_hour: int | None = None
    recipients_per_hour: int | None = None
    held_reason: str | None = None
    held_at: int | None = None
@dataclass(frozen=True)
class SieveScript:
    """One stored Sieve script of an account (or a global one, ``account_id`` None)."""

    name: str
    content: str
    active: bool
