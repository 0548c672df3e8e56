"""Listeners behind a load balancer: the PROXY header's client is ``Connection.peer`` and the address the
limits count (across processes too), the client's own bytes after the header (a ClientHello) are left
for the transport, and a source that is not trusted, or sends no valid header in time, is closed."""

from __future__ import annotations

import asyncio
import ipaddress
import logging

from tests.net.proxy_headers import v1, v2

from pillarbox.net.balance import LoadBoard
from pillarbox.net.limits import ConnectionLimiter, PoolLimits
from pillarbox.net.listener import Connection, Listener
from pillarbox.net.proxy import ProxyPolicy

LOOPBACK = ProxyPolicy((ipaddress.ip_network("127.0.0.0/8"),))
CLIENT = ("203.0.113.7", 40001)
FRONT = ("198.51.100.1", 25)
V6_CLIENT = ("2001:db8::7", 40002)
V6_FRONT = ("2001:db8::1", 993)


async def echo_peers(conn: Connection) -> None:
    """Says who it thinks the client is, then echoes."""
    await conn.write(f"{conn.peer[0]} {conn.peer[1]} {conn.local[0]} {conn.local[1]}\r\n".encode())
    while data := await conn.read():
        await conn.write(data)


async def started(handler=echo_peers, **kwargs) -> Listener:
    listener = Listener([("127.0.0.1", 0)], handler, proxy=kwargs.pop("proxy", LOOPBACK), **kwargs)
    await listener.start()
    return listener


def test_the_header_names_the_client_v1_and_v2_ipv4_and_ipv6(run) -> None:
    async def scenario() -> None:
        listener = await started()
        for header, client, front in [(v1(CLIENT, FRONT), CLIENT, FRONT), (v2(CLIENT, FRONT), CLIENT, FRONT),
                                      (v1(V6_CLIENT, V6_FRONT), V6_CLIENT, V6_FRONT),
                                      (v2(V6_CLIENT, V6_FRONT, with_crc=True), V6_CLIENT, V6_FRONT)]:
            reader, writer = await asyncio.open_connection(*listener.addresses[0])
            writer.write(header + b"EHLO pipelined\r\n")  # the client's bytes, in the header's segment
            line = f"{client[0]} {client[1]} {front[0]} {front[1]}\r\n".encode()
            assert await reader.readline() == line
            assert await reader.readline() == b"EHLO pipelined\r\n"
            writer.close()
        await listener.stop()

    run(scenario())


def test_local_and_unknown_keep_the_balancers_own_address(run) -> None:
    """Health checks: v2 LOCAL, v1 UNKNOWN."""
    async def scenario() -> None:
        listener = await started()
        for header in (v2(None, command=0), b"PROXY UNKNOWN\r\n"):
            reader, writer = await asyncio.open_connection(*listener.addresses[0])
            writer.write(header)
            assert (await reader.readline()).startswith(b"127.0.0.1 ")
            writer.close()
        await listener.stop()

    run(scenario())


def test_implicit_tls_after_the_header(run, holder, client_ctx) -> None:
    async def scenario() -> None:
        listener = await started(tls=holder)
        sock = await asyncio.to_thread(_connect_with_header, listener.addresses[0], v2(CLIENT, FRONT))
        reader, writer = await asyncio.open_connection(sock=sock, ssl=client_ctx, server_hostname="localhost")
        assert await reader.readline() == b"203.0.113.7 40001 198.51.100.1 25\r\n"
        writer.close()
        await listener.stop()

    run(scenario())


def _connect_with_header(address: tuple[str, int], header: bytes):
    import socket

    sock = socket.create_connection(address)
    sock.sendall(header)
    return sock


def closed_unserved(run, caplog, sends: list[bytes], policy: ProxyPolicy = LOOPBACK) -> str:
    """Each of ``sends`` on a connection of its own, which must be closed without a byte and without the
    handler ever running; returns the log."""
    served: list[Connection] = []

    async def scenario() -> None:
        listener = await started(lambda conn: served.append(conn) or echo_peers(conn), proxy=policy)
        for data in sends:
            reader, writer = await asyncio.open_connection(*listener.addresses[0])
            writer.write(data)
            assert await closed_by_server(reader)
            writer.close()
        await listener.stop()

    with caplog.at_level(logging.INFO, "pillarbox.net"):
        run(scenario())
    assert served == []
    return caplog.text


def test_an_untrusted_source_is_closed_unread(run, caplog) -> None:
    elsewhere = ProxyPolicy((ipaddress.ip_network("10.0.0.0/8"),))
    assert "not a trusted proxy" in closed_unserved(run, caplog, [v1(CLIENT, FRONT)], elsewhere)


def test_a_trusted_source_without_a_valid_header_is_closed(run, caplog) -> None:
    garbage = [b"EHLO direct.client\r\n", b"\x16\x03\x01\x02\x00", b"PROXY TCP4 1.2.3.4\r\n",
               v2(CLIENT, FRONT, with_crc=True)[:-1] + b"\x00"]
    log = closed_unserved(run, caplog, garbage)
    assert "not a PROXY protocol header" in log and "CRC32C mismatch" in log


def test_no_header_in_time_is_closed(run, caplog) -> None:
    slow = ProxyPolicy(LOOPBACK.trusted, timeout=0.2)
    assert "no PROXY header in time" in closed_unserved(run, caplog, [b"PROXY TCP4 "], slow)  # and no more


def test_the_limits_count_the_client_not_the_balancer(run) -> None:
    limiter = ConnectionLimiter(PoolLimits(100, max_per_ip=1))

    async def scenario() -> None:
        listener = await started(limiter=limiter, refusal=b"421 too many\r\n")
        first = await _proxied(listener, v1(CLIENT, FRONT))
        assert (await first[0].readline()).startswith(b"203.0.113.7 ")
        second = await _proxied(listener, v2(CLIENT, FRONT))
        assert await second[0].read() == b"421 too many\r\n"  # the same client, through the same balancer
        other = await _proxied(listener, v2(("203.0.113.8", 1), FRONT))
        assert (await other[0].readline()).startswith(b"203.0.113.8 ")
        assert limiter.count("203.0.113.7") == 1 and limiter.count("127.0.0.1") == 0
        for _reader, writer in (first, second, other):
            writer.close()
        await listener.stop()

    run(scenario())


def test_the_limits_count_the_client_across_processes(run, tmp_path) -> None:
    """Two "processes" (a listener each, one board) on one socket: the client's second connection is
    refused by whichever process takes it, since the board counts the client's address."""
    boards = [LoadBoard(tmp_path / "load", 2, index, counters=2) for index in (0, 1)]
    limiters = [ConnectionLimiter(PoolLimits(100, max_per_ip=1), name="smtp", board=board) for board in boards]

    async def scenario() -> None:
        primary = await started(limiter=limiters[0], balance=boards[0], refusal=b"421 too many\r\n")
        worker = Listener([], echo_peers, limiter=limiters[1], balance=boards[1], proxy=LOOPBACK,
                          refusal=b"421 too many\r\n")
        await worker.start([primary.sockets[0].dup()])
        held = [await _proxied(primary, v2(CLIENT, FRONT)) for _ in range(2)]
        answers = [await reader.readline() for reader, _writer in held]
        assert sorted(answers) == [b"203.0.113.7 40001 198.51.100.1 25\r\n", b"421 too many\r\n"]
        assert boards[0].others_key("smtp|203.0.113.7") + boards[1].others_key("smtp|203.0.113.7") == 1
        for _reader, writer in held:
            writer.close()
        await asyncio.gather(primary.stop(), worker.stop())

    run(scenario())


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Closed without a byte: an end of stream, or a reset (closing with the client's bytes unread)."""
    try:
        return await reader.read() == b""
    except ConnectionResetError:
        return True


async def _proxied(listener: Listener, header: bytes):
    reader, writer = await asyncio.open_connection(*listener.addresses[0])
    writer.write(header)
    return reader, writer
