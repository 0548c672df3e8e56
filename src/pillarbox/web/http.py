"""A deliberately tiny HTTP/1.1 server for health checks, metrics, MTA-STS policies and autoconfig.

One request per connection (we answer ``Connection: close``), no chunked request bodies, bounded
everything: 8 KiB of request line + headers, 64 KiB of body, a deadline for reading the request.
The peers are monitoring systems, mail clients fetching autoconfig and MTAs fetching MTA-STS
policies (RFC 8461 §3.3), none of which needs more. Parsing follows RFC 9112 strictly enough to
refuse request smuggling tricks (obs-fold, whitespace before the colon, Content-Length together with
Transfer-Encoding, conflicting Content-Lengths).

Routes are ``(method, path, host)`` → ``async handler(request) -> Response``; ``host`` is None (any
host), an exact name, or ``"label.*"`` for "any host whose first label is ``label``" (so
``mta-sts.*`` serves every ``mta-sts.<domain>``). Handlers refuse with
``ProtocolError(Response(...))``; anything else they raise becomes a logged 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import unquote, urlsplit

from pillarbox.errors import ProtocolError
from pillarbox.net.listener import Connection

log = logging.getLogger("pillarbox.web")

MAX_HEAD_BYTES = 8 * 1024
MAX_BODY_BYTES = 64 * 1024
REQUEST_TIMEOUT = 10.0
LINGER_TIMEOUT = 1.0
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 §5.6.2 token
FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")  # RFC 9110 §5.5 field-value, no CTLs
HOST = re.compile(r"[a-z0-9.\-_]+|\[[0-9a-f:.]+\]")  # reg-name (DNS-ish) or IP-literal


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> Response:
        return cls(status, [("Content-Type", content_type)], text.encode())

    def to_bytes(self, head_only: bool = False) -> bytes:
        """Serialise with Content-Length, Date and Connection: close added."""
        reason = _reason(self.status)
        lines = [f"HTTP/1.1 {self.status} {reason}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        lines.append(f"Content-Length: {len(self.body)}")
        lines.append(f"Date: {email.utils.formatdate(usegmt=True)}")
        lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if head_only else head + self.body


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def refuse(status: int, text: str = "", headers: list[tuple[str, str]] | None = None) -> ProtocolError:
    """The error a parser or handler raises to answer ``status`` with a short text body."""
    response = Response.text(status, (text or _reason(status)) + "\n")
    response.headers += headers or []
    return ProtocolError(response, f"{status} {text}")


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # as sent, e.g. "/metrics?x=1"
    path: str  # percent-decoded path, e.g. "/.well-known/mta-sts.txt"
    query: str
    version: str  # "HTTP/1.1"
    headers: tuple[tuple[str, str], ...]  # names lower-cased, in order received
    host: str  # lower-cased, without port; "" if absent (HTTP/1.0)
    body: bytes = b""
    peer: tuple[str, int] = ("", 0)

    def header(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key == name), default)


RouteHandler = Callable[[Request], Awaitable[Response]]


# --- parsing (pure: bytes in, Request out, ProtocolError(Response) on refusal) ---------------------


def parse_head(head: bytes) -> tuple[str, str, str, list[tuple[str, str]]]:
    """Parse request-line and header fields (no trailing blank line) → method, target, version, headers."""
    request_line, *field_lines = head.split(b"\r\n")
    parts = request_line.split(b" ")
    if len(parts) != 3 or not TOKEN.fullmatch(parts[0]) or not parts[1]:
        raise refuse(400, "malformed request line")
    method, target, version = (p.decode("latin-1") for p in parts)
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise refuse(505 if version.startswith("HTTP/") else 400)
    return method, target, version, [_parse_field(line) for line in field_lines]


def _parse_field(line: bytes) -> tuple[str, str]:
    name, colon, value = line.partition(b":")
    # No whitespace before the colon and no obs-fold (RFC 9112 §5.1, §5.2): both enable smuggling.
    if not colon or not TOKEN.fullmatch(name):
        raise refuse(400, "malformed header field")
    value = value.strip(b" \t")
    if not FIELD_VALUE.fullmatch(value):
        raise refuse(400, "malformed header value")
    return name.decode("ascii").lower(), value.decode("latin-1")


def parse_host(value: str) -> str:
    """Host header value → lower-cased host without port (RFC 9110 §7.2)."""
    value = value.strip().lower()
    host = value
    if value.startswith("["):
        host = value[: value.find("]") + 1]
    elif ":" in value:
        host, _, port = value.rpartition(":")
        if not port.isdigit():
            raise refuse(400, "bad Host header")
    if not HOST.fullmatch(host):
        raise refuse(400, "bad Host header")
    return host.rstrip(".")


def build_request(head: bytes, peer: tuple[str, int] = ("", 0)) -> tuple[Request, int]:
    """A Request without body, and the body length its headers announce."""
    method, target, version, headers = parse_head(head)
    hosts = [value for name, value in headers if name == "host"]
    if len(hosts) > 1 or (version == "HTTP/1.1" and not hosts):
        raise refuse(400, "exactly one Host header is required")
    host = parse_host(hosts[0]) if hosts else ""
    if not target.startswith("/"):
        # absolute-form (RFC 9112 §3.2.2): its authority replaces the Host header.
        split = urlsplit(target)
        if split.scheme not in ("http", "https") or not split.netloc:
            raise refuse(400, "bad request target")
        host = parse_host(split.netloc)
        target = (split.path or "/") + (f"?{split.query}" if split.query else "")
    path, _, query = target.partition("?")
    request = Request(method, target, unquote(path), query, version, tuple(headers), host, peer=peer)
    return request, _body_length(headers)


def _body_length(headers: list[tuple[str, str]]) -> int:
    lengths = {value for name, value in headers if name == "content-length"}
    if any(name == "transfer-encoding" for name, _ in headers):
        if lengths:
            raise refuse(400, "Content-Length with Transfer-Encoding")
        raise refuse(411, "send a Content-Length")
    if not lengths:
        return 0
    if len(lengths) > 1 or not next(iter(lengths)).isdigit():
        raise refuse(400, "bad Content-Length")
    return int(next(iter(lengths)))


# --- routing -----------------------------------------------------------------------------------------


class Router:
    """``(host pattern, path)`` → ``{method: handler}``; exact host beats ``label.*`` beats any host.
    A path ending in ``/*`` matches every path under it, on any host (after every exact path)."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str | None, str], dict[str, RouteHandler]] = {}
        self._prefixes: dict[str, dict[str, RouteHandler]] = {}

    def add(self, method: str, path: str, handler: RouteHandler, host: str | None = None) -> None:
        if path.endswith("/*") and host is None:
            self._prefixes.setdefault(path[:-1], {})[method.upper()] = handler
            return
        key = (host.lower() if host else None, path)
        self._routes.setdefault(key, {})[method.upper()] = handler

    def resolve(self, method: str, path: str, host: str) -> tuple[RouteHandler, bool]:
        """The handler and whether to drop the body (HEAD served by GET); raises 404 / 405."""
        methods = self._methods_for(path, host)
        if methods is None:
            raise refuse(404)
        if method in methods:
            return methods[method], False
        if method == "HEAD" and "GET" in methods:
            return methods["GET"], True
        allow = sorted(set(methods) | ({"HEAD"} if "GET" in methods else set()))
        raise refuse(405, headers=[("Allow", ", ".join(allow))])

    def _methods_for(self, path: str, host: str) -> dict[str, RouteHandler] | None:
        first_label = host.split(".", 1)[0]
        for key in ((host, path), (f"{first_label}.*", path), (None, path)):
            if key in self._routes:
                return self._routes[key]
        return next((methods for prefix, methods in self._prefixes.items() if path.startswith(prefix)), None)


# --- the connection handler ---------------------------------------------------------------------------


class HttpApp:
    """``handle(conn)`` is the Listener handler: read one request, route it, answer, close."""

    def __init__(
        self,
        router: Router | None = None,
        *,
        max_head: int = MAX_HEAD_BYTES,
        max_body: int = MAX_BODY_BYTES,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self.router = router or Router()
        self.max_head = max_head
        self.max_body = max_body
        self.request_timeout = request_timeout

    def route(
        self, method: str, path: str, host: str | None = None
    ) -> Callable[[RouteHandler], RouteHandler]:
        """Decorator form of ``router.add``."""

        def register(handler: RouteHandler) -> RouteHandler:
            self.router.add(method, path, handler, host)
            return handler

        return register

    async def handle(self, conn: Connection) -> None:
        try:
            async with asyncio.timeout(self.request_timeout):
                request = await self._read_request(conn)
        except TimeoutError:
            await conn.close()
            return
        except ProtocolError as exc:
            # Refused mid-request: the client may still be sending, so linger before closing.
            await self._send(conn, _as_response(exc), head_only=False, linger=True)
            return
        response, head_only = await self._dispatch(request)
        await self._send(conn, response, head_only)

    async def _read_request(self, conn: Connection) -> Request:
        head, rest = await self._read_head(conn)
        request, length = build_request(head, conn.peer)
        if length > self.max_body:
            raise refuse(413)
        body = rest
        while len(body) < length:
            chunk = await conn.read(length - len(body))
            if not chunk:
                raise refuse(400, "incomplete body")
            body += chunk
        return dataclasses.replace(request, body=body[:length])

    async def _read_head(self, conn: Connection) -> tuple[bytes, bytes]:
        buffer = b""
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                if end > self.max_head:
                    break
                return buffer[:end], buffer[end + 4 :]
            if len(buffer) > self.max_head:
                break
            chunk = await conn.read(self.max_head + 4)
            if not chunk:
                raise refuse(400, "incomplete request")
            buffer += chunk
        raise refuse(431)

    async def _dispatch(self, request: Request) -> tuple[Response, bool]:
        try:
            handler, head_only = self.router.resolve(request.method, request.path, request.host)
            return await handler(request), head_only or request.method == "HEAD"
        except ProtocolError as exc:
            return _as_response(exc), request.method == "HEAD"
        except Exception:
            log.exception("http handler failed for %s %s", request.method, request.target)
            return Response.text(500, "internal error\n"), False

    async def _send(
        self, conn: Connection, response: Response, head_only: bool, linger: bool = False
    ) -> None:
        with contextlib.suppress(ConnectionError):
            await conn.write(response.to_bytes(head_only))
            if linger:
                await _linger(conn)
        await conn.close()


def _as_response(exc: ProtocolError) -> Response:
    return exc.reply if isinstance(exc.reply, Response) else Response.text(400, f"{exc}\n")


async def _linger(conn: Connection) -> None:
    """Half-close, then swallow unread input briefly: closing with unread bytes sends a TCP RST,
    which can make the client lose our (error) response before it reads it."""
    if conn.writer.can_write_eof():
        conn.writer.write_eof()
    with contextlib.suppress(TimeoutError, OSError):
        async with asyncio.timeout(LINGER_TIMEOUT):
            budget = 256 * 1024
            while budget > 0 and (chunk := await conn.read(65536)):
                budget -= len(chunk)


def make_http_app(healthcheck: Callable[[], Awaitable[bool]], metrics: Callable[[], str]) -> HttpApp:
    """The built-in routes: ``GET /healthz`` (200 "ok" / 503) and ``GET /metrics`` (Prometheus text)."""
    app = HttpApp()

    @app.route("GET", "/healthz")
    async def healthz(_request: Request) -> Response:
        try:
            healthy = await healthcheck()
        except Exception:
            log.exception("healthcheck failed")
            healthy = False
        return Response.text(200, "ok\n") if healthy else Response.text(503, "unhealthy\n")

    @app.route("GET", "/metrics")
    async def metrics_route(_request: Request) -> Response:
        return Response.text(200, metrics(), METRICS_CONTENT_TYPE)

    return app
