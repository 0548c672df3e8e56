"""rspamd as the content filter: its HTTP protocol at the end of DATA, and its controller for learning.

A scan is ``POST /checkv2`` with the message as the body and the SMTP facts as headers (``IP``,
``Helo``, ``From``, one ``Rcpt`` per recipient, ``Queue-Id``, ``MTA-Name``); the JSON answer holds an
``action``, which we map to what the SMTP client hears:

    reject                      → 550 5.7.1 (the message is refused)
    soft reject                 → 451 4.7.1 (try again later)
    rewrite subject, add header → accepted, filed into Junk with X-Spam-* fields
    greylist, no action         → accepted

``greylist`` is not deferred here: rspamd only lifts it when its own greylist module (with Redis)
remembers the retry, and without that module every retry would be deferred again; Pillarbox's own
greylisting is the ``greylist`` setting. Learning is ``POST /learnspam`` or ``/learnham`` on the
controller, with its ``Password``; rspamd answers 208 for a message it has learned already.

Any failure (refused connection, timeout, an answer that is not rspamd's) raises ``RspamdError``;
the caller decides to fail open (deliver, and log) or to answer 451 (``rspamd_failure``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from pillarbox.antispam.http_client import HTTPError, post
from pillarbox.antispam.verdict import HAM, JUNK, REJECT, TEMPFAIL, SpamVerdict

ACTIONS = {"reject": REJECT, "soft reject": TEMPFAIL, "rewrite subject": JUNK, "add header": JUNK,
           "greylist": HAM, "no action": HAM}
MAX_SYMBOLS = 12


class RspamdError(Exception):
    pass


@dataclass(frozen=True)
class ScanFacts:
    """What rspamd is told about the transaction besides the message."""

    client_ip: str
    helo: str
    sender: str
    recipients: Sequence[str]
    queue_id: str
    hostname: str


class RspamdClient:
    def __init__(self, url: str, controller: str, password: str, timeout: float) -> None:
        self.url = url
        self.controller = controller
        self.password = password
        self.timeout = timeout

    async def check(self, message: bytes, facts: ScanFacts) -> SpamVerdict:
        status, body = await self._post(self.url, "/checkv2", scan_headers(facts), message)
        if status != 200:
            raise RspamdError(f"rspamd answered HTTP {status}")
        return _verdict(body)

    async def learn(self, message: bytes, spam: bool) -> bool:
        """Teach rspamd's classifier; False when it knew the message already."""
        if not self.controller:
            raise RspamdError("no rspamd_controller configured")
        headers = [("Password", self.password)] if self.password else []
        status, body = await self._post(self.controller, "/learnspam" if spam else "/learnham", headers, message)
        if status == 208:
            return False
        if status != 200:
            raise RspamdError(f"rspamd controller answered HTTP {status}: {body[:200]!r}")
        return True

    async def _post(self, url: str, path: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
        try:
            return await post(url, path, headers, body, self.timeout)
        except HTTPError as exc:
            raise RspamdError(str(exc)) from None


def scan_headers(facts: ScanFacts) -> list[tuple[str, str]]:
    """The SMTP facts as rspamd's request headers; envelope addresses as rspamd can read them."""
    headers = [("IP", facts.client_ip), ("Helo", facts.helo or facts.client_ip), ("Queue-Id", facts.queue_id),
               ("MTA-Name", facts.hostname)]
    sender = envelope_address(facts.sender)
    headers += [("From", sender)] if sender is not None else []
    recipients = (envelope_address(recipient) for recipient in facts.recipients)
    return headers + [("Rcpt", recipient) for recipient in recipients if recipient is not None]


def envelope_address(address: str) -> str | None:
    """``address`` as rspamd (3.4) parses envelope addresses: ASCII only. A UTF-8 one (RFC 6531) would
    flag the message BROKEN_HEADERS (10 points: Junk), so its domain goes as A-labels, and an address
    whose local part is UTF-8 is left out (None): rspamd then reads the message's own From: and To:."""
    if address.isascii():
        return address
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        return None
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return None


def _verdict(body: bytes) -> SpamVerdict:
    try:
        answer = json.loads(body)
        action, score, required = answer["action"], float(answer["score"]), float(answer["required_score"])
    except (ValueError, KeyError, TypeError) as exc:
        raise RspamdError(f"not an rspamd answer: {exc}") from None
    if action not in ACTIONS:
        raise RspamdError(f"unknown rspamd action {action!r}")
    return SpamVerdict(ACTIONS[action], score, required, "rspamd", _strongest_symbols(answer.get("symbols")))


def _strongest_symbols(symbols: object) -> tuple[str, ...]:
    """The names of the symbols that weighed (a score other than 0), the heaviest first; GTUBE is
    rspamd's one decisive symbol of weight 0."""
    found = [s for s in symbols.values() if isinstance(s, dict)] if isinstance(symbols, dict) else []
    weighed = [(abs(float(s.get("score") or 0)), str(s.get("name", ""))) for s in found]
    ranked = sorted((w for w in weighed if w[1] and (w[0] or w[1] == "GTUBE")), reverse=True)
    return tuple(name for _, name in ranked[:MAX_SYMBOLS])
