"""The From:/Sender: rule on its own: any header block gets an answer, never an exception."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from pillarbox.config import SendersConfig
from pillarbox.policy.senders import MAX_AUTHORS, HeaderRefusal, Problem, SenderRules
from pillarbox.store.records import Account

BOB = Account(1, "bob@example.com", "example.com", None, None, datetime(2026, 1, 1, tzinfo=UTC))


class Owns:
    """A directory where bob may use exactly ``usable`` (and counts the questions)."""

    def __init__(self, usable: set[str]) -> None:
        self.usable = usable
        self.asked = 0

    async def may_use(self, account: Account, address: str) -> bool:
        self.asked += 1
        return address.lower() in self.usable


def check(header: bytes, settings_: SendersConfig | None = None, directory: Owns | None = None) -> HeaderRefusal | None:
    rules = SenderRules(directory or Owns({"bob@example.com"}), settings_ or SendersConfig())  # type: ignore[arg-type]
    return asyncio.run(rules.check(BOB, header + b"\r\nbody\r\n"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_get_an_answer(raw: bytes):
    outcome = check(raw)
    assert outcome is None or isinstance(outcome, HeaderRefusal)


VALUES = {"bob@example.com": ["bob@example.com"], "carol@example.com": ["carol@example.com"], "undisclosed:;": [],
          "Bob <bob@example.com>": ["bob@example.com"], "": [], "b@x (c@y)": ["b@x"],
          "bob@example.com, carol@example.com": ["bob@example.com", "carol@example.com"]}


def expected(fields: list[tuple[str, str]]) -> Problem | None:
    """What the rule must say, from the fields' known address lists."""
    froms = [VALUES[v] for n, v in fields if n.lower() == "from"]
    senders = [VALUES[v] for n, v in fields if n.lower() == "sender"]
    if len(froms) != 1 or not froms[0] or len(senders) > 1 or (senders and len(senders[0]) != 1):
        return Problem.MALFORMED
    if any(a != "bob@example.com" for a in froms[0] + (senders[0] if senders else [])):
        return Problem.NOT_OWNED
    return None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["From", "from", "FROM", "Sender", "Subject", "Resent-From"]),
                          st.sampled_from(sorted(VALUES))), max_size=4))
def test_the_verdict_follows_the_fields(fields: list[tuple[str, str]]):
    outcome = check("".join(f"{name}: {value}\r\n" for name, value in fields).encode())
    assert (outcome.problem if outcome else None) == expected(fields)


def test_a_domain_set_to_any_is_not_checked():
    assert check(b"From: carol@example.com\r\n") == HeaderRefusal(
        Problem.NOT_OWNED, "From: carol@example.com not usable by bob@example.com")
    assert check(b"From: carol@example.com\r\n", SendersConfig(from_header_by_domain=(("example.com", "any"),))) is None
    assert check(b"From: carol@example.com\r\n", SendersConfig(from_header="any")) is None
    everywhere_but_here = SendersConfig(from_header="any", from_header_by_domain=(("example.com", "owned"),))
    assert check(b"From: carol@example.com\r\n", everywhere_but_here) is not None


def test_the_number_of_authors_is_bounded():
    directory = Owns({"bob@example.com"})
    many = ", ".join(["bob@example.com"] * (MAX_AUTHORS + 1)).encode()
    assert check(b"From: " + many + b"\r\n", directory=directory) == HeaderRefusal(
        Problem.MALFORMED, f"{MAX_AUTHORS + 1} From: addresses")
    assert directory.asked == 0
