"""Posting a TLS report to an ``https:`` rua (RFC 8460 3, 5.3.1).

The report (gzip'd JSON) goes as one HTTP/1.1 POST with ``Content-Type: application/tlsrpt+gzip`` to
the URI, over TLS verified for its host (the system trust store, or ``[outbound] ca_file``), the host
found through our resolver; any 2xx is success, anything else (a redirect included: none is followed)
a failure for the log. The answer is read only far enough to see the status.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from pathlib import Path

from pillarbox.dns.resolver import Resolver
from pillarbox.outbound.mtasts import client_context

POST_TIMEOUT = 60.0
MAX_ANSWER = 16 * 1024


class PostFailed(Exception):
    """The report was not taken (one line for the log)."""


def https_uri(uri: str) -> urllib.parse.SplitResult | None:
    """``uri`` split, if it is an ``https:`` URI with a host."""
    parts = urllib.parse.urlsplit(uri)
    return parts if parts.scheme.lower() == "https" and parts.hostname else None


async def post_report(uri: str, body: bytes, resolver: Resolver, ca_file: Path | None = None) -> int:
    """POST ``body`` (a gzip'd report) to ``uri``; the HTTP status, or PostFailed."""
    parts = https_uri(uri)
    if parts is None:
        raise PostFailed(f"not an https URI: {uri}")
    host = parts.hostname or ""
    addresses = await resolver.addresses(host)
    if not addresses:
        raise PostFailed(f"{host} has no address")
    try:
        status = await asyncio.wait_for(_post(addresses[0], parts, body, ca_file), POST_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise PostFailed(f"{host}: {exc or type(exc).__name__}") from exc
    if not 200 <= status < 300:
        raise PostFailed(f"{host}: HTTP status {status}")
    return status


async def _post(address: str, parts: urllib.parse.SplitResult, body: bytes, ca_file: Path | None) -> int:
    host = parts.hostname or ""
    reader, writer = await asyncio.open_connection(address, parts.port or 443, ssl=client_context(ca_file),
                                                   server_hostname=host)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        writer.write((f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/tlsrpt+gzip\r\n"
                      f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body)
        await writer.drain()
        head = await reader.readuntil(b"\r\n")
    except asyncio.IncompleteReadError as exc:
        raise OSError("the server closed the connection") from exc
    finally:
        writer.close()
    words = head.split()
    if len(words) < 2 or not words[1].isdigit() or not head.startswith(b"HTTP/"):
        raise ValueError(f"not an HTTP status line: {head[:80]!r}")
    return int(words[1])
