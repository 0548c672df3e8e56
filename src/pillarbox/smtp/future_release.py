"""FUTURERELEASE (RFC 4865): a submitted message held until a time the sender chose.

``MAIL FROM:<...> HOLDFOR=<seconds>`` or ``HOLDUNTIL=<RFC 3339 date-time>`` (not both) asks the server
to keep the message until then; the EHLO keyword tells the longest hold and the latest release time
(``FUTURERELEASE <max-future-release-interval> <max-future-release-date-time>``). Only the
submission service offers it, to authenticated users. A held message goes whole to the queue — its
local recipients too, so that nobody reads it early — with the release as its first attempt; a
release time already past releases it at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pillarbox.errors import ProtocolError
from pillarbox.smtp import replies
from pillarbox.smtp.grammar import MailFrom

MAX_HOLD = timedelta(days=30)
"""The longest hold offered (RFC 4865 3: the server's choice)."""


def ehlo_keyword(now: datetime) -> str:
    latest = (now + MAX_HOLD).astimezone(UTC).replace(microsecond=0)
    return f"FUTURERELEASE {int(MAX_HOLD.total_seconds())} {latest.isoformat().replace('+00:00', 'Z')}"


def release_time(mail: MailFrom, now: datetime) -> datetime | None:
    """When ``mail``'s message may leave (None: not held); ProtocolError for a request we refuse."""
    hold_for, hold_until = mail.params.get("HOLDFOR"), mail.params.get("HOLDUNTIL")
    if hold_for is None and hold_until is None:
        return None
    if hold_for is not None and hold_until is not None:
        raise ProtocolError(replies.PARAM_SYNTAX.with_text("HOLDFOR and HOLDUNTIL cannot be used together"))
    release = now + timedelta(seconds=int(hold_for)) if hold_for is not None else _parse(hold_until or "")
    if release - now > MAX_HOLD:
        raise ProtocolError(replies.PARAM_SYNTAX.with_text(
            f"Release time too far in the future (at most {int(MAX_HOLD.total_seconds())} seconds)"))
    return max(release, now)


def _parse(text: str) -> datetime:
    """RFC 3339 ``date-time`` with a zone ("Z" or an offset)."""
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in text.upper():
        raise ProtocolError(replies.PARAM_SYNTAX.with_text("HOLDUNTIL needs an RFC 3339 date-time with a zone"))
    return moment
