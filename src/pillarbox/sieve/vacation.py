"""Whether a vacation reply may go out, and the reply itself (RFC 5230 with RFC 3834).

An auto-responder that answers everything is a spam cannon and a mail-loop generator. So no reply:

- to the null sender (bounces), or to ourselves (RFC 5230 4.5: "the user's own addresses");
- to mail that says it is automatic: ``Auto-Submitted`` other than ``no`` (RFC 3834 2, 5230 4.6),
  ``Precedence: bulk / list / junk``;
- to mailing lists: any ``List-*`` field (RFC 2369, 2919), or a sender like ``owner-x``, ``x-request``,
  ``MAILER-DAEMON``, ``LISTSERV``, ``majordomo`` (5230 4.6);
- when none of the user's addresses is in To, Cc, Bcc or their Resent- forms (4.5): Bcc'd lists
  and spam to everyone would otherwise get answers.

The "once per sender per :days" memory is the host's (it asks the store); the reply goes out with
a null envelope sender (RFC 3834 3.3), ``Auto-Submitted: auto-replied`` (3.1.7), In-Reply-To and
References (3.1.5) and a subject "Auto: <original>" unless :subject says otherwise (5230 4.7).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from email.utils import format_datetime

from pillarbox.mime.addresses import parse_address_list
from pillarbox.mime.rfc2047_encode import encode_text, fold, split_words
from pillarbox.sieve.actions import Vacation
from pillarbox.sieve.message import MessageView, header_values, raw_values

_RECIPIENT_FIELDS = ("to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc")
_LIST_SENDER = re.compile(r"(^owner-|-request$|^mailer-daemon$|^listserv$|^majordomo$|-owner$)", re.IGNORECASE)


def refusal(view: MessageView, action: Vacation, own: frozenset[str]) -> str | None:
    """Why no reply may be sent (a short reason for the log), or None when one may."""
    sender = view.envelope.sender
    own = frozenset(a.lower() for a in own | set(action.addresses))
    if not sender:
        return "null sender"
    if sender.lower() in own:
        return "sender is the recipient"
    if _LIST_SENDER.search(sender.rpartition("@")[0]):
        return "sender is a list or daemon address"
    auto = [v.split(";")[0].strip().lower() for v in header_values(view.fields, "auto-submitted")]
    if any(v and v != "no" for v in auto):
        return "message is auto-submitted"
    if any(v.strip().lower() in ("bulk", "list", "junk") for v in header_values(view.fields, "precedence")):
        return "message is bulk"
    if any(f.name.lower().startswith("list-") for f in view.fields):
        return "message is from a mailing list"
    if not _addressed_to(view, own):
        return "none of the user's addresses is a recipient"
    return None


def _addressed_to(view: MessageView, own: frozenset[str]) -> bool:
    for name in _RECIPIENT_FIELDS:
        for value in raw_values(view.fields, name):
            if any(a.addr_spec.lower() in own for a in parse_address_list(value)):
                return True
    return False


def tracking_key(action: Vacation, sender: str) -> str:
    return f"vacation\0{action.handle}\0{sender.lower()}"


def build_reply(view: MessageView, action: Vacation, recipient: str, now: datetime, hostname: str) -> bytes:
    """The reply message (RFC 5322), From the user (or :from), To the envelope sender."""
    subjects = header_values(view.fields, "subject")
    subject = action.subject if action.subject is not None else "Auto: " + (subjects[0] if subjects else "")
    fields = [
        fold("From", encode_text(action.from_ or recipient)),
        f"To: <{view.envelope.sender}>\r\n",
        fold("Subject", encode_text(subject)),
        f"Date: {format_datetime(now)}\r\n",
        f"Message-ID: <{uuid.uuid4().hex}@{hostname}>\r\n",
        "Auto-Submitted: auto-replied (vacation)\r\n",
    ]
    message_ids = [v.strip() for v in raw_values(view.fields, "message-id")][:1]
    if message_ids:
        references = [v.strip() for v in raw_values(view.fields, "references")][:1]
        fields.append(f"In-Reply-To: {message_ids[0]}\r\n")
        fields.append(fold("References", split_words(" ".join([*references, message_ids[0]]))))
    fields.append("MIME-Version: 1.0\r\n")
    if action.mime:  # RFC 5230 4.8: the reason is a MIME entity, header included
        body = action.reason.replace("\r\n", "\n").replace("\n", "\r\n")
        return ("".join(fields) + body).encode()
    fields.append("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n")
    reason = action.reason.replace("\r\n", "\n").replace("\n", "\r\n")
    return ("".join(fields) + "\r\n" + reason + ("" if reason.endswith("\r\n") else "\r\n")).encode()
