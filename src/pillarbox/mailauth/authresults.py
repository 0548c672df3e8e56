"""Authentication-Results (RFC 8601): recording our verdicts in the message, and only ours.

The field starts with the authserv-id (our hostname) so that readers (mail clients, filters, sieve
scripts) trust only results that a host they know added. That trust is worthless if a sender can
pre-seed a field with our name, so before we prepend ours, every incoming Authentication-Results
field whose authserv-id is ours is removed (RFC 8601 5); fields of other authserv-ids are left alone
(they may be useful and are not ours to judge).

    authres-header-field = "Authentication-Results:" authres-payload
    authres-payload = [CFWS] authserv-id [ CFWS authres-version ] ( no-result / 1*resinfo ) [CFWS] CRLF
    resinfo = [CFWS] ";" methodspec [ CFWS reasonspec ] [ CFWS 1*propspec ]        ; RFC 8601 2.2
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pillarbox.mime.headers import drop_fields

_TOKEN_SAFE = re.compile(r"[A-Za-z0-9!#$%&'*+\-./=?^_`{|}~@]+")


@dataclass(frozen=True)
class MethodResult:
    """One resinfo: ``dkim=pass reason="..." header.d=example.com``."""

    method: str
    result: str
    reason: str = ""
    properties: tuple[tuple[str, str], ...] = field(default=())
    comment: str = ""


def _value(text: str) -> str:
    """A property value: a bare token when it can be one, else a quoted-string."""
    if _TOKEN_SAFE.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _comment(text: str) -> str:
    cleaned = re.sub(r"[()\\\r\n]", " ", text).strip()
    return f" ({cleaned})" if cleaned else ""


def format_resinfo(item: MethodResult) -> str:
    text = f"{item.method}={item.result}{_comment(item.comment)}"
    if item.reason:
        text += f" reason={_value(item.reason[:200])}"
    for name, value in item.properties:
        if value:
            text += f" {name}={_value(value)}"
    return text


def header_field(authserv_id: str, results: Sequence[MethodResult]) -> bytes:
    """The whole field, folded one resinfo per line, ending CRLF."""
    if not results:
        return f"Authentication-Results: {authserv_id}; none\r\n".encode()
    parts = [f"Authentication-Results: {authserv_id}"] + [format_resinfo(r) for r in results]
    return (";\r\n\t".join(parts) + "\r\n").encode("utf-8")


# -- removing forged fields ----------------------------------------------------------------------------

_AUTHSERV_ID = re.compile(rb"\s*(?:\([^)]*\)\s*)*([^\s;()]+)")


def authserv_id_of(value: bytes) -> str:
    """The authserv-id of an Authentication-Results field value (unfolded or not); "" if none."""
    match = _AUTHSERV_ID.match(value)
    return match.group(1).decode("utf-8", "replace").lower() if match else ""


def remove_ours(message: bytes, authserv_id: str) -> tuple[bytes, int]:
    """The message without Authentication-Results fields carrying our authserv-id; and how many went."""
    ours = authserv_id.lower()

    def forged(item: bytes) -> bool:
        name, colon, value = item.partition(b":")
        return bool(colon) and name.strip().lower() == b"authentication-results" and authserv_id_of(value) == ours

    return drop_fields(message, forged)
