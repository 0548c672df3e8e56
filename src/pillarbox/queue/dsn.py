"""Delivery status notifications (bounces): RFC 3464 inside an RFC 6522 multipart/report.

The problem: when mail cannot be delivered (or is late, or the sender asked to hear of success),
the sender must get a message that people can read and programs can parse. The naive bounce is a
plain-text note with the original pasted in; mailing-list software and clients cannot tell which
recipient failed or why. RFC 3464 defines the machine part: one block of per-message fields
(Reporting-MTA, Original-Envelope-Id, Arrival-Date) and one block per recipient (Final-Recipient,
Original-Recipient from ORCPT, Action, Status, Remote-MTA, Diagnostic-Code, Last-Attempt-Date,
Will-Retry-Until). RFC 6522 wraps it: multipart/report; report-type=delivery-status with a
human-readable first part, the delivery-status second, and the original third: its headers
(text/rfc822-headers) or, when the sender asked RET=FULL on a failure, the whole message.

RFC 3461 4.3 (RET) speaks only of failure reports; delay and success reports carry headers only.
A DSN goes from ``MAILER-DAEMON@hostname`` with a null reverse-path (RFC 5321 4.5.5), so a DSN about
a DSN is never sent: no loops. Addresses that are not ASCII need RFC 6533's message/global-*
types; we switch to those when the report or the original needs them.
"""

from __future__ import annotations

import quopri
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

SUBJECTS = {
    "failed": "Undelivered Mail Returned to Sender",
    "delayed": "Delayed Mail (still being retried)",
    "delivered": "Successful Mail Delivery Report",
    "relayed": "Successful Mail Delivery Report",
}
EXPLAIN = {
    "failed": "could not be delivered to the following recipients; it will not be tried again",
    "delayed": "has not yet been delivered to the following recipients; delivery will be retried",
    "delivered": "was delivered to the following recipients",
    "relayed": "was relayed to the following recipients, whose servers do not send delivery reports",
}


@dataclass(frozen=True)
class RecipientReport:
    address: str
    action: str
    """failed, delayed, delivered, relayed (RFC 3464 2.3.3)."""
    status: str
    original: str | None = None
    """ORCPT as ``addr-type;address``."""
    remote_mta: str | None = None
    diagnostic: str | None = None
    """``smtp; 550 5.1.1 ...``"""
    last_attempt: int | None = None
    will_retry_until: int | None = None


@dataclass(frozen=True)
class Report:
    hostname: str
    sender: str
    reports: tuple[RecipientReport, ...]
    original: bytes
    arrival: int
    envid: str | None = None
    ret: str | None = None


def _date(seconds: int) -> str:
    return format_datetime(datetime.fromtimestamp(seconds, UTC))


def _field_value(text: str) -> str:
    return " ".join(text.split())  # one line, no CR/LF smuggling from a remote reply


def delivery_status(report: Report) -> str:
    """The message/delivery-status body (RFC 3464 2.1)."""
    lines = [f"Reporting-MTA: dns; {report.hostname}"]
    if report.envid:
        lines.append(f"Original-Envelope-Id: {_field_value(report.envid)}")
    lines.append(f"Arrival-Date: {_date(report.arrival)}")
    for r in report.reports:
        lines.append("")
        lines.extend(_recipient_fields(r))
    return "\r\n".join(lines) + "\r\n"


def _recipient_fields(r: RecipientReport) -> list[str]:
    utf8 = not r.address.isascii()
    lines = []
    if r.original:
        addr_type, _, original = r.original.partition(";")
        lines.append(f"Original-Recipient: {addr_type}; {_field_value(original)}")
    lines.append(f"Final-Recipient: {'utf-8' if utf8 else 'rfc822'}; {r.address}")
    lines += [f"Action: {r.action}", f"Status: {r.status}"]
    if r.remote_mta:
        lines.append(f"Remote-MTA: dns; {r.remote_mta}")
    if r.diagnostic:
        lines.append(f"Diagnostic-Code: {_field_value(r.diagnostic)}")
    if r.last_attempt:
        lines.append(f"Last-Attempt-Date: {_date(r.last_attempt)}")
    if r.will_retry_until:
        lines.append(f"Will-Retry-Until: {_date(r.will_retry_until)}")
    return lines


def human_text(report: Report) -> str:
    lines = [f"This is the mail system at {report.hostname}.", ""]
    for action in ("failed", "delayed", "delivered", "relayed"):
        chosen = [r for r in report.reports if r.action == action]
        if not chosen:
            continue
        lines += [f"Your message {EXPLAIN[action]}:", ""]
        for r in chosen:
            reason = f": {_field_value(r.diagnostic)}" if r.diagnostic else ""
            lines.append(f"  <{r.address}>{reason}")
        lines.append("")
    return "\r\n".join(lines)


def original_headers(message: bytes) -> bytes:
    end = message.find(b"\r\n\r\n")
    return message if end < 0 else message[:end + 2]


def _headline_action(reports: Sequence[RecipientReport]) -> str:
    actions = {r.action for r in reports}
    return next(a for a in ("failed", "delayed", "delivered", "relayed") if a in actions)


def build_dsn(report: Report, now: int, boundary: str | None = None, message_id: str | None = None) -> bytes:
    """The whole DSN message (CRLF line ends), ready to deliver with a null reverse-path."""
    boundary = boundary or "dsn=" + secrets.token_hex(12)
    message_id = message_id or f"<dsn.{secrets.token_hex(10)}@{report.hostname}>"
    action = _headline_action(report.reports)
    full = action == "failed" and (report.ret or "").upper() == "FULL"
    original = report.original if full else original_headers(report.original)
    utf8 = not all(r.address.isascii() for r in report.reports) or not original.isascii()
    status_type = "message/global-delivery-status" if utf8 else "message/delivery-status"
    if full:
        original_type = "message/global" if not original.isascii() else "message/rfc822"
    else:
        original_type = "message/global-headers" if not original.isascii() else "text/rfc822-headers"
    text = human_text(report)
    head = [
        f"From: Mail Delivery System <MAILER-DAEMON@{report.hostname}>",
        f"To: <{report.sender}>",
        f"Subject: {SUBJECTS[action]}",
        f"Date: {_date(now)}",
        f"Message-ID: {message_id}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        "This is a MIME-encapsulated message.",
        "",
        f"--{boundary}",
        "Content-Description: Notification",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
    ]
    body_text = quopri.encodestring(text.encode()).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    middle = [
        "",
        f"--{boundary}",
        "Content-Description: Delivery report",
        f"Content-Type: {status_type}",
        "",
        delivery_status(report),
        f"--{boundary}",
        "Content-Description: " + ("Undelivered message" if full else "Message headers"),
        f"Content-Type: {original_type}",
        "",
    ]
    crlf = "\r\n"
    out = crlf.join(head).encode() + crlf.encode() + body_text
    out += crlf.join(middle).encode() + crlf.encode() + original
    if not out.endswith(b"\r\n"):
        out += b"\r\n"
    return out + f"\r\n--{boundary}--\r\n".encode()
