"""Listeners behind a load balancer: who may send a PROXY protocol header, and reading it off the socket.

A listener with a ``ProxyPolicy`` expects every connection to open with a PROXY header (v1 or v2,
``net/proxy_header.py``) and takes the client's address from it, before anything else happens: before
the connection limits count it (the client's address is the one counted, on the board shared by the
workers too), before the TLS handshake of an implicit-TLS port (the header precedes the ClientHello),
before the greeting. Everything downstream then sees the client in ``Connection.peer``.

A balancer that ends the client's TLS itself (HAProxy ``send-proxy-v2-ssl``) says so in a v2 SSL TLV;
that connection then counts as TLS (``Connection.is_tls``): no STARTTLS offered, passwords taken, the
web's scheme https. Only a trusted balancer is heard at all, so nobody else can claim TLS this way, and
on a listener without a policy no header is ever read.

Who is believed: only a source in ``trusted``. The spec (section 5) forbids guessing whether a header is
there, and a header from anyone else would let that someone pick the address that SPF, the limits and the
login throttle see. So a connection to such a listener from an untrusted address is closed unread: it is
not served as a direct client either, which would make the port's behaviour depend on where a packet
comes from and hide a balancer misconfiguration. A trusted source that sends no valid header within
``timeout`` seconds (the spec asks for at least 3, a TCP retransmit) is closed as well. A listener
without a policy never looks for a header: there ``PROXY ...`` is just a bad command.

Reading: the header is peeked (MSG_PEEK) and only its own bytes are consumed, so the client's first
bytes (a ClientHello, a pipelined EHLO) stay in the socket for the transport that takes it next.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

from pillarbox.net.proxy_header import BalancerTLS, HeaderReader, ProxyHeader, ProxyHeaderError

DEFAULT_PROXY_TIMEOUT = 5.0
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = tuple[str, int]


@dataclass(frozen=True)
class Proxied:
    """What a trusted balancer said of a connection: the client, the address it reached, its TLS."""

    peer: Address
    local: Address
    tls: BalancerTLS | None = None


@dataclass(frozen=True)
class ProxyPolicy:
    """``trusted``: the networks of the balancers; ``timeout``: seconds for the whole header."""

    trusted: tuple[Network, ...]
    timeout: float = DEFAULT_PROXY_TIMEOUT

    def trusts(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.trusted)


async def receive_header(sock: socket.socket, timeout: float) -> ProxyHeader:
    """The PROXY header at the start of ``sock``, consumed and nothing after it.
    Raises ProxyHeaderError (invalid, or the peer closed first), TimeoutError, OSError."""
    sock.setblocking(False)  # accept() on a non-blocking socket may still hand out a blocking one
    loop = asyncio.get_running_loop()
    reader = HeaderReader()
    async with asyncio.timeout(timeout):
        while True:
            await wait_readable(loop, sock)
            try:
                available = sock.recv(reader.want(), socket.MSG_PEEK)
            except BlockingIOError:
                continue
            if not available:
                raise ProxyHeaderError("closed before the PROXY header was whole")
            taken, header = reader.offer(available)
            _consume(sock, taken)
            if header is not None:
                return header


def _consume(sock: socket.socket, count: int) -> None:
    """Take ``count`` bytes that a peek has just shown to be there."""
    while count > 0:
        taken = sock.recv(count)
        if not taken:  # cannot happen after the peek (the bytes stay queued), but never spin
            raise ProxyHeaderError("closed before the PROXY header was whole")
        count -= len(taken)


async def wait_readable(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    """Wait until ``sock`` has something to read or accept (without taking it)."""
    ready: asyncio.Future[None] = loop.create_future()
    loop.add_reader(sock.fileno(), lambda: ready.done() or ready.set_result(None))
    try:
        await ready
    finally:
        loop.remove_reader(sock.fileno())
