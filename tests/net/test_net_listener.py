"""Listeners: plain and implicit TLS, STARTTLS plaintext discard, connection limits and letting the
oldest waiting connection go, graceful stop, slow readers."""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass

import pytest

from pillarbox.net.balance import ABSENT, LoadBoard
from pillarbox.net.limits import ConnectionLimiter, PoolLimits
from pillarbox.net.listener import Connection, Listener

REFUSAL = b"421 4.7.0 Too many connections\r\n"


async def echo(conn: Connection) -> None:
    while data := await conn.read():
        await conn.write(data)


async def wait_until(predicate, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def test_plain_echo_and_addresses(run) -> None:
    @dataclass
    class Endpoint:  # the shape of pillarbox.config.Endpoint
        host: str
        port: int

    seen: list[Connection] = []

    async def handler(conn: Connection) -> None:
        seen.append(conn)
        await echo(conn)

    async def scenario() -> None:
        listener = Listener([Endpoint("127.0.0.1", 0)], handler)
        await listener.start()
        host, port = listener.addresses[0]
        assert host == "127.0.0.1" and port > 0
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"ping\r\n")
        assert await reader.readexactly(6) == b"ping\r\n"
        conn = seen[0]
        assert conn.peer == writer.get_extra_info("sockname")
        assert conn.local == ("127.0.0.1", port)
        assert not conn.is_tls and conn.tls_info is None
        writer.close()
        await listener.stop()

    run(scenario())


def test_implicit_tls_echo(run, holder, client_ctx) -> None:
    infos: list[dict] = []

    async def handler(conn: Connection) -> None:
        assert conn.is_tls
        infos.append(conn.tls_info)
        await echo(conn)

    async def scenario() -> None:
        listener = Listener([("127.0.0.1", 0)], handler, tls=holder)
        await listener.start()
        port = listener.addresses[0][1]
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_ctx, server_hostname="localhost"
        )
        writer.write(b"secret\r\n")
        assert await reader.readexactly(8) == b"secret\r\n"
        writer.close()
        await listener.stop()

    run(scenario())
    assert infos[0]["version"] in ("TLSv1.2", "TLSv1.3")
    assert infos[0]["bits"] >= 128


def test_starttls_discards_pipelined_plaintext(run, holder, client_ctx) -> None:
    discarded: list[int] = []
    after_tls: list[bytes] = []

    async def handler(conn: Connection) -> None:
        # readline leaves the pipelined bytes in the connection's buffer, as a line-based core would.
        assert await conn.reader.readline() == b"STARTTLS\r\n"
        await conn.write(b"220 2.0.0 Ready to start TLS\r\n")
        discarded.append(await conn.start_tls(holder.context))
        assert conn.is_tls
        after_tls.append(await conn.reader.readline())
        await conn.write(b"250 ok\r\n")

    async def scenario() -> None:
        listener = Listener([("127.0.0.1", 0)], handler)
        await listener.start()
        reader, writer = await asyncio.open_connection(*listener.addresses[0])
        writer.write(b"STARTTLS\r\nRCPT TO:<evil@example.com>\r\n")  # one segment: the attack
        assert await reader.readline() == b"220 2.0.0 Ready to start TLS\r\n"
        await writer.start_tls(client_ctx, server_hostname="localhost")
        writer.write(b"NOOP\r\n")
        assert await reader.readline() == b"250 ok\r\n"
        writer.close()
        await listener.stop()

    run(scenario())
    assert discarded == [len(b"RCPT TO:<evil@example.com>\r\n")]
    assert after_tls == [b"NOOP\r\n"]


def test_starttls_without_pipelining_discards_nothing(run, holder, client_ctx) -> None:
    discarded: list[int] = []

    async def handler(conn: Connection) -> None:
        await conn.reader.readline()
        await conn.write(b"220 go\r\n")
        discarded.append(await conn.start_tls(holder.context))
        await echo(conn)

    async def scenario() -> None:
        listener = Listener([("127.0.0.1", 0)], handler)
        await listener.start()
        reader, writer = await asyncio.open_connection(*listener.addresses[0])
        writer.write(b"STARTTLS\r\n")
        await reader.readline()
        await writer.start_tls(client_ctx, server_hostname="127.0.0.1")
        writer.write(b"x\r\n")
        assert await reader.readline() == b"x\r\n"
        writer.close()
        await listener.stop()

    run(scenario())
    assert discarded == [0]


def limiter_of(max_connections: int, max_per_ip: int | None = None, **kwargs) -> ConnectionLimiter:
    return ConnectionLimiter(PoolLimits(max_connections, max_per_ip, **kwargs))


async def _held_open(limiter: ConnectionLimiter, refusal: bytes = REFUSAL, tls=None):
    """A listener whose handler says hi, logs in as the user it is sent (a line) if any, and then
    waits for ``release`` (or says goodbye when let go for a newcomer)."""
    release = asyncio.Event()

    async def handler(conn: Connection) -> None:
        await conn.write(b"hi\r\n")
        while (line := await conn.read_unless_stopping()) is not None and line:
            await conn.write(b"ok\r\n" if conn.logged_in(line.strip().decode()) else b"no\r\n")
        if conn.is_shed:
            await conn.write(b"bye, full\r\n")
            return
        await release.wait()

    listener = Listener([("127.0.0.1", 0)], handler, limiter=limiter, refusal=refusal, tls=tls)
    await listener.start()
    return listener, release


def test_per_ip_limit_refuses_with_line(run) -> None:
    limiter = limiter_of(100, max_per_ip=2)

    async def scenario() -> None:
        listener, release = await _held_open(limiter)
        clients = []
        for _ in range(2):
            reader, writer = await asyncio.open_connection(*listener.addresses[0])
            assert await reader.readline() == b"hi\r\n"
            clients.append(writer)
        assert limiter.count("127.0.0.1") == 2
        reader, writer = await asyncio.open_connection(*listener.addresses[0])
        assert await reader.read() == REFUSAL  # the line, then end of stream
        writer.close()
        release.set()
        for writer in clients:
            writer.close()
        await wait_until(lambda: limiter.total == 0)
        # A slot is free again.
        reader, writer = await asyncio.open_connection(*listener.addresses[0])
        assert await reader.readline() == b"hi\r\n"
        writer.close()
        await listener.stop()

    run(scenario())
    assert limiter.total == 0 and limiter.count("127.0.0.1") == 0


def test_a_limit_shared_by_listeners_refuses_when_everyone_logged_in(run) -> None:
    limiter = limiter_of(1, max_per_ip=10)

    async def scenario() -> None:
        first, release_1 = await _held_open(limiter)
        second, release_2 = await _held_open(limiter, refusal=b"* BYE Too many connections\r\n")
        reader, writer = await asyncio.open_connection(*first.addresses[0])
        assert await reader.readline() == b"hi\r\n"
        writer.write(b"alice\n")
        assert await reader.readline() == b"ok\r\n"
        r2, w2 = await asyncio.open_connection(*second.addresses[0])
        assert await r2.read() == b"* BYE Too many connections\r\n"
        w2.close()
        writer.close()
        release_1.set()
        release_2.set()
        await first.stop()
        await second.stop()

    run(scenario())


def test_when_full_the_oldest_connection_not_logged_in_goes_for_the_newcomer(run) -> None:
    """Three places, one of them kept for logged-in users: two strangers fill the rest; a third
    stranger lets the oldest go (it hears why), a user's session is never let go."""
    limiter = limiter_of(3, reserved=1)

    async def scenario() -> None:
        listener, release = await _held_open(limiter)
        address = listener.addresses[0]
        clients = []
        for name in (b"user", b"", b""):
            reader, writer = await asyncio.open_connection(*address)
            assert await reader.readline() == b"hi\r\n"
            if name:
                writer.write(name + b"\n")
                assert await reader.readline() == b"ok\r\n"
            clients.append((reader, writer))
        # full: 1 user + 2 strangers (the reserved place is the user's); a newcomer sheds stranger 1
        reader, writer = await asyncio.open_connection(*address)
        assert await reader.readline() == b"hi\r\n"
        assert await clients[1][0].read() == b"bye, full\r\n"
        assert limiter.total == 3 and limiter.users == 1
        clients.append((reader, writer))
        reader, writer = await asyncio.open_connection(*address)
        assert await reader.readline() == b"hi\r\n"
        assert await clients[2][0].read() == b"bye, full\r\n"  # the next oldest stranger
        clients.append((reader, writer))
        release.set()
        for _reader, writer in clients:
            writer.close()
        await listener.stop()

    run(scenario())
    assert limiter.total == 0 and limiter.users == 0


def test_limit_on_implicit_tls_closes_without_plaintext(run, holder) -> None:
    limiter = limiter_of(0, max_per_ip=0)

    async def scenario() -> None:
        listener, release = await _held_open(limiter, tls=holder)
        reader, writer = await asyncio.open_connection(*listener.addresses[0])
        assert await reader.read() == b""
        writer.close()
        release.set()
        await listener.stop()

    run(scenario())


def test_limiter_groups_ipv6_by_prefix() -> None:
    limiter = limiter_of(10, max_per_ip=1)
    first = limiter.admit("2001:db8::1")
    assert first and not limiter.admit("2001:db8::2")  # same /64
    assert limiter.admit("2001:db8:0:1::1")
    assert limiter.admit("::ffff:192.0.2.1")
    assert not limiter.admit("192.0.2.1")  # the same client, IPv4-mapped
    first.release()
    first.release()  # once only
    assert limiter.admit("2001:db8::2") and limiter.total == 3


def test_graceful_stop_waits_then_cancels(run) -> None:
    finished: list[str] = []
    cancelled: list[str] = []

    async def handler(conn: Connection) -> None:
        kind = (await conn.reader.readline()).strip().decode()
        try:
            await asyncio.sleep(0.2 if kind == "quick" else 60)
            finished.append(kind)
        except asyncio.CancelledError:
            cancelled.append(kind)
            raise

    async def scenario() -> None:
        listener = Listener([("127.0.0.1", 0)], handler)
        await listener.start()
        address = listener.addresses[0]
        writers = []
        for kind in (b"quick\n", b"stuck\n"):
            _, writer = await asyncio.open_connection(*address)
            writer.write(kind)
            writers.append(writer)
        await wait_until(lambda: listener.active == 2)
        await asyncio.sleep(0.05)  # both handlers have read their line
        await listener.stop(timeout=1.0)
        assert listener.active == 0
        with pytest.raises(OSError):
            await asyncio.open_connection(*address)
        for writer in writers:
            writer.close()
            await writer.wait_closed()

    run(scenario())
    assert finished == ["quick"]
    assert cancelled == ["stuck"]


def test_handler_crash_is_logged_and_slot_released(run, caplog) -> None:
    limiter = limiter_of(5, max_per_ip=5)

    async def handler(conn: Connection) -> None:
        raise RuntimeError("boom")

    async def scenario() -> None:
        listener = Listener([("127.0.0.1", 0)], handler, limiter=limiter)
        await listener.start()
        reader, writer = await asyncio.open_connection(*listener.addresses[0])
        assert await reader.read() == b""
        writer.close()
        await wait_until(lambda: limiter.total == 0)
        await listener.stop()

    with caplog.at_level(logging.ERROR, logger="pillarbox.net"):
        run(scenario())
    assert "boom" in caplog.text


def test_failed_tls_handshake_releases_slot(run, holder) -> None:
    limiter = limiter_of(5, max_per_ip=5)
    reached: list[Connection] = []

    async def handler(conn: Connection) -> None:
        reached.append(conn)

    async def scenario() -> None:
        listener = Listener([("127.0.0.1", 0)], handler, tls=holder, limiter=limiter)
        await listener.start()
        reader, writer = await asyncio.open_connection(*listener.addresses[0])
        writer.write(b"EHLO not-tls.example\r\n" * 10)
        await reader.read()
        writer.close()
        await wait_until(lambda: limiter.total == 0)
        await listener.stop()

    run(scenario())
    assert reached == []


def _ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback_available(), reason="no IPv6 loopback")
def test_ipv6_listener_is_v6only(run) -> None:
    async def scenario() -> None:
        listener = Listener([("[::1]", 0), ("127.0.0.1", 0)], echo)
        await listener.start()
        (host6, port6), (host4, _port4) = listener.addresses
        assert (host6, host4) == ("::1", "127.0.0.1")
        sock6 = listener._sockets[0]
        assert sock6.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
        reader, writer = await asyncio.open_connection("::1", port6)
        writer.write(b"six\n")
        assert await reader.readline() == b"six\n"
        writer.close()
        await listener.stop()

    run(scenario())


def test_bind_failure_releases_everything(run) -> None:
    async def scenario() -> None:
        first = Listener([("127.0.0.1", 0)], echo)
        await first.start()
        taken = first.addresses[0]
        second = Listener([("127.0.0.1", 0), taken], echo)
        with pytest.raises(OSError):
            await second.start()
        assert second.addresses == []
        await first.stop()

    run(scenario())


def test_the_process_with_fewer_connections_accepts_the_next_one(run, tmp_path) -> None:
    """Two "processes" (listeners with boards on one file) accepting on the same socket: connections
    that stay open end up split evenly, where either alone would have taken them all."""
    served: dict[str, list[Connection]] = {"primary": [], "worker": []}
    done = asyncio.Event()

    def holding(name: str):
        async def handler(conn: Connection) -> None:
            served[name].append(conn)
            await conn.write(name.encode() + b"\r\n")
            await done.wait()
        return handler

    async def scenario() -> None:
        primary_board = LoadBoard(tmp_path / "load", 2, 0)
        assert primary_board.totals() == [0, ABSENT]  # the worker has not started: nobody waits for it
        primary = Listener([("127.0.0.1", 0)], holding("primary"), balance=primary_board,
                           limiter=ConnectionLimiter(PoolLimits(100), board=primary_board))
        await primary.start()
        worker_board = LoadBoard(tmp_path / "load", 2, 1)
        worker = Listener([], holding("worker"), balance=worker_board,
                          limiter=ConnectionLimiter(PoolLimits(100), board=worker_board))
        await worker.start([primary.sockets[0].dup()])  # as a worker process inherits it
        host, port = primary.addresses[0]
        clients = []
        for _ in range(10):
            reader, writer = await asyncio.open_connection(host, port)
            await reader.readline()
            clients.append(writer)
        assert primary_board.totals() == [5, 5]
        done.set()
        for writer in clients:
            writer.close()
        await asyncio.gather(primary.stop(), worker.stop())
        assert primary_board.totals() == [0, 0]
        primary_board.add_total(1)
        assert primary_board.busier_than_another()
        primary_board.mark_absent(1)  # the worker died: the primary takes everything without waiting
        assert not primary_board.busier_than_another()

    run(scenario())
    assert [len(conns) for conns in served.values()] == [5, 5]


def test_connection_limits_hold_across_processes(tmp_path) -> None:
    """Two processes' limiters on one board: per client IP and in all, the other's connections count;
    each process lets only its own connections go."""
    boards = [LoadBoard(tmp_path / "load", 2, index, counters=2) for index in (0, 1)]
    first, second = (ConnectionLimiter(PoolLimits(5, max_per_ip=3), name="smtp", board=board) for board in boards)
    held = [first.admit("192.0.2.1"), first.admit("192.0.2.1"), second.admit("192.0.2.1")]
    assert all(held)
    assert not second.admit("192.0.2.1") and not first.admit("192.0.2.1")  # 3 from it already
    assert second.admit("2001:db8::1") and second.admit("2001:db8::2")  # one /64: one client
    assert held[0].promote("a@example.com") and held[1].promote("b@example.com")
    assert not first.admit("198.51.100.7")  # 5 in all, and this process has no stranger to let go
    assert second.admit("198.51.100.7")  # the second has: its oldest goes
    assert held[2].released and second.total == 3 and first.total == 2
    boards[0].mark_absent(1)  # the second process died: its connections went with it
    assert first.admit("192.0.2.9") and first.admit("192.0.2.9") and first.admit("192.0.2.1")


def test_logins_per_user_and_address_hold_across_processes(tmp_path) -> None:
    """IMAP-like: an address may have 2 connections not logged in yet; a logged-in one counts per
    user and address instead (2 each), in both processes together."""
    boards = [LoadBoard(tmp_path / "load", 2, index, counters=2) for index in (0, 1)]
    limits = PoolLimits(100, max_per_ip=2, max_per_user_ip=2, per_ip_counts_users=False)
    first, second = (ConnectionLimiter(limits, name="imap", board=board) for board in boards)
    one, two = first.admit("192.0.2.1"), second.admit("192.0.2.1")
    assert first.admit("192.0.2.1") is None  # two from this address have not logged in yet
    assert one.promote("bob@example.com") and two.promote("Bob@Example.com")
    third = first.admit("192.0.2.1")  # the logged-in ones no longer count for the address
    assert not third.promote("bob@example.com")  # bob has two from here already, one per process
    assert third.promote("carol@example.com")
    elsewhere = second.admit("198.51.100.1")
    assert elsewhere.promote("bob@example.com")  # another address: a count of its own
    one.release()
    assert first.admit("192.0.2.1").promote("bob@example.com")
