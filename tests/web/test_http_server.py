"""The HTTP/1.1 shell (h11 driving the Starlette application on a ``net.listener`` connection): the
routes answer, keep-alive works, and hostile requests get the right status, never a hang or a 500."""

from __future__ import annotations

import asyncio
import ssl

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pillarbox.net.listener import Listener
from pillarbox.net.tls import TLSContextHolder, ensure_certificate
from pillarbox.web.server import HttpLimits, HttpServer


async def _echo(request: Request) -> Response:
    return PlainTextResponse(f"{request.method} {request.url.path} {(await request.body()).decode()}")


async def _crash(_request: Request) -> Response:
    raise RuntimeError("bug")


APP = Starlette(routes=[Route("/echo", _echo, methods=["GET", "POST"]), Route("/crash", _crash)])


async def _exchange(raw: bytes, limits: HttpLimits | None = None, tls: TLSContextHolder | None = None,
                    client: ssl.SSLContext | None = None, eof: bool = False) -> bytes:
    listener = Listener([("127.0.0.1", 0)], HttpServer(APP, limits).handle, tls=tls)
    await listener.start()
    try:
        reader, writer = await asyncio.open_connection(*listener.addresses[0], ssl=client,
                                                       server_hostname="mx.test" if client else None)
        writer.write(raw)
        if eof:
            writer.write_eof()
        data = await reader.read()
        writer.close()
        return data
    finally:
        await listener.stop()


def status_of(data: bytes) -> int:
    assert data.startswith(b"HTTP/1.1 "), data[:80]
    return int(data.split(b" ", 2)[1])


def get(path: str, extra: bytes = b"") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: mx.test\r\n".encode() + extra + b"Connection: close\r\n\r\n"


def test_request_and_head(run) -> None:
    data = run(_exchange(get("/echo")))
    assert status_of(data) == 200 and data.endswith(b"GET /echo ")
    head = run(_exchange(b"HEAD /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    assert status_of(head) in (200, 405) and head.endswith(b"\r\n\r\n")


def test_keep_alive_serves_requests_in_turn(run) -> None:
    first = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
    data = run(_exchange(first + get("/echo")))
    assert data.count(b"HTTP/1.1 200") == 2 and b"POST /echo abc" in data


def test_chunked_body_is_decoded(run) -> None:
    raw = (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           b"3\r\nabc\r\n0\r\n\r\n")
    assert run(_exchange(raw)).endswith(b"POST /echo abc")


@pytest.mark.parametrize("raw", [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
    b"GET  /echo HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /echo HTTP/1.1\r\n\r\n",  # no Host
    b"GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET /echo HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
    b"GET /echo HTTP/1.1\r\nHost : x\r\n\r\n",  # whitespace before the colon: smuggling
    b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    b"GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
])
def test_bad_requests_400(run, raw: bytes) -> None:
    assert status_of(run(_exchange(raw))) == 400


def test_obs_fold_is_unfolded_as_rfc_9112_allows(run) -> None:
    # RFC 9112 5.2: a server MUST either reject obs-fold with 400 or replace it with SP; h11 replaces it
    data = run(_exchange(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\nConnection: close\r\n\r\n"))
    assert status_of(data) == 200


def test_incomplete_request_is_refused(run) -> None:
    data = run(_exchange(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nab", eof=True))
    assert status_of(data) == 400


def test_oversized_head_431(run) -> None:
    assert status_of(run(_exchange(get("/echo", b"X-Pad: " + b"a" * 9000 + b"\r\n")))) == 431
    assert status_of(run(_exchange(b"GET / HTTP/1.1\r\nX: " + b"a" * 20000))) == 431  # never ends


def test_body_too_large_413(run) -> None:
    raw = b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000\r\n\r\n"
    assert status_of(run(_exchange(raw))) == 413
    chunked = b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + b"4000\r\n" + b"a" * 0x4000
    assert status_of(run(_exchange(chunked + b"\r\n", HttpLimits(max_body=1000)))) == 413


def test_slow_request_times_out(run) -> None:
    assert run(_exchange(b"GET /echo HTTP/1.1\r\n", HttpLimits(request_timeout=0.1))) == b""


def test_application_failure_is_a_500_not_a_hang(run) -> None:
    assert status_of(run(_exchange(get("/crash")))) == 500
    assert status_of(run(_exchange(get("/nothing")))) == 404


def test_https(run, tmp_path) -> None:
    cert, key = ensure_certificate(tmp_path, "mx.test")
    client = ssl.create_default_context(cafile=str(cert))
    data = run(_exchange(get("/echo"), tls=TLSContextHolder(cert, key), client=client))
    assert status_of(data) == 200 and data.endswith(b"GET /echo ")
