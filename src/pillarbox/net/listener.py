"""Accepting connections: bind endpoints, enforce connection limits, hand each client to a handler.

We run our own accept loop on sockets we bind ourselves instead of ``asyncio.start_server`` because:
- implicit-TLS ports must take the *current* context from ``TLSContextHolder`` for each connection,
  so a certificate reload applies to the next client (``start_server`` fixes the context at start);
- a connection over the limit is refused on the raw socket (one ``send`` of the refusal line, close)
  before any transport, task or TLS handshake is spent on it;
- IPv6 sockets get IPV6_V6ONLY so ``[::]:25`` and ``0.0.0.0:25`` can both be listed.

On implicit-TLS ports the refusal line is not sent (plaintext would only be a TLS error to the
client); the connection is simply closed.

Each admitted connection holds a ``Lease`` of its listener's ``ConnectionLimiter`` (``net/limits.py``)
as ``Connection.lease``: the session reports its login through it, and the limiter may let the
connection go for a newcomer (``Connection.shed()``: the session's goodbye, then the socket is closed).
A peer that stops reading cannot hold a session forever either: a write that cannot hand its data to
the kernel within ``send_timeout`` seconds ends the connection.

Behind a load balancer (``proxy``: a ``ProxyPolicy``, ``net/proxy.py``) each connection's PROXY header
is read first, and the client it names is the one the limits count and ``Connection.peer`` shows; a
client whose TLS the balancer ended (its v2 SSL TLV) counts as TLS (``Connection.is_tls``).
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import contextlib
import itertools
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from pillarbox.net.balance import BALANCE_DEFER, LoadBoard
from pillarbox.net.limits import ConnectionLimiter, Lease, PoolLimits
from pillarbox.net.proxy import Proxied, ProxyPolicy, receive_header, wait_readable
from pillarbox.net.proxy_header import ProxyHeaderError
from pillarbox.net.tls import TLSContextHolder, describe_tls
from pillarbox.obs import Counter

log = logging.getLogger("pillarbox.net")
REFUSED = Counter("pillarbox_connections_refused_total", "Connections refused by the limits", ("listener",))
SHED = Counter("pillarbox_connections_shed_total", "Connections not logged in let go for a newcomer", ("listener",))
PROXY_REFUSED = Counter("pillarbox_proxy_refused_total",
                        "Connections closed for the PROXY protocol: untrusted source, no valid header", ("listener",))

# asyncio's TLS layer gives every connection a zero-filled 256 KiB read buffer (sslproto.SSLProtocol
# .max_size) for the bytes off the socket: with thousands of idle IMAP IDLE sessions that buffer is most
# of their memory. 16 KiB still holds nearly a whole TLS record (16 KiB of plaintext plus framing; a
# full one arrives in two reads), and clients mostly send short commands (bench/README.md, IMAP memory).
TLS_READ_BUFFER = 16 * 1024
if getattr(asyncio.sslproto.SSLProtocol, "max_size", 0) > TLS_READ_BUFFER:
    asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER

DEFAULT_READ_SIZE = 64 * 1024
DEFAULT_HANDSHAKE_TIMEOUT = 30.0
DEFAULT_BACKLOG = 128
DEFAULT_SEND_TIMEOUT = 300.0
WRITE_PIECE = 256 * 1024
SHED_GRACE = 5.0  # seconds a connection let go for a newcomer has for its goodbye before it is cut
ACCEPT_ERROR_PAUSE = 0.1  # seconds to back off when accept() fails (EMFILE...), instead of spinning


class EndpointLike(Protocol):
    host: str
    port: int


Endpoint = tuple[str, int] | EndpointLike
Address = tuple[str, int]
Handler = Callable[["Connection"], Awaitable[None]]
_ids = itertools.count(1)


class Connection:
    """One client connection over asyncio streams: addresses, TLS state, bounded reads, STARTTLS."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, proxied: Proxied | None = None,
    ) -> None:
        """``proxied``: what a trusted balancer's PROXY header said (else the socket's addresses stand)."""
        self.reader = reader
        self.writer = writer
        self.id = f"{next(_ids):x}"
        own = _addr(writer.get_extra_info("peername")), _addr(writer.get_extra_info("sockname"))
        self.peer, self.local = (proxied.peer, proxied.local) if proxied else own
        self.balancer_tls = proxied.tls if proxied else None
        """The client's TLS ended at a trusted load balancer in front of us (its PROXY v2 SSL TLV)."""
        self.stopping = asyncio.Event()
        """Set by ``stop()`` at shutdown: a session waiting for its peer should say goodbye."""
        self.is_shed = False
        """Let go for a newcomer (``shed()``): the goodbye is "too many connections", not "shutting down"."""
        self.lease: Lease | None = None
        self.send_timeout = DEFAULT_SEND_TIMEOUT
        self._closed = False
        self.bytes_in = 0
        self.bytes_out = 0
        """Application bytes read and written (after TLS), for the session's summary line."""
        self._cut: asyncio.TimerHandle | None = None
        self._reading: asyncio.Task[Any] | None = None
        self._stop_cancelled = False

    @property
    def is_tls(self) -> bool:
        """The client's connection is encrypted: TLS here, or ended at a trusted balancer that said so.
        Either way there is no STARTTLS to offer, and a password may be taken."""
        return self.balancer_tls is not None or self.writer.get_extra_info("ssl_object") is not None

    @property
    def tls_info(self) -> dict[str, Any] | None:
        """``{"version", "cipher", "bits"}`` of the TLS session, or None in plaintext; ``bits`` None when
        a balancer ended it (it names no key size)."""
        if self.balancer_tls is not None:
            return {"version": self.balancer_tls.version or "TLS", "cipher": self.balancer_tls.cipher or "unknown",
                    "bits": None}
        return describe_tls(self.writer.get_extra_info("ssl_object"))

    async def read(self, max_bytes: int = DEFAULT_READ_SIZE) -> bytes:
        """Up to ``max_bytes`` as soon as any are available; ``b""`` at end of stream."""
        data = await self.reader.read(max_bytes)
        self.bytes_in += len(data)
        return data

    async def read_unless_stopping(self, max_bytes: int = DEFAULT_READ_SIZE) -> bytes | None:
        """``read``, or None once the server is stopping, also when the stop comes while we wait.

        Shutdown lets a command in progress finish (it is not waiting here), but a session idling
        between commands is ended at once with the protocol's goodbye instead of holding the stop:
        ``stop()`` cancels the reading task, and the cancellation is taken back here (the way
        ``asyncio.timeout`` does it). Reading in a task of its own, which ``stop()`` could cancel
        alone, cost a task per read: a tenth of the event loop's time per SMTP message.
        """
        if self.stopping.is_set():
            return None
        task = self._reading = asyncio.current_task()
        try:
            data = await self.reader.read(max_bytes)
            self.bytes_in += len(data)
            return data
        except asyncio.CancelledError:
            if self._stop_cancelled and task is not None and task.uncancel() == 0:
                return None  # our own stop, and nobody else cancelled the task (idle timeout, forced stop)
            raise
        finally:
            self._reading = None

    def stop(self) -> None:
        """Shutdown: a read waiting for the peer returns None now, later ones at once."""
        self.stopping.set()
        if self._reading is not None and not self._stop_cancelled:
            self._stop_cancelled = True
            self._reading.cancel()

    def logged_in(self, user: str) -> bool:
        """The session authenticated ``user``; False when that user already has too many sessions
        from this address (the session then refuses the login)."""
        return self.lease is None or self.lease.promote(user)

    def logged_out(self) -> bool:
        """The session's user logged out and it goes on unauthenticated; False when the connection
        cannot take a stranger's place again (the session then ends)."""
        return self.lease is None or self.lease.demote()

    def shed(self, grace: float = SHED_GRACE) -> None:
        """Let this connection go: a session waiting for its peer says goodbye at once (like
        ``stop()``), and whatever still runs after ``grace`` seconds is cut off."""
        self.is_shed = True
        self.stop()
        self._cut = asyncio.get_running_loop().call_later(grace, self.writer.transport.abort)

    async def write(self, data: bytes) -> None:
        """Write and wait for the buffer to drain, so a slow reader slows us instead of growing memory;
        a reader too slow for ``send_timeout`` ends the connection (TimeoutError, an OSError).

        Large data goes in pieces: the TLS layer hands whatever it is given to the socket's buffer in
        one go and only pauses the writer on the *next* write, so a 50 MB FETCH written at once would
        sit in memory, encrypted, however slowly the peer reads."""
        self.bytes_out += len(data)
        if len(data) <= WRITE_PIECE:
            self.writer.write(data)
            await self._drain()
            return
        view = memoryview(data)
        for start in range(0, len(data), WRITE_PIECE):
            self.writer.write(view[start:start + WRITE_PIECE])
            await self._drain()

    async def _drain(self) -> None:
        # StreamWriter has no public "would drain wait?"; its protocol's flag says it. Arming a timer
        # for every write would cost several percent of an SMTP message's CPU for nothing.
        if not getattr(self.writer._protocol, "_paused", True):  # type: ignore[attr-defined]
            await self.writer.drain()  # returns at once (or raises if the peer is gone)
            return
        try:
            async with asyncio.timeout(self.send_timeout):
                await self.writer.drain()
        except TimeoutError:
            self.writer.transport.abort()  # close() would wait for the unread data to leave: forever
            raise

    async def start_tls(
        self, ctx: ssl.SSLContext, handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT
    ) -> int:
        """Upgrade to TLS (server side) and return how many buffered plaintext bytes were discarded.

        CVE-2011-0411: bytes a client pipelined after STARTTLS arrived in plaintext and must not be
        read as if they came over TLS. A non-zero return means the peer tried that; the protocol may
        log it or drop the connection. (The protocol core must also drop what *it* buffered.)
        """
        discarded = self._discard_buffered()
        await self.writer.start_tls(ctx, ssl_handshake_timeout=handshake_timeout)
        return discarded

    def _discard_buffered(self) -> int:
        # StreamReader has no public "drop the buffer" call; its buffer is a bytearray we empty.
        buffer: bytearray = self.reader._buffer  # type: ignore[attr-defined]
        count = len(buffer)
        buffer.clear()
        return count

    async def close(self) -> None:
        """Close once; errors from a peer that already went away are not interesting."""
        if self._closed:
            return
        self._closed = True
        if self._cut is not None:
            self._cut.cancel()
        self.writer.close()
        with contextlib.suppress(OSError, ssl.SSLError, asyncio.TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), timeout=5.0)

    def __repr__(self) -> str:
        return f"<Connection {self.id} {self.peer[0]}:{self.peer[1]}{' tls' if self.is_tls else ''}>"


def _addr(addr: Any) -> tuple[str, int]:
    if isinstance(addr, tuple) and len(addr) >= 2:
        return str(addr[0]), int(addr[1])
    return ("", 0)


def endpoint_host_port(endpoint: Endpoint) -> tuple[str, int]:
    """Accept ``(host, port)`` tuples or any object with ``.host``/``.port``; strip IPv6 brackets."""
    host, port = endpoint if isinstance(endpoint, tuple) else (endpoint.host, endpoint.port)
    return host.strip("[]"), int(port)


def bind_sockets(endpoint: Endpoint, backlog: int = DEFAULT_BACKLOG) -> list[socket.socket]:
    """Bind listening sockets for every address ``host`` resolves to (``""`` means all of them)."""
    host, port = endpoint_host_port(endpoint)
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    seen: set[tuple[Any, ...]] = set()
    try:
        for family, type_, proto, _canon, sockaddr in infos:
            if (family, sockaddr) in seen:
                continue
            seen.add((family, sockaddr))
            sockets.append(_bind_one(family, type_, proto, sockaddr, backlog))
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _bind_one(family: int, type_: int, proto: int, sockaddr: Any, backlog: int) -> socket.socket:
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            # Without this, [::]:25 would also take IPv4 and a 0.0.0.0:25 endpoint would fail to bind.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(sockaddr)
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class Listener:
    """Serve ``handler(conn)`` on ``endpoints``; ``tls`` set means implicit TLS (ports 465, 993, 995).

    ``refusal`` is sent to a plaintext client over the connection limits before closing, e.g.
    ``b"421 4.7.0 Too many connections\\r\\n"``. Usage::

        listener = Listener([("0.0.0.0", 25), ("::", 25)], handle_smtp, refusal=SMTP_TOO_MANY)
        await listener.start()
        ...
        await listener.stop(timeout=10)
    """

    def __init__(
        self,
        endpoints: Iterable[Endpoint],
        handler: Handler,
        *,
        tls: TLSContextHolder | None = None,
        limiter: ConnectionLimiter | None = None,
        refusal: bytes = b"",
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
        name: str = "",
        read_limit: int = DEFAULT_READ_SIZE,
        handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
        balance: LoadBoard | None = None,
        proxy: ProxyPolicy | None = None,
    ) -> None:
        self.endpoints = list(endpoints)
        self.balance = balance
        self.proxy = proxy
        self.handler = handler
        self.tls = tls
        self.limiter = limiter or ConnectionLimiter(PoolLimits(max_connections=1000))
        self.refusal = refusal
        self.send_timeout = send_timeout
        self.name = name or ("tls" if tls else "plain")
        self.read_limit = read_limit
        self.handshake_timeout = handshake_timeout
        self._sockets: list[socket.socket] = []
        self._accept_tasks: list[asyncio.Task[None]] = []
        self._clients: set[asyncio.Task[None]] = set()
        self._connections: set[Connection] = set()

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The bound ``(host, port)`` pairs, with real ports when port 0 was asked for."""
        return [_addr(sock.getsockname()) for sock in self._sockets]

    @property
    def active(self) -> int:
        return len(self._clients)

    @property
    def sockets(self) -> list[socket.socket]:
        """The listening sockets, for worker processes to inherit (``workers.py``)."""
        return list(self._sockets)

    async def start(self, inherited: Sequence[socket.socket] | None = None) -> None:
        """Bind every endpoint (all or nothing), or take sockets bound by another process; accept."""
        try:
            if inherited is not None:
                self._sockets.extend(inherited)
            else:
                for endpoint in self.endpoints:
                    self._sockets.extend(bind_sockets(endpoint))
        except BaseException:
            self._close_sockets()
            raise
        for sock in self._sockets:
            self._accept_tasks.append(asyncio.create_task(self._accept_loop(sock)))

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, give running handlers ``timeout`` seconds to finish, then cancel them."""
        for task in self._accept_tasks:
            task.cancel()
        await asyncio.gather(*self._accept_tasks, return_exceptions=True)
        self._accept_tasks.clear()
        self._close_sockets()
        for conn in self._connections:
            conn.stop()
        if self._clients:
            _done, pending = await asyncio.wait(set(self._clients), timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets = []

    async def _accept_loop(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                if self.balance is None:
                    client, addr = await loop.sock_accept(sock)
                else:
                    client, addr = await self._accept_balanced(loop, sock, self.balance)
            except OSError as exc:
                log.warning("%s: accept failed on %s: %s", self.name, sock.getsockname(), exc)
                await asyncio.sleep(ACCEPT_ERROR_PAUSE)
                continue
            if self.proxy is None:
                self._admit(client, None, _addr(addr)[0])
            else:
                self._track(asyncio.create_task(self._admit_proxied(client, _addr(addr), self.proxy)))

    @staticmethod
    async def _accept_balanced(
        loop: asyncio.AbstractEventLoop, sock: socket.socket, board: LoadBoard
    ) -> tuple[socket.socket, Any]:
        """The next connection, left first for a less busy process (``net/balance.py``)."""
        while True:
            await wait_readable(loop, sock)
            if board.busier_than_another():
                await asyncio.sleep(BALANCE_DEFER)
            try:
                return sock.accept()
            except BlockingIOError:
                continue  # another process took it

    async def _admit_proxied(self, client: socket.socket, proxy: Address, policy: ProxyPolicy) -> None:
        """Read the PROXY header of a trusted balancer's connection, then admit the client it names."""
        if not policy.trusts(proxy[0]):
            self._close_unproxied(client, proxy, "not a trusted proxy (listen.proxy_trusted)")
            return
        try:
            header = await receive_header(client, policy.timeout)
        except (ProxyHeaderError, OSError) as exc:  # TimeoutError is an OSError
            self._close_unproxied(client, proxy, str(exc) or "no PROXY header in time")
            return
        except BaseException:
            client.close()
            raise
        peer = header.source or proxy
        log.debug("%s: %s:%s via %s%s", self.name, peer[0], peer[1], proxy[0], " (TLS)" if header.tls else "")
        self._admit(client, Proxied(peer, header.destination or _addr(client.getsockname()), header.tls), peer[0])

    def _close_unproxied(self, client: socket.socket, proxy: Address, reason: str) -> None:
        PROXY_REFUSED.inc(listener=self.name)
        log.info("%s: closed %s: %s", self.name, proxy[0], reason)
        client.close()

    def _admit(self, client: socket.socket, proxied: Proxied | None, ip: str) -> None:
        lease = self.limiter.admit(ip)
        if lease is None:
            REFUSED.inc(listener=self.name)
            log.info("%s: refused %s: %s", self.name, ip, self.limiter.refusal_reason)
            self._refuse(client)
            return
        task = self._track(asyncio.create_task(self._serve(client, lease, proxied)))
        lease.on_shed = lambda: self._shed(ip, task.cancel)  # before it started: it has said nothing yet

    def _track(self, task: asyncio.Task[None]) -> asyncio.Task[None]:
        """A task of one client's: ``stop()`` waits for it, then cancels it."""
        self._clients.add(task)
        task.add_done_callback(self._clients.discard)
        return task

    def _refuse(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError):
            client.setblocking(False)
            if self.refusal and self.tls is None:
                client.send(self.refusal)  # a short line always fits in an empty socket buffer
        client.close()

    async def _serve(self, client: socket.socket, lease: Lease, proxied: Proxied | None) -> None:
        try:
            conn = await self._open(client, proxied)
        except BaseException as exc:
            client.close()
            lease.release()
            if not isinstance(exc, Exception):
                raise  # cancelled by stop(), or let go for a newcomer
            log.debug("%s: connection from %s failed before start: %s", self.name, lease.ip_key, exc)
            return
        conn.lease, conn.send_timeout = lease, self.send_timeout
        lease.on_shed = lambda: self._shed(conn.peer[0], conn.shed)
        self._connections.add(conn)
        try:
            await self.handler(conn)
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
            # The peer went away or broke TLS: routine, not a server fault.
            log.debug("%s: %r ended: %s", self.name, conn, exc)
        except Exception:
            log.exception("%s: handler failed for %r", self.name, conn)
        finally:
            self._connections.discard(conn)
            lease.release()
            await conn.close()

    def _shed(self, ip: str, end: Callable[[], object]) -> None:
        SHED.inc(listener=self.name)
        log.info("%s: let %s go for a newcomer: full", self.name, ip)
        end()

    async def _open(self, client: socket.socket, proxied: Proxied | None) -> Connection:
        """Wrap an accepted socket in streams; for implicit TLS, handshake with the current context."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=self.read_limit)
        made: asyncio.Future[asyncio.StreamWriter] = loop.create_future()

        def connected(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if not made.done():
                made.set_result(writer)

        # A client_connected_cb makes the protocol "server side", which StreamWriter.start_tls needs.
        protocol = asyncio.StreamReaderProtocol(reader, connected)
        ctx = self.tls.context if self.tls else None
        await loop.connect_accepted_socket(
            lambda: protocol, client, ssl=ctx, ssl_handshake_timeout=self.handshake_timeout if ctx else None
        )
        return Connection(reader, await made, proxied)
