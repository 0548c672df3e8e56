"""URLAUTH (RFC 4467): IMAP URLs that carry their own authorization, for BURL (RFC 4468) and URLFETCH.

A mailbox owner asks GENURLAUTH for a "rump" URL — an absolute IMAP URL of one of their messages (or a
part), ending in ``;URLAUTH=<access>`` and optionally carrying ``;EXPIRE=<date-time>`` — and gets it
back with ``:INTERNAL:<token>`` appended: the token is an HMAC-SHA-256 of the rump under the mailbox's
access key (32 hex digits, 128 bits; the key is the store's, RESETKEY replaces it and so revokes every
URL made with it). Whoever presents the URL later gets the octets if the token matches, the URL has
not expired, and the access identifier admits them:

- ``submit+<user>``: the submission server acting for <user> (BURL), nobody over IMAP;
- ``user+<user>``: <user>'s IMAP sessions (URLFETCH);
- ``authuser``: any authenticated user of this server; ``anonymous`` is not offered.

    imapurl = "imap://" enc-user "@" host [":" port] "/" enc-mailbox [";UIDVALIDITY=" nz-number]
              "/;UID=" nz-number ["/;SECTION=" enc-section] [";EXPIRE=" date-time]
              ";URLAUTH=" access [":" "INTERNAL" ":" 32*HEXDIG]
"""

from __future__ import annotations

import hashlib
import hmac
import re
import urllib.parse
from dataclasses import dataclass
from datetime import datetime

from pillarbox.imap.imap_url import MessageURL, parse_message_url
from pillarbox.imap.parser.fetch_att import parse_section
from pillarbox.imap.parser.primitives import ParseError, Reader
from pillarbox.imap.sections import section_bytes
from pillarbox.mime import parse_message
from pillarbox.store.api import Store
from pillarbox.store.records import Mailbox

MECHANISM = "INTERNAL"
_URL = re.compile(
    r"imap://(?P<user>[^@/;]+)@(?P<host>[^/;:]+)(?::(?P<port>[0-9]{1,5}))?(?P<path>/[^;].*?)"
    r"(?:;EXPIRE=(?P<expire>[0-9T:.Zz+-]+))?;URLAUTH=(?P<access>anonymous|authuser|(?:submit|user)\+[^:;/]+)"
    r"(?::(?P<mechanism>[A-Za-z0-9-]+):(?P<token>[0-9A-Fa-f]{32,}))?",
    re.IGNORECASE,
)


class URLAuthError(Exception):
    """The URL is not one this server authorizes (or not for this requester); one line for a log."""


@dataclass(frozen=True)
class AuthURL:
    rump: str
    """Everything up to and including ``;URLAUTH=<access>``: what the token signs."""
    owner: str
    message: MessageURL
    access: str
    expire: datetime | None = None
    mechanism: str | None = None
    token: str | None = None


def parse(text: str) -> AuthURL:
    found = _URL.fullmatch(text)
    if found is None:
        raise URLAuthError("not an IMAP URL with URLAUTH")
    try:
        message = parse_message_url(found["path"])
        expire = datetime.fromisoformat(found["expire"].upper().replace("Z", "+00:00")) if found["expire"] else None
        owner = urllib.parse.unquote(found["user"], errors="strict").lower()
    except ValueError as exc:
        raise URLAuthError(str(exc)) from None
    if expire is not None and expire.tzinfo is None:
        raise URLAuthError("EXPIRE needs a zone")
    rump_end = found.end("access")
    return AuthURL(text[:rump_end], owner, message, found["access"], expire, found["mechanism"], found["token"])


def _token(key: bytes, rump: str) -> str:
    return hmac.new(key, rump.encode(), hashlib.sha256).hexdigest()[:32]


async def generate(store: Store, owner: str, owner_mailbox: Mailbox | None, rump: str) -> str:
    """GENURLAUTH: ``rump`` authorized with ``owner_mailbox``'s key; URLAuthError if it is not a rump
    URL of one of ``owner``'s own mailboxes (``owner_mailbox`` is that mailbox, looked up by the caller)."""
    url = parse(rump)
    if url.token is not None or url.owner != owner.lower() or owner_mailbox is None:
        raise URLAuthError("a rump URL of one of your own mailboxes is needed")
    if url.access.lower() == "anonymous":
        raise URLAuthError("anonymous access is not offered")
    key = await store.urlauth_key(owner_mailbox.id)
    return f"{url.rump}:{MECHANISM}:{_token(key, url.rump)}"


def admits(url: AuthURL, requester: str | None, submission: bool) -> bool:
    """Whether the access identifier lets ``requester`` (None: nobody authenticated) have it."""
    kind, _, who = url.access.partition("+")
    who = urllib.parse.unquote(who).lower()
    if kind.lower() == "submit":
        return submission and requester is not None and who == requester.lower()
    if kind.lower() == "user":
        return not submission and requester is not None and who == requester.lower()
    return kind.lower() == "authuser" and requester is not None


async def check(store: Store, url: AuthURL, mailbox: Mailbox, now: datetime) -> None:
    """The token, mechanism, expiry and UIDVALIDITY of ``url`` for ``mailbox``; URLAuthError if wrong."""
    if url.token is None or (url.mechanism or "").upper() != MECHANISM:
        raise URLAuthError("no INTERNAL authorization")
    if url.expire is not None and url.expire <= now:
        raise URLAuthError("expired")
    if url.message.uidvalidity is not None and url.message.uidvalidity != mailbox.uidvalidity:
        raise URLAuthError("UIDVALIDITY changed")
    expected = _token(await store.urlauth_key(mailbox.id), url.rump)
    if not hmac.compare_digest(expected, url.token.lower()):
        raise URLAuthError("the authorization does not match")


async def fetch(store: Store, text: str, requester: str | None, submission: bool, now: datetime) -> bytes:
    """The octets a URLAUTH-authorized URL names, for ``requester`` (URLFETCH, or BURL when
    ``submission``); URLAuthError when it is not theirs to have or names nothing."""
    url = parse(text)
    if not admits(url, requester, submission):
        raise URLAuthError("not for this requester")
    account = await store.get_account(url.owner)
    mailbox = await store.get_mailbox(account.id, url.message.mailbox) if account is not None else None
    if mailbox is None:
        raise URLAuthError("no such mailbox")
    await check(store, url, mailbox, now)
    octets = await message_octets(store, mailbox.id, url.message)
    if octets is None:
        raise URLAuthError("no such message")
    return octets


async def message_octets(store: Store, mailbox_id: int, url: MessageURL) -> bytes | None:
    """What FETCH BODY.PEEK[section]<partial> of the URL's message returns (None: no such message or
    section syntax)."""
    raw = (await store.read_by_uids(mailbox_id, [url.uid])).get(url.uid)
    if raw is None:
        return None
    if url.section is not None:
        try:
            reader = Reader(b"[" + url.section.encode("utf-8") + b"]")
            section = parse_section(reader)
            reader.end()
        except ParseError:
            return None
        raw = section_bytes(raw, parse_message(raw), section)
    if url.partial is not None:
        start, length = url.partial
        raw = raw[start:] if length is None else raw[start : start + length]
    return raw
