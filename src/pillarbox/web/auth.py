"""Who is asking: a web session (cookie) or an API token (``Authorization: Bearer``), and CSRF.

A password login goes through ``auth.Authenticator`` like IMAP/POP3/SMTP ones (same throttle, same
failure delay, counted as protocol ``web``), and like theirs only over TLS: a password that came over
plain http (the ``http`` listener, unless a trusted balancer ended TLS in front of it) is refused unread,
whatever listener the operator exposed. It makes a session: a random id in a cookie (HttpOnly,
SameSite=Strict, Secure and ``__Host-`` prefixed on https) whose hash is a row in the store, so
every worker and node knows it; it ends after ``[web] session_lifetime`` or ``session_idle`` seconds,
or at logout. Every state-changing request of a session must carry the session's CSRF token (form
field ``csrf`` or header ``X-CSRF-Token``); SameSite=Strict alone would leave old browsers exposed.
API tokens carry no ambient authority (a script sends them on purpose), so they need no CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from pillarbox.auth.authenticator import NoTLS
from pillarbox.auth.secrets import new_secret, same_secret, secret_hash
from pillarbox.obs import Counter, get_logger, log_event
from pillarbox.web.services import WebServices

NEEDS_TLS = "Passwords are taken over https only."
COOKIE = "pb_session"
SECURE_COOKIE = "__Host-pb_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
log = get_logger("web")
WEB_LOGINS = Counter("pillarbox_web_logins_total", "Web logins by result", ("result",))


@dataclass(frozen=True)
class Identity:
    address: str
    admin: bool
    via: str
    """session or token"""
    csrf: str = ""
    session_hash: str = ""


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def over_tls(request: Request) -> bool:
    """The browser's connection is encrypted: the ``https`` listener, or a plain one behind a trusted
    balancer that ended TLS and said so in its PROXY v2 header (``Connection.is_tls``, web/server.py)."""
    return request.url.scheme == "https"


def _cookie_name(request: Request) -> str:
    return SECURE_COOKIE if over_tls(request) else COOKIE


async def identify(request: Request, services: WebServices) -> Identity | None:
    authorization = request.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        token = await services.store.find_api_token(secret_hash(authorization[7:].strip()))
        return Identity(token.address, token.admin, "token") if token else None
    session_id = request.cookies.get(_cookie_name(request))
    if not session_id:
        return None
    id_hash = secret_hash(session_id)
    session = await services.store.get_web_session(id_hash)
    now, idle = services.clock(), services.config.web.session_idle
    if session is None or session.expires <= now or session.last_seen + idle <= now:
        return None
    if now - session.last_seen > 60:  # one write a minute at most, not one per request
        await services.store.touch_web_session(id_hash)
    return Identity(session.address, session.admin, "session", session.csrf, id_hash)


async def csrf_ok(request: Request, identity: Identity, form_value: str | None = None) -> bool:
    if request.method in SAFE_METHODS or identity.via == "token":
        return True
    given = request.headers.get("x-csrf-token") or form_value or ""
    return bool(given) and same_secret(given, identity.csrf)


async def log_in(request: Request, services: WebServices, address: str, password: str) -> str:
    """A new session's id for a right address and password; raises ``LoginRefused`` after the delay,
    ``NoTLS`` at once when the password came over plain http."""
    ip = client_ip(request)
    try:
        account = await services.authenticator.login("web", ip, address, password, secure=over_tls(request))
    except NoTLS:
        raise  # not a guess at a password: the login counter and the throttle never saw it
    except Exception:
        WEB_LOGINS.inc(result="failure")
        raise
    WEB_LOGINS.inc(result="success")
    session_id = new_secret()
    lifetime = services.config.web.session_lifetime
    await services.store.add_web_session(secret_hash(session_id), account.address, new_secret(), ip, lifetime)
    return session_id


def set_session_cookie(request: Request, response: Response, session_id: str, lifetime: int) -> None:
    response.set_cookie(_cookie_name(request), session_id, max_age=lifetime, path="/", httponly=True,
                        secure=over_tls(request), samesite="strict")


async def log_out(request: Request, response: Response, services: WebServices, identity: Identity) -> None:
    if identity.session_hash:
        await services.store.delete_web_session(identity.session_hash)
    response.delete_cookie(_cookie_name(request), path="/", secure=over_tls(request),
                           httponly=True, samesite="strict")


def audit(identity: Identity, request: Request, what: str, **details: object) -> None:
    """One log line per change: who, what, from where."""
    log_event(log, "info", "admin change", user=identity.address, via=identity.via, ip=client_ip(request),
              operation=what, **{k: v for k, v in details.items() if k not in ("password", "current")})
