#!/usr/bin/env python3
"""SMTP load generator: N concurrent clients, M messages in total, K messages per connection.

Standard library only (raw asyncio streams), so it runs with any Python 3.11+ and costs the machine
little CPU next to the server it measures. Each of the N clients opens a connection, reads the
banner, sends EHLO, then loops:

    MAIL FROM / RCPT TO / DATA   pipelined in one write (RFC 2920), three replies read
    message body + CRLF.CRLF     one write, final reply read        (or --bdat: all in one write)

and after --per-connection messages (0: no limit, as Postfix's smtp-source does) sends QUIT, closes
and connects again. ``--per-connection 1`` is how most MTAs deliver to an MX: one message, one
connection, so banner, EHLO, the session's policy set-up and QUIT are paid by every message.

A message counts as delivered only when the final reply is 250 (principle 7: that reply means "on
disk"). Latency is measured from the MAIL write to the final reply; with a per-connection limit,
``connection_ms`` is also measured, from connect() to the EHLO reply. The run is bounded by
--messages and by --time-limit, whichever comes first.

    python bench/smtp_load.py --port 2525 --connections 10 --messages 2000 --size 4096 \
        --per-connection 1 --recipient bench@bench.test --sender load@client.test [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import sys
import time
from dataclasses import dataclass, field

LINE = b"The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\r\n"


@dataclass
class Stats:
    sent: int = 0  # transactions started
    delivered: int = 0  # final 250
    refused: int = 0  # any other final reply, or a refused MAIL/RCPT/DATA
    connection_errors: int = 0
    connections: int = 0  # opened and greeted with EHLO
    latencies: list[float] = field(default_factory=list)
    connect_latencies: list[float] = field(default_factory=list)
    replies: dict[str, int] = field(default_factory=dict)


class Budget:
    """The messages still to send, shared by all connections, plus the run's deadline."""

    def __init__(self, total: int, deadline: float) -> None:
        self.left = total
        self.deadline = deadline

    def take(self) -> int | None:
        if self.left <= 0 or time.monotonic() >= self.deadline:
            return None
        self.left -= 1
        return self.left


def make_body(size: int, sender: str, recipient: str, serial: str) -> bytes:
    """A plain-text message of about ``size`` octets, ending with CRLF; no line starts with a dot."""
    head = (
        f"From: Load <{sender}>\r\nTo: <{recipient}>\r\nSubject: load test {serial}\r\n"
        f"Message-ID: <{serial}@smtp-load.invalid>\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    ).encode()
    lines = max(1, (size - len(head)) // len(LINE))
    return head + LINE * lines


async def read_reply(reader: asyncio.StreamReader, timeout: float) -> str:
    """One (possibly multi-line) reply; returns its code as text."""
    while True:
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line:
            raise ConnectionError("server closed the connection")
        if line[3:4] != b"-":
            return line[:3].decode("ascii", "replace")


def count(stats: Stats, code: str) -> None:
    stats.replies[code] = stats.replies.get(code, 0) + 1


async def transaction(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, args: argparse.Namespace,
    envelope: bytes, body: bytes, stats: Stats,
) -> None:
    started = time.perf_counter()
    stats.sent += 1
    if args.bdat:
        writer.write(envelope + b"BDAT %d LAST\r\n" % len(body) + body)
        codes = [await read_reply(reader, args.reply_timeout) for _ in range(3)]
        final = codes[-1]
    else:
        writer.write(envelope + b"DATA\r\n")
        codes = [await read_reply(reader, args.reply_timeout) for _ in range(3)]
        if codes[2] != "354":
            for code in codes:
                count(stats, code)
            stats.refused += 1
            writer.write(b"RSET\r\n")
            await read_reply(reader, args.reply_timeout)
            return
        writer.write(body + b".\r\n")
        final = await read_reply(reader, args.reply_timeout)
    count(stats, final)
    if final == "250" and codes[0] == "250" and codes[1] == "250":
        stats.delivered += 1
        stats.latencies.append(time.perf_counter() - started)
    else:
        stats.refused += 1
        writer.write(b"RSET\r\n")
        await read_reply(reader, args.reply_timeout)


class Templates:
    """The bytes every message of a client shares; only the serial changes."""

    def __init__(self, args: argparse.Namespace) -> None:
        template = make_body(args.size, args.sender, args.recipient, "{serial}")
        self.envelope = f"MAIL FROM:<{args.sender}>\r\nRCPT TO:<{args.recipient}>\r\n".encode()
        self.head, _, tail = template.partition(b"{serial}")
        self.middle, _, self.tail = tail.partition(b"{serial}")

    def body(self, serial: bytes) -> bytes:
        return self.head + serial + self.middle + serial + self.tail


async def client(number: int, args: argparse.Namespace, budget: Budget, stats: Stats) -> None:
    """One concurrent client: connections one after the other until the budget is spent."""
    templates = Templates(args)
    while budget.left > 0 and time.monotonic() < budget.deadline:
        if not await connection(number, args, budget, stats, templates):
            return


async def connection(number: int, args: argparse.Namespace, budget: Budget, stats: Stats,
                     templates: Templates) -> bool:
    """One connection: banner, EHLO, up to --per-connection messages, QUIT. False when it failed."""
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(args.host, args.port, limit=1 << 16), args.reply_timeout)
    except (OSError, TimeoutError):
        stats.connection_errors += 1
        return False
    try:
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if await read_reply(reader, args.reply_timeout) != "220":
            raise ConnectionError("no 220 greeting")
        writer.write(f"EHLO load{number}.client.invalid\r\n".encode())
        if await read_reply(reader, args.reply_timeout) != "250":
            raise ConnectionError("EHLO refused")
        stats.connections += 1
        stats.connect_latencies.append(time.perf_counter() - started)
        sent = 0
        while (not args.per_connection or sent < args.per_connection) and (left := budget.take()) is not None:
            serial = f"{os.getpid()}.{number}.{left}".encode()
            await transaction(reader, writer, args, templates.envelope, templates.body(serial), stats)
            sent += 1
        writer.write(b"QUIT\r\n")
        await read_reply(reader, args.reply_timeout)
        return True
    except (OSError, ConnectionError, TimeoutError, asyncio.IncompleteReadError):
        stats.connection_errors += 1
        return False
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run(args: argparse.Namespace) -> dict[str, object]:
    stats = Stats()
    budget = Budget(args.messages, time.monotonic() + args.time_limit)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    await asyncio.gather(*(client(n, args, budget, stats) for n in range(args.connections)))
    elapsed = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return {
        "connections": args.connections, "size": args.size, "requested": args.messages,
        "per_connection": args.per_connection, "connections_opened": stats.connections,
        "connection_ms_p50": round(percentile(stats.connect_latencies, 0.50) * 1000, 2),
        "sent": stats.sent, "delivered": stats.delivered, "refused": stats.refused,
        "connection_errors": stats.connection_errors, "replies": stats.replies,
        "seconds": round(elapsed, 3), "messages_per_second": round(stats.delivered / elapsed, 1),
        "latency_p50_ms": round(percentile(stats.latencies, 0.50) * 1000, 2),
        "latency_p99_ms": round(percentile(stats.latencies, 0.99) * 1000, 2),
        "client_cpu_ms_per_message": round(client_cpu * 1000 / max(1, stats.delivered), 3),
        "mode": "BDAT" if args.bdat else "DATA",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=25)
    parser.add_argument("--connections", "-c", type=int, default=10)
    parser.add_argument("--messages", "-m", type=int, default=1000, help="messages in total (all connections)")
    parser.add_argument("--size", "-s", type=int, default=4096, help="approximate message size in octets")
    parser.add_argument("--sender", default="load@client.invalid")
    parser.add_argument("--recipient", required=True)
    parser.add_argument("--per-connection", type=int, default=0,
                        help="messages per connection, then QUIT and connect again (0: no limit)")
    parser.add_argument("--bdat", action="store_true", help="send BDAT LAST (CHUNKING) instead of DATA")
    parser.add_argument("--time-limit", type=float, default=300.0, help="stop starting messages after this (s)")
    parser.add_argument("--reply-timeout", type=float, default=60.0, help="give up on a silent server (s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")
    return 0 if result["delivered"] == result["sent"] and not result["connection_errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
