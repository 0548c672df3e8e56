"""Serving an ASGI application (Starlette, ``web/site.py``) on a ``net.listener`` connection, with h11.

Why not uvicorn's own server: uvicorn binds and accepts by itself, while every Pillarbox port is
accepted by ``net.listener`` (per-listener and per-IP connection limits, the workers' load board,
the TLS context of the moment with SNI, shedding at shutdown). So the listener keeps the socket
and this module plays uvicorn's part for one connection: it drives h11, the sans-IO HTTP/1.1 parser
uvicorn uses (ARCHITECTURE habit 1), and calls the application as uvicorn does (ASGI 3, HTTP scope).

Bounds (ARCHITECTURE habit 16): a request head of ``max_head`` bytes (431 past it), a body of
``max_body`` (413), a deadline for reading one request (``request_timeout``; also the keep-alive
wait between requests), and ``send_timeout`` on writes (``Connection.write``). h11 refuses request
smuggling shapes (obs-fold, a space before the colon, Content-Length with Transfer-Encoding,
conflicting lengths; RFC 9112 6.3) with 400; chunked bodies are decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_to_bytes

import h11

from pillarbox.net.listener import Connection

log = logging.getLogger("pillarbox.web")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

MAX_HEAD_BYTES = 8 * 1024
MAX_BODY_BYTES = 1024 * 1024
REQUEST_TIMEOUT = 10.0
LINGER_TIMEOUT = 1.0


@dataclass(frozen=True)
class HttpLimits:
    max_head: int = MAX_HEAD_BYTES
    max_body: int = MAX_BODY_BYTES
    request_timeout: float = REQUEST_TIMEOUT


class Refusal(Exception):
    """A request refused before the application saw it: answered with ``status`` and closed."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


class HttpServer:
    """``handle(conn)`` is the Listener handler: requests one after the other (keep-alive) until either
    side closes, the deadline passes, or the server stops."""

    def __init__(self, app: ASGIApp, limits: HttpLimits | None = None) -> None:
        self.app = app
        self.limits = limits or HttpLimits()

    async def handle(self, conn: Connection) -> None:
        h11conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_head)
        while not conn.stopping.is_set():
            try:
                async with asyncio.timeout(self.limits.request_timeout):
                    request, body = await self._read_request(conn, h11conn)
            except (TimeoutError, ConnectionError):
                return
            except Refusal as exc:
                await _refuse(conn, exc)
                return
            if request is None:
                return
            await _Exchange(self.app, conn, h11conn, request, body).run()
            if h11conn.our_state is not h11.DONE or h11conn.their_state is not h11.DONE:
                return
            h11conn.start_next_cycle()

    async def _read_request(self, conn: Connection, h11conn: h11.Connection) -> tuple[h11.Request | None, bytes]:
        request: h11.Request | None = None
        body = bytearray()
        while True:
            event = await _next_event(conn, h11conn)
            if isinstance(event, h11.Request):
                request = event
                _check_head(event, self.limits)
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > self.limits.max_body:
                    raise Refusal(413, "request body too large")
            elif isinstance(event, h11.EndOfMessage):
                return request, bytes(body)
            elif isinstance(event, h11.ConnectionClosed):
                if request is not None:
                    raise Refusal(400, "incomplete request")
                return None, b""


async def _next_event(conn: Connection, h11conn: h11.Connection) -> Any:
    while True:
        try:
            event = h11conn.next_event()
        except h11.RemoteProtocolError as exc:
            status = exc.error_status_hint
            if "exceeds" in str(exc) or "too long" in str(exc):
                status = 431
            raise Refusal(status, str(exc)) from None
        if event is not h11.NEED_DATA:
            return event
        data = await conn.read_unless_stopping()
        if data is None:
            raise ConnectionError("server stopping")
        h11conn.receive_data(data)


def _check_head(request: h11.Request, limits: HttpLimits) -> None:
    """Refusals h11 leaves to us: a head past the limit even when it arrived whole (431), a body past
    the limit (413), no Host in HTTP/1.1 (RFC 9112 3.2), and Content-Length beside Transfer-Encoding,
    which RFC 9112 6.1 lets a server refuse: the classic request-smuggling shape (400)."""
    names = [name for name, _ in request.headers]
    if len(request.target) + sum(len(k) + len(v) + 4 for k, v in request.headers) > limits.max_head:
        raise Refusal(431, "request header fields too large")
    if b"content-length" in names and b"transfer-encoding" in names:
        raise Refusal(400, "Content-Length with Transfer-Encoding")
    for name, value in request.headers:
        if name == b"content-length" and int(value) > limits.max_body:
            raise Refusal(413, "request body too large")
    if b"host" not in names and request.http_version == b"1.1":
        raise Refusal(400, "a Host header is required")


async def _refuse(conn: Connection, refusal: Refusal) -> None:
    """Answer a refused request and close, lingering first: closing with unread input sends a TCP RST,
    which can make the client lose our answer before it reads it."""
    body = (str(refusal).splitlines()[0] if str(refusal) else "refused").encode() + b"\n"
    head = (f"HTTP/1.1 {refusal.status} {_reason(refusal.status)}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    with contextlib.suppress(OSError, TimeoutError):
        await conn.write(head.encode() + body)
        if conn.writer.can_write_eof():
            conn.writer.write_eof()
        async with asyncio.timeout(LINGER_TIMEOUT):
            budget = 256 * 1024
            while budget > 0 and (chunk := await conn.read(65536)):
                budget -= len(chunk)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class _Exchange:
    """One request handed to the application: its ``receive`` and ``send`` (ASGI 3)."""

    def __init__(self, app: ASGIApp, conn: Connection, h11conn: h11.Connection, request: h11.Request,
                 body: bytes) -> None:
        self.app, self.conn, self.h11conn, self.request, self.body = app, conn, h11conn, request, body
        self.started = False
        self.head_only = request.method == b"HEAD"
        self.body_sent = False

    def scope(self) -> Scope:
        target = self.request.target
        path, _, query = target.partition(b"?")
        raw_path = path if path.startswith(b"/") else b"/"
        return {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": self.request.http_version.decode(), "method": self.request.method.decode(),
            "scheme": "https" if self.conn.is_tls else "http",
            "path": unquote_to_bytes(raw_path).decode("utf-8", "replace"), "raw_path": raw_path,
            "query_string": query, "root_path": "",
            "headers": [(name.lower(), value) for name, value in self.request.headers],
            "client": self.conn.peer, "server": self.conn.local,
            "extensions": {"tls": {"server_name": _server_name(self.conn)}},
        }

    async def run(self) -> None:
        try:
            await self.app(self.scope(), self.receive, self.send)
        except Exception:
            log.exception("web: application failed for %s %s", self.request.method, self.request.target)
            if not self.started:
                await self.send({"type": "http.response.start", "status": 500,
                                 "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
                await self.send({"type": "http.response.body", "body": b"internal error\n"})
                return
        if not self.body_sent:  # the application ended mid-body: the response is broken, so close
            await self.conn.close()

    async def receive(self) -> Message:
        if self.body is not None:
            body, self.body = self.body, None
            return {"type": "http.request", "body": body, "more_body": False}
        await self.conn.stopping.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            headers = [(k, v) for k, v in message.get("headers", [])]
            await self._write(h11.Response(status_code=message["status"], headers=headers))
        elif message["type"] == "http.response.body":
            if message.get("body") and not self.head_only:
                await self._write(h11.Data(data=message["body"]))
            if not message.get("more_body", False):
                self.body_sent = True
                await self._write(h11.EndOfMessage())

    async def _write(self, event: Any) -> None:
        data = self.h11conn.send(event)
        if data:
            await self.conn.write(data)


def _server_name(conn: Connection) -> str | None:
    ssl_object = conn.writer.get_extra_info("ssl_object")
    return getattr(ssl_object, "server_hostname", None) if ssl_object is not None else None
