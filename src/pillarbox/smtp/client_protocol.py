"""The sans-IO core of the SMTP client: replies in, commands and message bytes out.

The problem: a delivering MTA must read multi-line replies, send MAIL/RCPT/DATA (pipelined when the
server offers PIPELINING, RFC 2920), dot-stuff the message (RFC 5321 4.5.2), and turn every reply into
a per-recipient verdict. The naive client sends a command, waits, reads a line; it breaks on
multi-line replies, on servers that split a reply across packets, and on pipelined servers that answer
a whole group at once. Here nothing does I/O: ``ReplyParser`` turns bytes into ``ServerReply`` values
whatever the packet boundaries, and ``MailTransaction`` is the state of one MAIL..DATA exchange, fed
replies in order; the asyncio glue (``smtp/client.py``) only moves bytes and applies timeouts.

    Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF   (4.2)

RFC 2920 3.1: with pipelining, MAIL, every RCPT and DATA go in one group; the server answers each in
order. If no RCPT was accepted, DATA must fail (503/554); if a server still says 354 we send a lone
"." so that no message is delivered to nobody. Vague spots: RFC 5321 does not bound the number of
lines of a reply (we do, 100), and servers differ on whether the enhanced code is on every line (we
read it from the first).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pillarbox.smtp.grammar import encode_xtext
from pillarbox.smtp.replies import ReplyClass

MAX_REPLY_LINE = 4096
MAX_REPLY_LINES = 100
_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?: |$)")


class ClientProtocolError(Exception):
    """The server sent something that is not an SMTP reply (treated as a temporary failure)."""


@dataclass(frozen=True)
class ServerReply(ReplyClass):
    code: int
    lines: tuple[str, ...]

    @property
    def enhanced(self) -> str | None:
        match = _ENHANCED.match(self.lines[0]) if self.lines else None
        return match.group(0).strip() if match and int(match.group(1)) == self.code // 100 else None

    @property
    def text(self) -> str:
        return " ".join(self.lines)

    def status(self) -> str:
        """The RFC 3463 status for a DSN: the enhanced code, else one derived from the basic code."""
        return self.enhanced or f"{self.code // 100}.0.0"

    def diagnostic(self) -> str:
        """RFC 3464 Diagnostic-Code value: ``smtp; 550 5.1.1 No such user``."""
        return f"smtp; {self.code} {self.text}"


class ReplyParser:
    """Bytes in (any split), whole replies out, in order."""

    def __init__(self) -> None:
        self._buffer = b""
        self._lines: list[str] = []
        self.replies: list[ServerReply] = []

    def receive_data(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_REPLY_LINE:
                    raise ClientProtocolError("reply line too long")
                return
            line, self._buffer = self._buffer[:end].rstrip(b"\r"), self._buffer[end + 1:]
            self._line(line.decode("utf-8", errors="replace"))

    def _line(self, line: str) -> None:
        if len(line) < 3 or not line[:3].isdigit() or (len(line) > 3 and line[3] not in " -"):
            raise ClientProtocolError(f"not an SMTP reply: {line[:80]!r}")
        code = int(line[:3])
        if not 200 <= code <= 599:
            raise ClientProtocolError(f"reply code out of range: {code}")
        self._lines.append(line[4:])
        if len(self._lines) > MAX_REPLY_LINES:
            raise ClientProtocolError("reply has too many lines")
        if len(line) == 3 or line[3] == " ":
            self.replies.append(ServerReply(code, tuple(self._lines)))
            self._lines = []

    def next_reply(self) -> ServerReply | None:
        return self.replies.pop(0) if self.replies else None


# ---------------------------------------------------------------------------------------------- EHLO


@dataclass(frozen=True)
class Extensions:
    """What an EHLO reply offered: keyword (upper case) -> parameters."""

    offered: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, reply: ServerReply) -> Extensions:
        offered: dict[str, tuple[str, ...]] = {}
        for line in reply.lines[1:]:
            words = line.split()
            if words:
                offered[words[0].upper()] = tuple(words[1:])
        return cls(offered)

    def __contains__(self, keyword: str) -> bool:
        return keyword.upper() in self.offered

    @property
    def size_limit(self) -> int | None:
        params = self.offered.get("SIZE")
        return int(params[0]) if params and params[0].isdigit() and int(params[0]) > 0 else None

    def limit(self, name: str) -> int | None:
        """RFC 9422 LIMITS: a positive ``NAME=value`` (RCPTMAX, MAILMAX, RCPTDOMAINMAX), else None."""
        for param in self.offered.get("LIMITS", ()):
            key, _, value = param.partition("=")
            if key.upper() == name and value.isdigit() and int(value) > 0:
                return int(value)
        return None

    @property
    def auth_mechanisms(self) -> tuple[str, ...]:
        return tuple(m.upper() for m in self.offered.get("AUTH", ()))


def command(verb: str, argument: str = "") -> bytes:
    return f"{verb} {argument}\r\n".encode() if argument else f"{verb}\r\n".encode()


def dot_stuff(message: bytes) -> bytes:
    """The DATA payload: lines starting with "." doubled, CRLF line ends, ending in CRLF "." CRLF."""
    body = re.sub(rb"\r?\n", b"\r\n", message)
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    body = re.sub(rb"(?m)^\.", b"..", body)
    return body + b".\r\n"


# --------------------------------------------------------------------------------------- transaction


@dataclass(frozen=True)
class Envelope:
    """What MAIL FROM and RCPT TO say: addresses plus ESMTP parameters (already decided)."""

    sender: str
    recipients: tuple[str, ...]
    mail_params: tuple[str, ...] = ()
    rcpt_params: tuple[tuple[str, ...], ...] = ()


def dsn_rcpt_params(notify: Sequence[str], orcpt: str | None) -> tuple[str, ...]:
    """NOTIFY and ORCPT for a DSN-capable peer (RFC 3461 4.1, 4.2); ``orcpt`` is ``type;address``."""
    params = [f"NOTIFY={','.join(notify)}"] if notify else []
    if orcpt:
        addr_type, _, address = orcpt.partition(";")
        params.append(f"ORCPT={addr_type};{encode_xtext(address)}")
    return tuple(params)


class MailTransaction:
    """One MAIL FROM .. end of DATA exchange; feed it the server's replies in order.

    ``commands()`` gives what to send now; ``handle(reply)`` consumes the next reply; once DATA got
    354, ``body()`` is the payload to send; ``done`` when the final reply arrived or the transaction
    failed before DATA. ``rcpt_replies[i]`` and ``data_reply`` hold the verdicts.
    """

    def __init__(self, envelope: Envelope, message: bytes, pipelining: bool) -> None:
        self.envelope = envelope
        self.message = message
        self.pipelining = pipelining
        self.mail_reply: ServerReply | None = None
        self.rcpt_replies: list[ServerReply] = []
        self.data_reply: ServerReply | None = None
        self.final_reply: ServerReply | None = None
        self._queue = self._all_commands()
        self._expected = 0  # replies outstanding for commands already given out
        self.sending_body = False
        self.done = False

    def _all_commands(self) -> list[bytes]:
        env = self.envelope
        sender = " ".join((f"FROM:<{env.sender}>", *env.mail_params))
        cmds = [command("MAIL", sender)]
        for n, address in enumerate(env.recipients):
            params = env.rcpt_params[n] if n < len(env.rcpt_params) else ()
            cmds.append(command("RCPT", " ".join((f"TO:<{address}>", *params))))
        return [*cmds, command("DATA")]

    def commands(self) -> bytes:
        """The next command (or, pipelining, the whole MAIL/RCPT/DATA group) to send."""
        if self._expected or self.done or not self._queue:
            return b""
        batch = self._queue if self.pipelining else self._queue[:1]
        self._queue = self._queue[len(batch):]
        self._expected = len(batch)
        return b"".join(batch)

    def handle(self, reply: ServerReply) -> None:
        if self.sending_body:
            self.final_reply, self.done = reply, True
            return
        self._expected -= 1
        if self.mail_reply is None:
            self.mail_reply = reply
        elif len(self.rcpt_replies) < len(self.envelope.recipients):
            self.rcpt_replies.append(reply)
        else:
            self.data_reply = reply
            self._after_data(reply)
            return
        if not self.pipelining and self.mail_reply.code >= 400:
            self.done = True  # nothing more to send; the caller RSETs
        self.fail_remaining()

    def _after_data(self, reply: ServerReply) -> None:
        if reply.code == 354:
            self.sending_body = True
        else:
            self.done = True

    def body(self) -> bytes:
        """After 354: the dot-stuffed message, or a lone "." if no recipient was accepted."""
        if not self.accepted_positions():
            return b".\r\n"
        return dot_stuff(self.message)

    def accepted_positions(self) -> list[int]:
        if self.mail_reply is None or not self.mail_reply.is_positive:
            return []
        return [n for n, r in enumerate(self.rcpt_replies) if r.is_positive]

    def verdicts(self) -> list[ServerReply]:
        """One reply per recipient: the reply that decided its fate."""
        default = self.final_reply or self.data_reply or self.mail_reply
        out: list[ServerReply] = []
        for n in range(len(self.envelope.recipients)):
            if self.mail_reply is not None and not self.mail_reply.is_positive:
                out.append(self.mail_reply)
            elif n < len(self.rcpt_replies) and not self.rcpt_replies[n].is_positive:
                out.append(self.rcpt_replies[n])
            else:
                out.append(default or ServerReply(451, ("4.4.2 connection lost",)))
        return out

    def fail_remaining(self) -> None:
        """Stop a non-pipelined transaction once every recipient was refused (no DATA to nobody)."""
        if not self.pipelining and len(self.rcpt_replies) == len(self.envelope.recipients) \
                and not self.accepted_positions() and self.data_reply is None:
            self._queue = []
            self.done = True
