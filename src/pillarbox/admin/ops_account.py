"""What a user does to their own account (the account pages, ``/api/v1/account``), and API tokens.

App passwords (one per device) are made here, shown once and stored as a hash; IMAP, POP3 and SMTP
accept them in place of the main password (``auth/authenticator.py``), which the user may limit to
the web. Forwarding and vacation are kept as account settings (for the pages) and as the generated
Sieve scripts that delivery runs (``delivery/scripts.py``). API tokens (``pillarbox token``) act as their account.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from pillarbox.admin.common import require_account
from pillarbox.admin.ops_directory import address_field, hashed_password, new_address_field, user_object
from pillarbox.auth.authenticator import WEB_ONLY_SETTING
from pillarbox.auth.passwords import verify_password_async
from pillarbox.auth.secrets import secret_hash
from pillarbox.delivery import scripts
from pillarbox.errors import InvalidInput, NotFound
from pillarbox.store.api import Backend, WebStore

JSON = dict[str, Any]
TOKEN_PREFIX = "pbt_"
WEB_ONLY = WEB_ONLY_SETTING
FORWARD = "forward"
VACATION = "vacation"
MAX_NAME = 64
MAX_VACATION_TEXT = 4000


def _stamp(seconds: float | None) -> str | None:
    return datetime.fromtimestamp(seconds, UTC).isoformat() if seconds else None


def _name(value: str, field: str = "name") -> str:
    name = " ".join(value.split())
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(field, f"a name of 1 to {MAX_NAME} characters")
    return name


# ---------------------------------------------------------------------------------------------- overview


async def account_overview(store: WebStore, address: str) -> JSON:
    account = await require_account(store, address)
    settings = await store.account_settings(account.address)
    return {**await user_object(store, account),
            "main_password_web_only": bool(settings.get(WEB_ONLY)),
            "forward": settings.get(FORWARD), "vacation": settings.get(VACATION),
            "app_passwords": await list_app_passwords(store, account.address),
            "logins": [{"protocol": r.protocol, "ip": r.ip, "at": _stamp(r.at)}
                       for r in await store.recent_logins(account.address)]}


async def change_own_password(store: WebStore, address: str, current: str, password: str, min_length: int) -> JSON:
    credentials = await store.get_credentials(address)
    if credentials is None or not await verify_password_async(credentials.password_hash, current):
        raise InvalidInput("current", "the current password is not right")
    password_hash, scram = await hashed_password(password, address, min_length)
    await store.set_password(address, password_hash, scram)
    return {"address": address, "password_changed": True}


async def limit_main_password(store: WebStore, address: str, web_only: bool) -> JSON:
    """With ``web_only``, IMAP/POP3/SMTP take app passwords only (a stolen device leaks less)."""
    await store.set_account_setting(address, WEB_ONLY, True if web_only else None)
    return {"address": address, "main_password_web_only": web_only}


# ---------------------------------------------------------------------------------------------- app passwords


async def list_app_passwords(store: WebStore, address: str) -> list[JSON]:
    return [{"id": p.id, "name": p.name, "created": _stamp(p.created), "last_used": _stamp(p.last_used)}
            for p in await store.app_passwords(address)]


def _new_app_password() -> str:
    """Four groups of four lower-case letters and digits: ~82 bits, easy to type on a phone."""
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


async def create_app_password(store: WebStore, address: str, name: str) -> JSON:
    """The password is in the answer once; the store keeps its hash."""
    password = _new_app_password()
    password_id = await store.add_app_password(address, _name(name), secret_hash(password))
    return {"id": password_id, "name": _name(name), "password": password}


async def revoke_app_password(store: WebStore, address: str, password_id: int) -> JSON:
    if not await store.delete_app_password(address, password_id):
        raise NotFound(f"no app password {password_id}")
    return {"id": password_id, "revoked": True}


# ---------------------------------------------------------------------------------------------- forwarding


async def set_forward(store: Backend, address: str, to: str | None, keep: bool = True) -> JSON:
    """Forward new mail to ``to`` (None: stop), keeping a copy here unless ``keep`` is False."""
    value = {"to": new_address_field(to, "to"), "keep": keep} if to else None
    if value and value["to"] == address:
        raise InvalidInput("to", "forwarding to the same address would loop")
    account = await require_account(store, address)
    script = scripts.forward_script(value["to"], keep) if value else None
    await scripts.set_generated(store, account.id, FORWARD, script)
    await store.set_account_setting(address, FORWARD, value)
    return {"address": address, "forward": value}


async def set_vacation(
    store: Backend, address: str, enabled: bool, subject: str = "", text: str = "", days: int = 7
) -> JSON:
    """An automatic answer (RFC 5230 vacation, once per sender per ``days``), or none; kept as a setting
    for the pages and as the generated Sieve script that delivery runs (delivery/scripts.py)."""
    if enabled and not text.strip():
        raise InvalidInput("text", "write the answer people should get")
    if len(text) > MAX_VACATION_TEXT or len(subject) > 200 or any(c in subject for c in "\r\n"):
        raise InvalidInput("text" if len(text) > MAX_VACATION_TEXT else "subject", "too long, or a line break")
    if not 1 <= days <= 365:
        raise InvalidInput("days", "between 1 and 365")
    value = {"subject": subject.strip() or "Away", "text": text, "days": days} if enabled else None
    account = await require_account(store, address)
    script = scripts.vacation_script(text, value["subject"], days) if value else None
    await scripts.set_generated(store, account.id, VACATION, script)
    await store.set_account_setting(address, VACATION, value)
    return {"address": address, "vacation": value}


# ---------------------------------------------------------------------------------------------- API tokens


async def create_token(store: WebStore, address: str, name: str) -> JSON:
    """A token for scripts, acting as ``address`` (with its admin rights); shown once, stored hashed."""
    account = await require_account(store, address_field(address))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = await store.add_api_token(account.address, _name(name), secret_hash(token))
    return {"id": token_id, "address": account.address, "name": _name(name), "token": token}


async def list_tokens(store: WebStore, address: str | None = None) -> list[JSON]:
    return [{"id": t.id, "address": t.address, "admin": t.admin, "name": t.name, "created": _stamp(t.created),
             "last_used": _stamp(t.last_used)} for t in await store.api_tokens(address)]


async def revoke_token(store: WebStore, token_id: int) -> JSON:
    if not await store.delete_api_token(token_id):
        raise NotFound(f"no API token {token_id} (see: pillarbox token list)")
    return {"id": token_id, "revoked": True}
