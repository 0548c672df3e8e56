"""POP3 load tool: N concurrent clients, each logging in to its own maildrop and doing STAT, UIDL,
RETR of every message and QUIT; prints sessions/s, messages/s and MB/s. Works against any server.

Each client needs its own account (RFC 1939 4: one session per maildrop, a second gets [IN-USE]),
named by ``--user-template`` with ``{n}`` = 1..N. ``populate`` fills a Pillarbox data_dir with such
accounts (the same messages for all: the store keeps one blob per distinct message).

    python bench/pop3_load.py populate DATA_DIR --clients 50 --messages 200 --size 20000
    python bench/pop3_load.py run --port 995 --tls implicit --cafile DATA_DIR/tls/cert.pem --clients 50

The client is strictly request/response (no pipelining), so a multi-line answer ends exactly where
the bytes received end with CRLF "." CRLF.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

READ = 256 * 1024


@dataclass
class Totals:
    sessions: int = 0
    messages: int = 0
    octets: int = 0
    failures: list[str] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def status(self) -> bytes:
        line = await self.reader.readuntil(b"\r\n")
        if not line.startswith(b"+OK"):
            raise RuntimeError(line.decode(errors="replace").strip())
        return line

    async def command(self, text: str) -> bytes:
        self.writer.write(text.encode() + b"\r\n")
        await self.writer.drain()
        return await self.status()

    async def multiline(self, text: str) -> bytes:
        await self.command(text)
        buf = bytearray(b"\r\n")  # the status line's CRLF may be the one before the final "."
        while not buf.endswith(b"\r\n.\r\n"):
            chunk = await self.reader.read(READ)
            if not chunk:
                raise RuntimeError("connection closed inside a multi-line answer")
            buf += chunk
        return bytes(buf[2:-3])


async def session(args: argparse.Namespace, n: int, totals: Totals) -> None:
    started = time.perf_counter()
    context = _context(args)
    writer = None
    try:
        reader, writer = await asyncio.open_connection(
            args.host, args.port, ssl=context if args.tls == "implicit" else None, limit=READ)
        client = Client(reader, writer)
        await client.status()
        if args.tls == "stls":
            await client.command("STLS")
            await writer.start_tls(context)
        await client.command(f"USER {args.user_template.format(n=n)}")
        await client.command(f"PASS {args.password}")
        count = int((await client.command("STAT")).split()[1])
        await client.multiline("UIDL")
        for number in range(1, count + 1):
            body = await client.multiline(f"RETR {number}")  # await first: "+=" would read octets before it
            totals.octets += len(body)
            totals.messages += 1
        await client.command("QUIT")
        totals.sessions += 1
        totals.durations.append(time.perf_counter() - started)
    except (OSError, RuntimeError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        totals.failures.append(f"client {n}: {exc}")
    finally:
        if writer is not None:
            writer.close()


def _context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if args.tls == "none":
        return None
    context = ssl.create_default_context(cafile=args.cafile)
    if args.insecure:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    else:
        context.check_hostname = args.check_hostname
    return context


async def run(args: argparse.Namespace) -> Totals:
    totals = Totals()
    for _ in range(args.rounds):
        await asyncio.gather(*(session(args, n, totals) for n in range(1, args.clients + 1)))
    return totals


def report(totals: Totals, elapsed: float, client_cpu: float) -> None:
    megabytes = totals.octets / 1e6
    print(f"sessions   {totals.sessions} ok, {len(totals.failures)} failed in {elapsed:.2f} s")
    print(f"messages   {totals.messages} ({totals.messages / elapsed:.0f} messages/s)")
    print(f"volume     {megabytes:.1f} MB ({megabytes / elapsed:.1f} MB/s)")
    # this client shares the machine with the server: its CPU bounds messages/s as much as the server's
    print(f"client CPU {client_cpu:.2f} s ({client_cpu * 1000 / max(totals.messages, 1):.3f} ms per message)")
    if totals.durations:
        ordered = sorted(totals.durations)
        p95 = ordered[int(0.95 * (len(ordered) - 1))]
        print(f"session    median {statistics.median(ordered):.2f} s, p95 {p95:.2f} s")
    for failure in totals.failures[:10]:
        print("failure   ", failure, file=sys.stderr)


async def populate(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from pillarbox.auth.passwords import make_credentials
    from pillarbox.store.records import DeliveryTarget
    from pillarbox.store.sqlite.store import SQLiteStore

    store = SQLiteStore.open(Path(args.data_dir))
    try:
        domain = args.user_template.format(n=1).rpartition("@")[2]
        if not await store.has_domain(domain):
            await store.add_domain(domain)
        messages = [_message(i, args.size) for i in range(1, args.messages + 1)]
        for n in range(1, args.clients + 1):
            address = args.user_template.format(n=n)
            account = await store.get_account(address) or await store.add_account(
                address, *make_credentials(args.password))
            inbox = await store.get_mailbox(account.id, "INBOX")
            await asyncio.gather(*(store.deliver(raw, [DeliveryTarget(inbox.id)]) for raw in messages))
    finally:
        await store.close()


def _message(i: int, size: int) -> bytes:
    head = f"From: load@example.org\r\nTo: you@example.com\r\nSubject: load {i}\r\nMessage-ID: <{i}@load>\r\n\r\n"
    line = (os.urandom(30).hex() + "\r\n").encode()  # 62 octets, never a leading "."
    body = line * max(1, (size - len(head)) // len(line))
    return head.encode() + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    fill = commands.add_parser("populate", help="create load accounts in a Pillarbox data_dir")
    fill.add_argument("data_dir")
    fill.add_argument("--messages", type=int, default=200)
    fill.add_argument("--size", type=int, default=20_000)
    load = commands.add_parser("run", help="run the load against a server")
    load.add_argument("--host", default="127.0.0.1")
    load.add_argument("--port", type=int, default=995)
    load.add_argument("--tls", choices=("none", "stls", "implicit"), default="implicit")
    load.add_argument("--cafile", help="trust this certificate (e.g. DATA_DIR/tls/cert.pem)")
    load.add_argument("--check-hostname", action="store_true", help="also check the name (default: chain only)")
    load.add_argument("--insecure", action="store_true", help="do not verify the certificate at all")
    load.add_argument("--rounds", type=int, default=1, help="times each client runs its session")
    for sub in (fill, load):
        sub.add_argument("--clients", type=int, default=50)
        sub.add_argument("--user-template", default="load{n}@example.com")
        sub.add_argument("--password", default="load-password")
    args = parser.parse_args()
    if args.command == "populate":
        asyncio.run(populate(args))
        return
    started, cpu = time.perf_counter(), time.process_time()
    totals = asyncio.run(run(args))
    report(totals, time.perf_counter() - started, time.process_time() - cpu)


if __name__ == "__main__":
    main()
