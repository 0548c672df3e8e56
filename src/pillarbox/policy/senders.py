"""Who may appear as the author of submitted mail: the From: and Sender: fields (RFC 5322 3.6.2).

The problem. Submission already checks that MAIL FROM is an address the logged-in user may use, but
people read the From: field, DMARC judges the From: domain (RFC 7489 3.1), and our DKIM signature
(made for the MAIL FROM domain) aligns with any From: in that domain. So without a rule here
alice@example.test could write ``From: bob@example.test`` to anyone, and it would leave signed by
example.test and pass DMARC as bob.

The rule. The message has exactly one From: field (RFC 5322 3.6: at least one, at most one) with at
least one address, and at most one Sender: field with exactly one address; two From: fields are the
classic way to make the signer and the reader's program see different authors, so they are refused,
not guessed at. Every From: address (with several authors, each one: a co-author's address needs a
grant) and the Sender: address, when there is one, must be one the user may use
(``Directory.may_use``: their own, an alias that reaches them, or an explicit grant). RFC 5322 3.6.2
wants a Sender: when From: names several authors; we do not insist, since the transmitter is the
logged-in user anyway and every author is checked. Display names are not looked at: "Bob
<alice@example.test>" is alice's to send.

Per domain. ``[senders] from_header`` ("owned" or "any") and ``from_header_by_domain`` (keyed by the
logged-in user's domain) let the rare site whose users really write for others (a ticketing system,
a mailing-list host) turn the rule off where it must; MAIL FROM stays checked everywhere.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pillarbox.auth.directory import Directory
from pillarbox.config import SendersConfig
from pillarbox.mime.addresses import parse_address_list
from pillarbox.mime.headers import find_body_start, parse_fields
from pillarbox.store.records import Account

MAX_AUTHORS = 100
"""From: addresses checked at most; a message claiming more authors is refused as malformed."""


class Problem(enum.Enum):
    NOT_OWNED = "not owned"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class HeaderRefusal:
    problem: Problem
    reason: str
    """For the log line: which field, which address, which user."""


class SenderRules:
    def __init__(self, directory: Directory, settings: SendersConfig) -> None:
        self.directory = directory
        self.settings = settings

    def enforced_for(self, account: Account) -> bool:
        rule = dict(self.settings.from_header_by_domain).get(account.domain, self.settings.from_header)
        return rule == "owned"

    async def check(self, account: Account, message: bytes) -> HeaderRefusal | None:
        """Why ``account`` may not submit ``message`` as it stands, or None."""
        if not self.enforced_for(account):
            return None
        fields = parse_fields(message, 0, find_body_start(message, 0, len(message)))
        authors = _addresses(fields, "from")
        transmitters = _addresses(fields, "sender")
        shape = _shape_problem(authors, transmitters)
        if shape is not None:
            return HeaderRefusal(Problem.MALFORMED, shape)
        for name, addresses in (("From", authors[0]), ("Sender", transmitters[0] if transmitters else [])):
            for address in addresses:
                if not await self.directory.may_use(account, address):
                    return HeaderRefusal(Problem.NOT_OWNED, f"{name}: {address} not usable by {account.address}")
        return None


def _addresses(fields: list[tuple[str, str]], name: str) -> list[list[str]]:
    """For each field called ``name``, its addresses (group names left out, members kept)."""
    return [[a.addr_spec for a in parse_address_list(value) if a.addr_spec] for n, value in fields if n == name]


def _shape_problem(authors: list[list[str]], transmitters: list[list[str]]) -> str | None:
    if len(authors) != 1:
        return f"{len(authors)} From: fields"
    if not authors[0]:
        return "a From: field without an address"
    if len(authors[0]) > MAX_AUTHORS:
        return f"{len(authors[0])} From: addresses"
    if len(transmitters) > 1:
        return f"{len(transmitters)} Sender: fields"
    if transmitters and len(transmitters[0]) != 1:
        return f"a Sender: field with {len(transmitters[0])} addresses"
    return None
