"""Run a Sieve script text against a message in one call, answering the interpreter's questions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from pillarbox.sieve.compiler import Script, compile_script
from pillarbox.sieve.context import Context, Limits, Question
from pillarbox.sieve.interpreter import Result, run
from pillarbox.sieve.message import Envelope, MessageView

MESSAGE = (
    b"Received: from mx.example.org by us; Tue, 1 Jul 2025 10:00:00 +0000\r\n"
    b"From: Coyote <coyote@desert.example.org>\r\n"
    b"To: me@example.com\r\n"
    b"Subject: [acme-users] [fwd] version 1.0 is out\r\n"
    b"Date: Tue, 1 Jul 2025 09:59:00 -0700\r\n"
    b"Message-ID: <1@desert.example.org>\r\n"
    b"\r\n"
    b"Hello, this is about the project schedule.\r\n"
)
NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)


def view(message: bytes = MESSAGE, sender: str = "coyote@desert.example.org",
         recipient: str = "me@example.com") -> MessageView:
    return MessageView.from_bytes(message, Envelope(sender, recipient))


def execute(
    script: str | Script | list[Script], message: bytes = MESSAGE, *, sender: str = "coyote@desert.example.org",
    recipient: str = "me@example.com", seen: Mapping[str, bool] | None = None,
    mailboxes: frozenset[str] = frozenset(), includes: Mapping[tuple[str, str], str] | None = None,
    limits: Limits | None = None, **context: object,
) -> Result:
    """Run to completion: duplicate keys in ``seen`` are "seen", ``mailboxes`` exist, ``includes`` by name."""
    scripts = script if isinstance(script, list) else [compile_script(script) if isinstance(script, str) else script]
    ctx = Context(now=NOW, limits=limits or Limits(), **context)  # type: ignore[arg-type]
    for _ in range(50):
        result = run(scripts, view(message, sender, recipient), ctx)
        if result.question is None:
            return result
        ctx = ctx.answered(result.question, _answer(result.question, seen or {}, mailboxes, includes or {}))
    raise AssertionError("too many questions")


def _answer(question: Question, seen: Mapping[str, bool], mailboxes: frozenset[str],
            includes: Mapping[tuple[str, str], str]) -> object:
    if question.kind == "duplicate":
        return seen.get(question.key[0], False)
    if question.kind == "mailbox":
        return question.key[0] in mailboxes
    text = includes.get((question.key[0], question.key[1]))
    return compile_script(text) if text is not None else None
