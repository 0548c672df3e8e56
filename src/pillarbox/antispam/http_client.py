"""One HTTP/1.1 POST over asyncio, with h11 doing the protocol (the sans-IO library whose design the
project's cores follow): enough for rspamd's worker and controller, bounded in time and size."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from urllib.parse import urlsplit

import h11

MAX_RESPONSE = 1024 * 1024
READ_SIZE = 65536


class HTTPError(Exception):
    """The request could not be made or answered (connection refused, timeout, garbage)."""


async def post(url: str, path: str, headers: Sequence[tuple[str, str]], body: bytes, timeout: float,
               max_response: int = MAX_RESPONSE) -> tuple[int, bytes]:
    """POST ``body`` to ``url`` + ``path``; (status, response body). Raises HTTPError."""
    try:
        async with asyncio.timeout(timeout):
            return await _exchange(url, path, headers, body, max_response)
    except TimeoutError:
        raise HTTPError(f"no answer from {url} within {timeout:g} s") from None
    except (OSError, UnicodeError, h11.ProtocolError) as exc:
        raise HTTPError(f"{url}: {exc}") from None


async def _exchange(url: str, path: str, headers: Sequence[tuple[str, str]], body: bytes,
                    max_response: int) -> tuple[int, bytes]:
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    host, port = parts.hostname or "localhost", parts.port or (443 if tls else 80)
    reader, writer = await asyncio.open_connection(host, port, ssl=ssl.create_default_context() if tls else None)
    try:
        conn = h11.Connection(h11.CLIENT)
        # values as UTF-8 (h11 would refuse a str that is not ASCII with an exception of its own)
        fields = [(name, value.encode()) for name, value in headers]
        request = h11.Request(method="POST", target=(parts.path or "") + path, headers=[
            ("Host", parts.netloc), ("Content-Length", str(len(body))), ("Connection", "close"), *fields])
        writer.write(conn.send(request) + conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage()))
        await writer.drain()
        return await _response(conn, reader, max_response)
    finally:
        writer.close()


async def _response(conn: h11.Connection, reader: asyncio.StreamReader, max_response: int) -> tuple[int, bytes]:
    status, chunks, size = 0, [], 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(READ_SIZE))
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            size += len(event.data)
            if size > max_response:
                raise HTTPError(f"response over {max_response} bytes")
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            return status, b"".join(chunks)
