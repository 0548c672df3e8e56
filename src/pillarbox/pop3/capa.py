"""The CAPA list (RFC 2449 5): what this server offers, given the connection and the login state.

Principle 8 decides two lines: USER and SASL are listed only over TLS (before STLS a client must not
be invited to send a password in clear, RFC 2595 4; loopback is no exception), and STLS is listed
only on a plaintext connection that may still upgrade.

EXPIRE and LOGIN-DELAY may differ per user (RFC 2449 6.5, 6.7). Before login we must announce the
value that bounds every user: for EXPIRE the smallest retention any account may have, which is 0
since the delete-after-download policy exists, hence "EXPIRE 0 USER" ("USER": ask again after login
for this account's value). After login the account's own value: NEVER, 0 or N days. LOGIN-DELAY is
announced only when configured above zero, since "servers which advertise LOGIN-DELAY SHOULD enforce
it" and zero would say nothing.
"""

from __future__ import annotations

from pillarbox import __version__
from pillarbox.auth import sasl

IMPLEMENTATION = f"Pillarbox-{__version__}"


def capabilities(
    *, tls: bool, can_stls: bool, authenticated: bool, expire_days: int | None, login_delay: int
) -> list[str]:
    """``expire_days`` is the account's policy once ``authenticated`` (ignored before)."""
    lines = ["TOP", "UIDL"]
    if tls:
        lines.append("USER")
        lines.append("SASL " + " ".join(sasl.mechanisms_for(tls=True)))
    lines += ["RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
    lines.append(_expire(authenticated, expire_days))
    if login_delay > 0:
        lines.append(f"LOGIN-DELAY {login_delay}" + ("" if authenticated else " USER"))
    lines.append("UTF8 USER" if tls else "UTF8")  # RFC 6856 2.2: USER = UTF-8 user names accepted
    if can_stls and not tls and not authenticated:
        lines.append("STLS")
    lines.append(f"IMPLEMENTATION {IMPLEMENTATION}")
    return lines


def _expire(authenticated: bool, days: int | None) -> str:
    if not authenticated:
        return "EXPIRE 0 USER"
    return "EXPIRE NEVER" if days is None else f"EXPIRE {days}"
