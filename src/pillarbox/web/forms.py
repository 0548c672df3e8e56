"""The plumbing of the server-rendered pages: templates, the logged-in user, CSRF on every form, and
one way to run an operation from a form (success: redirect with a note; refusal: the page again with
the field's error, status 422; never a 500 for bad input)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from pillarbox.errors import InvalidInput, PillarboxError
from pillarbox.web.api import error_status
from pillarbox.web.auth import Identity, audit, csrf_ok, identify
from pillarbox.web.services import WebServices

View = Callable[[Request, Identity, dict[str, str]], Awaitable[Response]]
MAX_FORM_FIELDS = 50

templates = Environment(loader=PackageLoader("pillarbox.web", "templates"),
                        autoescape=select_autoescape(default=True, default_for_string=True))


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def ago(then: float, now: float) -> str:
    """How long ago ``then`` was, in the largest unit that fits: "just now", "12 min ago", "3 h ago"."""
    seconds = max(0, int(now - then))
    if seconds < 60:
        return "just now"
    return f"{seconds // 60} min ago" if seconds < 3600 else f"{seconds // 3600} h ago"


def stamp(when: str | float | None, empty: str = "-") -> str:
    """A time of the API (ISO 8601, UTC) or in seconds since the epoch as a table shows it: "2026-12-07 19:24"."""
    if isinstance(when, int | float):
        when = datetime.fromtimestamp(when, UTC).isoformat()
    return when[:16].replace("T", " ") if when else empty


templates.filters["size"] = human_size
templates.filters["ago"] = ago
templates.filters["stamp"] = stamp
templates.filters["q"] = lambda text: quote(str(text), safe="@")


def render(request: Request, name: str, identity: Identity | None, status: int = 200, **values: Any) -> HTMLResponse:
    context = {"errors": {}, "form": {}, **values}
    html = templates.get_template(name).render(request=request, me=identity, note=request.query_params.get("note"),
                                               **context)
    return HTMLResponse(html, status, headers=SECURITY_HEADERS)


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self';"
                               " frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


async def read_form(request: Request) -> dict[str, str]:
    async with request.form(max_files=0, max_fields=MAX_FORM_FIELDS) as form:
        return {key: value for key, value in form.items() if isinstance(value, str)}


def redirect(path: str, note: str = "") -> RedirectResponse:
    return RedirectResponse(path + (f"?{urlencode({'note': note})}" if note else ""), 303)


def page(services: WebServices, view: View, admin: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """A GET page for logged-in users (admins only with ``admin``)."""

    async def endpoint(request: Request) -> Response:
        identity = await identify(request, services)
        if identity is None:
            return redirect("/login?" + urlencode({"next": request.url.path}))
        if admin and not identity.admin:
            return render(request, "error.html", identity, 403, message="This page is for admins only.")
        try:
            return await view(request, identity, {})
        except PillarboxError as exc:
            return render(request, "error.html", identity, error_status(exc), message=str(exc))

    return endpoint


Params = Callable[[dict[str, str], Request, Identity], dict[str, Any]]


def action(services: WebServices, operation: str, params: Params, view: View, back: str | Callable[..., str],
           note: str | Callable[[Any], str], admin: bool = True) -> Callable[[Request], Awaitable[Response]]:
    """A form POST that runs ``operation`` with ``params(form, request, identity)``."""

    async def endpoint(request: Request) -> Response:
        identity = await identify(request, services)
        if identity is None or (admin and not identity.admin):
            return render(request, "error.html", identity, 403, message="Log in as an admin first.")
        form = await read_form(request)
        if not await csrf_ok(request, identity, form.get("csrf")):
            return render(request, "error.html", identity, 403, message="The form expired; load the page again.")
        try:
            values = params(form, request, identity)
            result = await services.run(operation, **values)
        except InvalidInput as exc:
            return await _again(view, request, identity, {exc.field: str(exc)}, form)
        except PillarboxError as exc:
            return await _again(view, request, identity, {"_": str(exc)}, form)
        audit(identity, request, operation, **values)
        target = back(request) if callable(back) else back
        return redirect(target, note(result) if callable(note) else note)

    return endpoint


async def _again(view: View, request: Request, identity: Identity, errors: dict[str, str],
                 form: dict[str, str]) -> Response:
    response = await view(request, identity, errors)
    response.status_code = 422
    return response


def optional_int(form: dict[str, str], name: str, scale: int = 1) -> int | None:
    """A number field; empty or "none" is None."""
    text = form.get(name, "").strip().lower()
    if text in ("", "none", "unlimited"):
        return None
    try:
        return int(float(text) * scale)
    except ValueError:
        raise InvalidInput(name, f"{name.replace('_', ' ')}: a number, or empty for none") from None
