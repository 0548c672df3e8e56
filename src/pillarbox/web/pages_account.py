"""The account pages every user has: password, app passwords, the main password for the web only,
forwarding, vacation, quota use, recent logins, the Apple profile; and logging in and out."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pillarbox.auth.authenticator import LoginRefused, NoTLS
from pillarbox.web.auth import NEEDS_TLS, Identity, csrf_ok, identify, log_in, log_out, over_tls, set_session_cookie
from pillarbox.web.autoconfig import mobileconfig
from pillarbox.web.forms import action, optional_int, page, read_form, redirect, render
from pillarbox.web.services import WebServices


def _safe_next(target: str) -> str:
    """Only a path of this site (no //host, no scheme): a login link must not send anyone elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def _vacation_days(form: dict[str, str]) -> int:
    """The form's days; empty means the default 7 (0 or a negative number is the field's error)."""
    days = optional_int(form, "days")
    return 7 if days is None else days


def account_routes(s: WebServices) -> list[Route]:
    async def account(request: Request, me: Identity, errors: dict[str, str]) -> Response:
        overview = await s.run("account.get", address=me.address)
        created = request.query_params.get("created")
        return render(request, "account.html", me, errors=errors, account=overview, created=created)

    async def login_form(request: Request) -> Response:
        errors = {} if over_tls(request) else {"password": NEEDS_TLS}
        target = _safe_next(request.query_params.get("next", "/"))
        return render(request, "login.html", None, errors=errors, next=target)

    async def login(request: Request) -> Response:
        form = await read_form(request)
        target = _safe_next(form.get("next", "/"))
        try:
            session_id = await log_in(request, s, form.get("address", ""), form.get("password", ""))
        except NoTLS:
            return render(request, "login.html", None, 403, next=target, errors={"password": NEEDS_TLS},
                          form={"address": form.get("address", "")})
        except LoginRefused:  # a locked-out address too: it must not learn that its guesses go unchecked
            return render(request, "login.html", None, 401, next=target,
                          errors={"password": "Wrong address or password."},
                          form={"address": form.get("address", "")})
        response = redirect(target)
        set_session_cookie(request, response, session_id, s.config.web.session_lifetime)
        return response

    async def logout(request: Request) -> Response:
        identity = await identify(request, s)
        response = redirect("/login")
        if identity is not None and await csrf_ok(request, identity, (await read_form(request)).get("csrf")):
            await log_out(request, response, s, identity)
        return response

    async def home(request: Request) -> Response:
        identity = await identify(request, s)
        if identity is None:
            return redirect("/login")
        return redirect("/admin" if identity.admin else "/account")

    async def profile(request: Request, me: Identity, errors: dict[str, str]) -> Response:
        body = mobileconfig(me.address, s.config.hostname, s.ports)
        name = me.address.replace("@", "_at_")
        return Response(body, headers={"Content-Type": "application/x-apple-aspen-config",
                                       "Content-Disposition": f'attachment; filename="{name}.mobileconfig"'})

    def mine(operation: str, params: Any, note: Any) -> Any:
        return action(s, operation, lambda f, r, i: {"address": i.address, **params(f, r)}, account, "/account",
                      note, admin=False)

    def created(result: dict[str, Any]) -> str:
        return f"app password for {result['name']}: {result['password']}"

    return [
        Route("/", home),
        Route("/login", login_form),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/account", page(s, account)),
        Route("/account/mail.mobileconfig", page(s, profile)),
        Route("/account/password", mine("account.password", lambda f, r: {
            "current": f.get("current", ""), "password": f.get("password", "")}, "password changed"),
            methods=["POST"]),
        Route("/account/app-passwords", mine("account.app_password.create", lambda f, r: {
            "name": f.get("name", "")}, created), methods=["POST"]),
        Route("/account/app-passwords/{id}/revoke", mine("account.app_password.revoke", lambda f, r: {
            "id": optional_int({"id": r.path_params["id"]}, "id") or 0}, "app password revoked"), methods=["POST"]),
        Route("/account/web-only", mine("account.web_only", lambda f, r: {"web_only": "web_only" in f},
                                        "saved"), methods=["POST"]),
        Route("/account/forward", mine("account.forward", lambda f, r: {
            "to": f.get("to", "").strip() or None, "keep": "keep" in f}, "forwarding saved"), methods=["POST"]),
        Route("/account/vacation", mine("account.vacation", lambda f, r: {
            "enabled": "enabled" in f, "subject": f.get("subject", ""), "text": f.get("text", ""),
            "days": _vacation_days(f)},
            "vacation saved"), methods=["POST"]),
    ]

