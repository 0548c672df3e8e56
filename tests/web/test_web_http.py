"""The tiny HTTP server: built-in routes, routing by method/path/host, and refusals."""

from __future__ import annotations

import asyncio

import pytest

from pillarbox.errors import ProtocolError
from pillarbox.net.listener import Listener
from pillarbox.web.http import (
    METRICS_CONTENT_TYPE,
    HttpApp,
    Request,
    Response,
    build_request,
    make_http_app,
    parse_host,
)


async def exchange(app: HttpApp, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Serve ``app`` on an ephemeral port, send ``raw``, return status, headers and body."""
    listener = Listener([("127.0.0.1", 0)], app.handle)
    await listener.start()
    try:
        reader, writer = await asyncio.open_connection(*listener.addresses[0])
        writer.write(raw)
        await writer.drain()
        data = await reader.read()
        writer.close()
    finally:
        await listener.stop()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines)}
    assert status_line.startswith("HTTP/1.1 ")
    assert headers["content-length"] == str(len(body))
    assert headers["connection"] == "close"
    return int(status_line.split()[1]), headers, body


def get(path: str, host: str = "mail.example.org") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: test\r\n\r\n".encode()


def builtin_app(healthy: bool = True, metrics_text: str = "pillarbox_up 1\n") -> HttpApp:
    async def healthcheck() -> bool:
        return healthy

    return make_http_app(healthcheck, lambda: metrics_text)


def test_healthz_ok(run) -> None:
    status, headers, body = run(exchange(builtin_app(), get("/healthz")))
    assert (status, body) == (200, b"ok\n")
    assert headers["content-type"].startswith("text/plain")


def test_healthz_unhealthy(run) -> None:
    status, _, _ = run(exchange(builtin_app(healthy=False), get("/healthz")))
    assert status == 503


def test_healthz_check_raising_is_unhealthy(run) -> None:
    async def broken() -> bool:
        raise RuntimeError("store down")

    status, _, _ = run(exchange(make_http_app(broken, lambda: ""), get("/healthz")))
    assert status == 503


def test_metrics(run) -> None:
    status, headers, body = run(exchange(builtin_app(metrics_text="a 1\nb 2\n"), get("/metrics")))
    assert (status, body) == (200, b"a 1\nb 2\n")
    assert headers["content-type"] == METRICS_CONTENT_TYPE
    assert "version=0.0.4" in headers["content-type"]


def test_head_gets_headers_only(run) -> None:
    raw = b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    listener_result = run(_raw(builtin_app(metrics_text="abc\n"), raw))
    assert listener_result.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Length: 4\r\n" in listener_result
    assert listener_result.endswith(b"\r\n\r\n")


async def _raw(app: HttpApp, raw: bytes) -> bytes:
    listener = Listener([("127.0.0.1", 0)], app.handle)
    await listener.start()
    try:
        reader, writer = await asyncio.open_connection(*listener.addresses[0])
        writer.write(raw)
        data = await reader.read()
        writer.close()
        return data
    finally:
        await listener.stop()


def test_unknown_path_404(run) -> None:
    status, _, _ = run(exchange(builtin_app(), get("/nope")))
    assert status == 404


def test_wrong_method_405_with_allow(run) -> None:
    raw = b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    status, headers, _ = run(exchange(builtin_app(), raw))
    assert status == 405
    assert headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "raw",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
        b"GET /healthz\r\n\r\n",
        b"GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\n\r\n",  # no Host
        b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x y\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET ftp://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
)
def test_bad_requests_400(run, raw: bytes) -> None:
    status, _, _ = run(exchange(builtin_app(), raw))
    assert status == 400


def test_incomplete_request_400(run) -> None:
    async def scenario() -> bytes:
        listener = Listener([("127.0.0.1", 0)], builtin_app().handle)
        await listener.start()
        reader, writer = await asyncio.open_connection(*listener.addresses[0])
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        writer.write_eof()
        data = await reader.read()
        writer.close()
        await listener.stop()
        return data

    assert run(scenario()).startswith(b"HTTP/1.1 400 ")


def test_unsupported_version_505(run) -> None:
    status, _, _ = run(exchange(builtin_app(), b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n"))
    assert status == 505


def test_oversized_headers_431(run) -> None:
    raw = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 9000 + b"\r\n\r\n"
    status, _, _ = run(exchange(builtin_app(), raw))
    assert status == 431


def test_oversized_headers_never_ending_431(run) -> None:
    async def scenario() -> bytes:
        listener = Listener([("127.0.0.1", 0)], builtin_app().handle)
        await listener.start()
        reader, writer = await asyncio.open_connection(*listener.addresses[0])
        writer.write(b"GET / HTTP/1.1\r\nX: " + b"a" * 20000)  # no end of headers at all
        data = await reader.read()
        writer.close()
        await listener.stop()
        return data

    assert run(scenario()).startswith(b"HTTP/1.1 431 ")


def test_headers_just_under_limit_are_fine(run) -> None:
    raw = get("/healthz")[:-2] + b"X-Pad: " + b"a" * 8000 + b"\r\n\r\n"
    status, _, _ = run(exchange(builtin_app(), raw))
    assert status == 200


def test_slow_request_times_out(run) -> None:
    app = builtin_app()
    app.request_timeout = 0.1

    async def scenario() -> bytes:
        listener = Listener([("127.0.0.1", 0)], app.handle)
        await listener.start()
        reader, writer = await asyncio.open_connection(*listener.addresses[0])
        writer.write(b"GET /healthz HTTP/1.1\r\n")
        data = await reader.read()
        writer.close()
        await listener.stop()
        return data

    assert run(scenario()) == b""


def test_routes_by_host_and_body(run) -> None:
    app = builtin_app()

    @app.route("GET", "/.well-known/mta-sts.txt", host="mta-sts.*")
    async def policy(request: Request) -> Response:
        domain = request.host.removeprefix("mta-sts.")
        return Response.text(200, f"version: STSv1\nmode: enforce\nmx: mx.{domain}\nmax_age: 86400\n")

    @app.route("GET", "/.well-known/mta-sts.txt", host="mta-sts.special.example")
    async def special(request: Request) -> Response:
        return Response.text(200, "special\n")

    @app.route("POST", "/autodiscover/autodiscover.xml")
    async def autodiscover(request: Request) -> Response:
        return Response(200, [("Content-Type", "text/xml")], b"got " + request.body)

    status, _, body = run(exchange(app, get("/.well-known/mta-sts.txt", host="MTA-STS.Example.ORG:443")))
    assert status == 200 and b"mx: mx.example.org\n" in body
    status, _, body = run(exchange(app, get("/.well-known/mta-sts.txt", host="mta-sts.special.example")))
    assert body == b"special\n"
    status, _, _ = run(exchange(app, get("/.well-known/mta-sts.txt", host="www.example.org")))
    assert status == 404
    raw = b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n<x/>\n"
    status, headers, body = run(exchange(app, raw))
    assert (status, body, headers["content-type"]) == (200, b"got <x/>\n", "text/xml")


def test_body_too_large_413(run) -> None:
    raw = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000\r\n\r\n"
    status, _, _ = run(exchange(builtin_app(), raw))
    assert status == 413


def test_chunked_request_411(run) -> None:
    raw = b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    status, _, _ = run(exchange(builtin_app(), raw))
    assert status == 411


def test_handler_errors(run) -> None:
    app = HttpApp()

    @app.route("GET", "/crash")
    async def crash(request: Request) -> Response:
        raise RuntimeError("bug")

    @app.route("GET", "/forbidden")
    async def forbidden(request: Request) -> Response:
        raise ProtocolError(Response.text(403, "no\n"))

    assert run(exchange(app, get("/crash")))[0] == 500
    assert run(exchange(app, get("/forbidden")))[0] == 403


def test_https_listener(run, tmp_path) -> None:
    import ssl

    from pillarbox.net.tls import TLSContextHolder, ensure_certificate

    cert, key = ensure_certificate(tmp_path, "mta-sts.example.org")
    client = ssl.create_default_context(cafile=str(cert))

    async def scenario() -> bytes:
        listener = Listener([("127.0.0.1", 0)], builtin_app().handle, tls=TLSContextHolder(cert, key))
        await listener.start()
        reader, writer = await asyncio.open_connection(
            *listener.addresses[0], ssl=client, server_hostname="mta-sts.example.org"
        )
        writer.write(get("/healthz", host="mta-sts.example.org"))
        data = await reader.read()
        writer.close()
        await listener.stop()
        return data

    data = run(scenario())
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\nok\n")


def test_parse_helpers() -> None:
    assert parse_host("Example.ORG:8080") == "example.org"
    assert parse_host("[::1]:8443") == "[::1]"
    assert parse_host("example.org.") == "example.org"
    with pytest.raises(ProtocolError):
        parse_host("a:b")
    request, length = build_request(b"GET /a%20b?x=1 HTTP/1.0\r\nContent-Length: 3")
    assert (request.path, request.query, request.host, length) == ("/a b", "x=1", "", 3)
    assert request.header("CONTENT-LENGTH") == "3"
    request, _ = build_request(b"GET http://Host.Example/p?q HTTP/1.1\r\nHost: other")
    assert (request.host, request.path, request.query) == ("host.example", "/p", "q")
