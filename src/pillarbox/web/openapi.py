"""The OpenAPI 3.1 document of the JSON API, built from the operations table (never written by hand,
so it cannot drift from what is served)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pillarbox.web.services import OperationLike, ParamLike

ERROR = {"$ref": "#/components/schemas/Error"}


def _schema(param: ParamLike) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": [param.type, "null"] if param.nullable else param.type}
    if param.type == "array":
        schema["items"] = {"type": "string"}
    if param.description:
        schema["description"] = param.description
    return schema


def _operation(op: OperationLike) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "operationId": op.name, "summary": op.summary, "tags": [op.name.split(".")[0]],
        "parameters": [{"name": p.name, "in": p.where if p.where != "body" else "query", "required": p.required,
                        "schema": _schema(p)} for p in op.params if p.where == "path" or op.method == "GET"],
        "responses": {
            "200": {"description": "done", "content": {"application/json": {"schema": {}}}},
            **{code: {"description": text, "content": {"application/json": {"schema": ERROR}}} for code, text in (
                ("401", "not logged in"), ("403", "not allowed, or no CSRF token"), ("404", "no such thing"),
                ("422", "a value refused; field names it"))},
        },
    }
    body = [p for p in op.params if p.where == "body"]
    if body and op.method != "GET":
        spec["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "properties": {p.name: _schema(p) for p in body},
            "required": [p.name for p in body if p.required]}}}}
    if op.scope == "admin":
        spec["description"] = "For admins only."
    return spec


def document(operations: Sequence[OperationLike]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault("/api/v1" + op.path, {})[op.method.lower()] = _operation(op)
    paths["/api/v1/session"] = {
        "post": {"operationId": "session.create", "summary": "log in: a session cookie and its CSRF token",
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["address", "password"],
                     "properties": {"address": {"type": "string"}, "password": {"type": "string"}}}}}},
                 "responses": {"200": {"description": "logged in"}, "401": {"description": "login failed"},
                               "403": {"description": "not over TLS: passwords are taken over https only"}}},
        "delete": {"operationId": "session.delete", "summary": "log out",
                   "responses": {"200": {"description": "logged out"}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Pillarbox administration API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": {"Error": {"type": "object", "required": ["error"],
                                  "properties": {"error": {"type": "string"}, "field": {"type": "string"}}}},
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"},
                                "session": {"type": "apiKey", "in": "cookie", "name": "pb_session"}},
        },
        "security": [{"token": []}, {"session": []}],
    }
