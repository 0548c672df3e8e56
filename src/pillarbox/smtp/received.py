"""The Received: trace header a receiving SMTP server prepends (RFC 5321 4.4).

    Time-stamp-line = "Received:" FWS Stamp <CRLF>
    Stamp = From-domain By-domain Opt-info [CFWS] ";" FWS date-time
    Opt-info = [Via] [With] [ID] [For] [Additional-Registered-Clauses]

The "with" protocol names come from the IANA Mail Transmission Types registry: ESMTP, with "S" for
TLS and "A" for an authenticated client (RFC 3848), and UTF8SMTP... when SMTPUTF8 was used
(RFC 6531 3.7.3). The TLS version and cipher go in a comment, as Postfix and Gmail write them.
"For" names the recipient only when there is exactly one: listing several would disclose Bcc
recipients to each other. The client's address is an address literal; we do not trust or look up
reverse DNS here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from pillarbox.net.tls import format_tls


@dataclass(frozen=True)
class TraceInfo:
    helo: str
    client_ip: str
    hostname: str
    queue_id: str
    tls: dict[str, object] | None
    authenticated: bool
    smtputf8: bool
    esmtp: bool
    recipients: tuple[str, ...]


def with_protocol(info: TraceInfo) -> str:
    if not info.esmtp:
        return "SMTP"
    name = "UTF8SMTP" if info.smtputf8 else "ESMTP"
    return name + ("S" if info.tls else "") + ("A" if info.authenticated else "")


def address_literal(ip: str) -> str:
    parsed = ipaddress.ip_address(ip)
    if isinstance(parsed, ipaddress.IPv6Address):
        return f"[{parsed.ipv4_mapped}]" if parsed.ipv4_mapped else f"[IPv6:{parsed}]"
    return f"[{parsed}]"


def received_header(info: TraceInfo, when: datetime) -> bytes:
    helo = _sanitize(info.helo) or "unknown"
    lines = [f"Received: from {helo} ({address_literal(info.client_ip)})"]
    if info.tls:
        lines.append(f"\t({format_tls(info.tls)})")
    lines.append(f"\tby {info.hostname} (Pillarbox) with {with_protocol(info)} id {info.queue_id}")
    stamp = format_datetime(when)
    if len(info.recipients) == 1:
        lines.append(f"\tfor <{_sanitize(info.recipients[0])}>; {stamp}")
    else:
        lines[-1] += ";"
        lines.append(f"\t{stamp}")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _sanitize(text: str) -> str:
    # peer-controlled text must not break the header structure (comments, folding)
    return "".join(c for c in text if c.isprintable() and c not in "()\\;")
