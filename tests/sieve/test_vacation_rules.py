"""RFC 5230 / RFC 3834: who never gets a vacation reply, and what the reply looks like."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pillarbox.sieve.actions import Vacation
from pillarbox.sieve.message import Envelope, MessageView
from pillarbox.sieve.vacation import build_reply, refusal

ACTION = Vacation("I'm away.", 7 * 86400, None, None, (), False, "h")
OWN = frozenset({"me@example.com"})


def view(*fields: str, sender: str = "friend@example.net") -> MessageView:
    raw = ("".join(f + "\r\n" for f in fields) + "\r\nhello\r\n").encode()
    return MessageView.from_bytes(raw, Envelope(sender, "me@example.com"))


BASE = ("From: Friend <friend@example.net>", "To: Me <me@example.com>", "Subject: lunch?", "Message-ID: <m1@x>")


def test_an_ordinary_message_gets_a_reply() -> None:
    assert refusal(view(*BASE), ACTION, OWN) is None


@pytest.mark.parametrize(("extra", "sender", "reason"), [
    ((), "", "null sender"),
    ((), "me@example.com", "recipient"),
    ((), "owner-list@example.net", "list or daemon"),
    ((), "list-request@example.net", "list or daemon"),
    ((), "MAILER-DAEMON@example.net", "list or daemon"),
    (("Auto-Submitted: auto-generated",), "friend@example.net", "auto-submitted"),
    (("Precedence: bulk",), "friend@example.net", "bulk"),
    (("List-Id: <x.example.net>",), "friend@example.net", "mailing list"),
    (("List-Unsubscribe: <mailto:x@example.net>",), "friend@example.net", "mailing list"),
])
def test_no_reply(extra: tuple[str, ...], sender: str, reason: str) -> None:
    result = refusal(view(*BASE, *extra, sender=sender), ACTION, OWN)
    assert result is not None and reason in result


def test_no_reply_when_not_addressed_to_the_user() -> None:
    assert refusal(view("From: a@example.net", "To: everyone@example.net"), ACTION, OWN) is not None
    other = Vacation("x", 1, None, None, ("alias@example.com",), False, "h")
    assert refusal(view("To: alias@example.com"), other, OWN) is None
    assert refusal(view("Auto-Submitted: no", "Cc: me@example.com"), ACTION, OWN) is None


def test_reply_fields() -> None:
    reply = build_reply(view(*BASE, "References: <m0@x>"), ACTION, "me@example.com",
                        datetime(2025, 7, 1, tzinfo=UTC), "mx.example.com").decode()
    assert "From: me@example.com\r\n" in reply and "To: <friend@example.net>\r\n" in reply
    assert "Subject: Auto: lunch?\r\n" in reply and "Auto-Submitted: auto-replied" in reply
    assert "In-Reply-To: <m1@x>\r\n" in reply and "References: <m0@x> <m1@x>\r\n" in reply
    assert reply.endswith("\r\n\r\nI'm away.\r\n")
