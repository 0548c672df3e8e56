"""The JSON API under ``/api/v1/``: every admin operation of ``admin/registry.py``, one route each,
described by the OpenAPI 3.1 document at ``/api/v1/openapi.json`` built from the same table.

Requests carry their parameters in the path, the query (GET) or a JSON object body; answers are
JSON. Refusals are ``{"error": "...", "field": "..."}`` with 400 (bad request), 401 (not logged in),
403 (not allowed, or no CSRF token), 404, 409 (exists already) or 422 (a field's value refused).
``POST /api/v1/session`` logs in with ``{"address", "password"}`` (a session cookie and the CSRF token
to send back as ``X-CSRF-Token``), ``DELETE /api/v1/session`` logs out; scripts use API tokens.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pillarbox.auth.authenticator import LoginRefused, NoTLS
from pillarbox.auth.secrets import secret_hash
from pillarbox.errors import AlreadyExists, InvalidInput, NotFound, PillarboxError
from pillarbox.web.auth import NEEDS_TLS, Identity, audit, csrf_ok, identify, log_in, log_out, set_session_cookie
from pillarbox.web.services import OperationLike, ParamLike, WebServices

PREFIX = "/api/v1"
_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list}


def error_status(exc: Exception) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, AlreadyExists):
        return 409
    if isinstance(exc, InvalidInput):
        return 422
    return 400


def refusal(status: int, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": message, **({"field": field} if field else {})}, status)


def convert(param: ParamLike, value: Any) -> Any:
    """A parameter's value checked against its type (path and query values arrive as text)."""
    if value is None:
        if param.nullable:
            return None
        raise InvalidInput(param.name, f"{param.name} must not be null")
    wanted = _TYPES[param.type]
    if isinstance(value, str) and wanted is int:
        if not value.strip().lstrip("-").isdigit():
            raise InvalidInput(param.name, f"{param.name} must be a whole number")
        value = int(value)
    if isinstance(value, str) and wanted is bool and value in ("true", "false"):
        value = value == "true"
    if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)) or (
            wanted is list and not all(isinstance(v, str) for v in value)):
        raise InvalidInput(param.name, f"{param.name} must be {'an' if param.type[0] in 'ai' else 'a'} {param.type}")
    return value


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise InvalidInput("body", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise InvalidInput("body", "the body must be a JSON object")
    return body


async def gather(operation: OperationLike, request: Request) -> dict[str, Any]:
    body = await _body(request) if operation.method != "GET" else {}
    sources = {"path": request.path_params, "query": request.query_params, "body": body}
    params = {}
    for param in operation.params:
        source = sources["query" if param.where == "body" and operation.method == "GET" else param.where]
        if param.name in source:
            params[param.name] = convert(param, source[param.name])
        elif param.required:
            raise InvalidInput(param.name, f"{param.name} is required")
    return params


def allowed(operation: OperationLike, identity: Identity) -> bool:
    return identity.admin or operation.scope == "self"


def _endpoint(services: WebServices, operation: OperationLike) -> Any:
    async def endpoint(request: Request) -> Response:
        identity = await identify(request, services)
        if identity is None:
            return refusal(401, "log in first (a session, or Authorization: Bearer TOKEN)")
        if not allowed(operation, identity):
            return refusal(403, "for admins only")
        if not await csrf_ok(request, identity):
            return refusal(403, "missing or wrong CSRF token (X-CSRF-Token)")
        try:
            params = await gather(operation, request)
            if operation.scope == "self":
                params["address"] = identity.address
            result = await operation.run(services.context, **params)
        except InvalidInput as exc:
            return refusal(422, str(exc), exc.field)
        except PillarboxError as exc:
            return refusal(error_status(exc), str(exc))
        if operation.changes:
            audit(identity, request, operation.name, **params)
        return JSONResponse(result, 201 if operation.method == "POST" and "create" in operation.name else 200)

    return endpoint


async def _login(request: Request, services: WebServices) -> Response:
    try:
        body = await _body(request)
        address, password = body.get("address"), body.get("password")
        if not isinstance(address, str) or not isinstance(password, str):
            raise InvalidInput("address", "send {\"address\": ..., \"password\": ...}")
        session_id = await log_in(request, services, address, password)
    except InvalidInput as exc:
        return refusal(422, str(exc), exc.field)
    except NoTLS:
        return refusal(403, NEEDS_TLS)
    except LoginRefused:  # a locked-out address too: it must not learn that its guesses go unchecked
        return refusal(401, "login failed")
    session = await services.store.get_web_session(secret_hash(session_id))
    response = JSONResponse({"address": session.address if session else address,
                             "csrf": session.csrf if session else ""})
    set_session_cookie(request, response, session_id, services.config.web.session_lifetime)
    return response


async def _logout(request: Request, services: WebServices) -> Response:
    identity = await identify(request, services)
    if identity is None:
        return refusal(401, "not logged in")
    if not await csrf_ok(request, identity):
        return refusal(403, "missing or wrong CSRF token (X-CSRF-Token)")
    response = JSONResponse({"logged_out": True})
    await log_out(request, response, services, identity)
    return response


def api_routes(services: WebServices) -> list[Route]:
    async def session(request: Request) -> Response:
        return await (_login if request.method == "POST" else _logout)(request, services)

    async def openapi(_request: Request) -> Response:
        from pillarbox.web.openapi import document

        return JSONResponse(document(services.operations))

    routes = [Route(f"{PREFIX}/openapi.json", openapi, methods=["GET"]),
              Route(f"{PREFIX}/session", session, methods=["POST", "DELETE"])]
    routes += [Route(PREFIX + op.path, _endpoint(services, op), methods=[op.method], name=op.name)
               for op in services.operations]
    return routes
