"""One log line for every refusal an SMTP session sends: who, which command, why, and the reply.

The transaction line (``session._log_transaction``) says how a message ended; a refused MAIL, RCPT,
AUTH or relay attempt never gets that far, and a rejected message's line does not say why. So every
4xx/5xx reply a handler produces is logged here once, with the client, the command it answers, the
reason (the ``ProtocolError``'s detail where the handler gave one, such as which From: address is
not the user's, else the reply's own text) and the reply as sent.
"""

from __future__ import annotations

from typing import Any

from pillarbox.obs import get_logger, log_event
from pillarbox.smtp import events as core
from pillarbox.smtp.replies import Reply

log = get_logger("smtp")

_COMMANDS: dict[type, str] = {
    core.Ehlo: "EHLO", core.Helo: "HELO", core.Mail: "MAIL", core.Rcpt: "RCPT", core.Data: "DATA",
    core.MessageComplete: "DATA", core.MessageRejected: "DATA", core.BdatChunk: "BDAT", core.ChunkRejected: "BDAT",
    core.Rset: "RSET", core.Noop: "NOOP", core.Quit: "QUIT", core.Vrfy: "VRFY", core.Expn: "EXPN", core.Help: "HELP",
    core.StartTls: "STARTTLS", core.Auth: "AUTH", core.AuthResponse: "AUTH", core.AuthCancelled: "AUTH",
}


def command_of(event: object) -> str:
    """The command a reply answers; for a line that is no command, its first word (peer text, bounded)."""
    if isinstance(event, core.Invalid):
        word = event.line.split(b" ", 1)[0][:16].decode("ascii", "replace").upper()
        return word or "-"
    return _COMMANDS.get(type(event), type(event).__name__)


def addresses_of(event: object) -> dict[str, Any]:
    if isinstance(event, core.Mail):
        return {"sender": event.args.address or "<>"}
    if isinstance(event, core.Rcpt):
        return {"recipient": event.args.address}
    return {}


def log_refusal(event: object, reply: Reply, detail: str, **session: Any) -> None:
    """``session``: the fields that place it (session id, role, client, user)."""
    text = reply.text.splitlines()[0] if reply.text else ""
    log_event(log, "info", "refused", **session, command=command_of(event), **addresses_of(event),
              reason=detail or text, reply=" ".join(str(p) for p in (reply.code, reply.enhanced, text) if p))
