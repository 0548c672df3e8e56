"""IMAP load tool: N concurrent clients, each running realistic sessions over implicit TLS; works
against any IMAP server (Pillarbox, Dovecot...). Prints per-operation latency (p50/p99), ops/s,
sessions/s and errors.

One session (what a desktop client does when it opens a mailbox, reads a few messages and leaves):

    connect   TCP + TLS handshake + greeting
    login     LOGIN user password
    select    SELECT INBOX
    fetch_all FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE BODYSTRUCTURE)
    fetch_body FETCH n BODY[]          x --bodies random messages (sets \\Seen)
    store     STORE n +FLAGS (\\Flagged)
    search    SEARCH SUBJECT word | SEARCH FROM sender | SEARCH UNSEEN   (in turn)
    store     STORE n,m,... -FLAGS (\\Seen \\Flagged)   (puts the flags back, so runs repeat)
    idle      IDLE, wait for "+", DONE, wait for the tagged OK
    logout    LOGOUT

With ``--profile login`` a session is what a polling client does many times an hour, so the login is
most of its cost:

    connect   TCP + TLS handshake + greeting
    login     LOGIN user password
    select    SELECT INBOX
    fetch_flags UID FETCH 1:* (FLAGS)
    logout    LOGOUT

Clients are spread over the users (client k logs in as user ((k-1) mod USERS)+1) so they do not all
share one mailbox. A run ends after --sessions sessions in total or after --duration seconds,
whichever comes first; every operation has a timeout.

The corpus (same for every user and every server) is generated reproducibly from a seed as a
Maildir, which both Pillarbox (``pillarbox import ADDRESS DIR``) and Dovecot (copy) take as is:

    python bench/imap_load.py corpus /tmp/corpus --messages 2000 --seed 1
    python bench/imap_load.py run --port 993 --cafile DATA_DIR/tls/cert.pem --clients 10 --users 10 \\
        --user-template bench{n}@bench.test --password bench-password --sessions 200 --duration 60

The reader is a small literal-aware scanner (no full response parser) to keep the client's CPU low:
the client shares the machine with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import ssl
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

READ = 256 * 1024
T = TypeVar("T")
WORDS = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo",
    "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor",
    "whiskey", "xray", "yankee", "zulu", "budget", "meeting", "report", "invoice", "travel", "schedule",
    "project", "release", "server", "backup", "network", "storage", "contract", "review", "holiday",
    "picnic", "quarterly", "summary", "draft", "final", "urgent", "question", "answer", "update", "agenda",
    "minutes", "lunch", "coffee",
)
SENDERS = [f"sender{i}" for i in range(1, 41)]


# -- corpus -------------------------------------------------------------------------------------------


def _text(rng: random.Random, size: int) -> str:
    lines, total = [], 0
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12)))
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines) + "\n"


def _b64(rng: random.Random, size: int) -> str:
    data = rng.randbytes(size)
    encoded = base64.b64encode(data).decode()
    return "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76)) + "\n"


def make_message(rng: random.Random, i: int) -> bytes:
    """One message of 2-50 KB (log-uniform); a quarter multipart/alternative, a fifth with an attachment."""
    size = int(2000 * (25 ** rng.random()))
    sender = rng.choice(SENDERS)
    subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
    if i % 10 == 3:
        subject = "=?UTF-8?B?" + base64.b64encode(("Réunion " + subject).encode()).decode() + "?="
    day, hour = rng.randint(1, 28), rng.randint(0, 23)
    head = (
        f"Return-Path: <{sender}@example.org>\n"
        f"From: {sender.title()} <{sender}@example.org>\n"
        f"To: Bench User <user@bench.test>\n"
        + (f"Cc: {rng.choice(SENDERS)}@example.net\n" if rng.random() < 0.3 else "")
        + f"Subject: {subject}\n"
        f"Date: Mon, {day:02d} Jan 2024 {hour:02d}:{rng.randint(0, 59):02d}:00 +0000\n"
        f"Message-ID: <{i}.{rng.getrandbits(40):x}@example.org>\n"
        "MIME-Version: 1.0\n"
    )
    kind = rng.random()
    if kind < 0.2:  # text + attachment
        boundary = f"=_att_{i}"
        text_size = max(300, size // 4)
        body = (
            f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
            f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n{_text(rng, text_size)}"
            f'--{boundary}\nContent-Type: application/pdf; name="doc{i}.pdf"\n'
            f'Content-Disposition: attachment; filename="doc{i}.pdf"\nContent-Transfer-Encoding: base64\n\n'
            f"{_b64(rng, (size - text_size) * 3 // 4)}--{boundary}--\n"
        )
    elif kind < 0.45:  # text/plain + text/html alternative
        boundary = f"=_alt_{i}"
        text = _text(rng, size // 2)
        html = "<html><body><p>" + text.replace("\n", "</p>\n<p>") + "</p></body></html>\n"
        body = (
            f'Content-Type: multipart/alternative; boundary="{boundary}"\n\n'
            f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n{text}"
            f"--{boundary}\nContent-Type: text/html; charset=utf-8\n\n{html}--{boundary}--\n"
        )
    else:
        body = "Content-Type: text/plain; charset=utf-8\n\n" + _text(rng, size)
    return (head + body).encode()


def corpus(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    root = Path(args.directory)
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    total = 0
    for i in range(1, args.messages + 1):
        raw = make_message(rng, i)
        total += len(raw)
        # Maildir name: time.unique.host:2,flags — a fixed "time" keeps the corpus byte-identical
        (root / "cur" / f"{1704067200 + i}.M{i}P1.bench:2,").write_bytes(raw)
    print(f"{args.messages} messages, {total / 1e6:.1f} MB, in {root}")


# -- client -------------------------------------------------------------------------------------------


class ServerError(Exception):
    pass


class IMAPClient:
    """Tagged commands, responses read with a literal-aware line scanner."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buf = bytearray()
        self.pos = 0
        self.counter = 0

    async def _fill(self) -> None:
        if self.pos > READ:
            del self.buf[: self.pos]
            self.pos = 0
        chunk = await self.reader.read(READ)
        if not chunk:
            raise ConnectionError("connection closed by server")
        self.buf += chunk

    async def line(self, keep: bool) -> tuple[bytes, int]:
        """One logical response line (literals skipped, not kept); returns (first segment, octets)."""
        first, octets = b"", 0
        start = True
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            while end < 0:
                await self._fill()
                end = self.buf.find(b"\r\n", self.pos)
            segment = bytes(self.buf[self.pos : end]) if (start or keep) else b""
            if start:
                first, start = segment, False
            literal = 0
            if self.buf[end - 1 : end] == b"}":
                opening = self.buf.rfind(b"{", self.pos, end)
                if opening >= 0:
                    try:
                        literal = int(self.buf[opening + 1 : end - 1].rstrip(b"+"))
                    except ValueError:
                        literal = 0
            octets += end + 2 - self.pos
            self.pos = end + 2
            if not literal:
                return first, octets
            while len(self.buf) - self.pos < literal:
                await self._fill()
            self.pos += literal
            octets += literal

    async def command(self, text: str, untagged: list[bytes] | None = None) -> tuple[int, int]:
        """Send one command, read to its completion; returns (untagged lines, octets received)."""
        self.counter += 1
        tag = b"A%d" % self.counter
        self.writer.write(tag + b" " + text.encode() + b"\r\n")
        return await self.finish(tag, untagged)

    async def finish(self, tag: bytes, untagged: list[bytes] | None = None) -> tuple[int, int]:
        count = octets = 0
        prefix = tag + b" "
        while True:
            first, size = await self.line(keep=False)
            octets += size
            if first.startswith(prefix):
                if first[len(prefix) : len(prefix) + 2] != b"OK":
                    raise ServerError(first.decode(errors="replace"))
                return count, octets
            if first.startswith(b"* "):
                count += 1
                if untagged is not None:
                    untagged.append(first)
            elif first.startswith(b"* BYE"):
                raise ServerError(first.decode(errors="replace"))

    async def idle(self) -> None:
        self.counter += 1
        tag = b"A%d" % self.counter
        self.writer.write(tag + b" IDLE\r\n")
        while True:
            first, _ = await self.line(keep=False)
            if first.startswith(b"+"):
                break
            if first.startswith(tag + b" "):
                raise ServerError(first.decode(errors="replace"))
        self.writer.write(b"DONE\r\n")
        await self.finish(tag)


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    sessions: int = 0
    started_sessions: int = 0
    octets: int = 0

    def record(self, op: str, seconds: float) -> None:
        self.latencies.setdefault(op, []).append(seconds)

    def error(self, op: str, exc: BaseException) -> None:
        self.errors[op] = self.errors.get(op, 0) + 1
        if len(self.messages) < 20:
            self.messages.append(f"{op}: {type(exc).__name__}: {exc}")


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Session:
    def __init__(self, args: argparse.Namespace, stats: Stats, user: str, rng: random.Random) -> None:
        self.args, self.stats, self.user, self.rng = args, stats, user, rng
        self.op = "connect"

    async def timed(self, op: str, step: Awaitable[T]) -> T:
        self.op = op
        started = time.perf_counter()
        async with asyncio.timeout(self.args.op_timeout):
            result = await step
        self.stats.record(op, time.perf_counter() - started)
        return result

    async def run(self, context: ssl.SSLContext, search_kind: int) -> None:
        args = self.args
        writer = None
        try:
            client = await self.timed("connect", self._connect(context))
            writer = client.writer
            await self.timed("login", client.command(f"LOGIN {quote(self.user)} {quote(args.password)}"))
            if args.profile == "login":
                await self._poll(client)
                return
            untagged: list[bytes] = []
            await self.timed("select", client.command("SELECT INBOX", untagged))
            exists = next((int(x.split()[1]) for x in untagged if x.endswith(b" EXISTS")), 0)
            if exists == 0:
                raise ServerError("INBOX is empty")
            count, octets = await self.timed(
                "fetch_all", client.command("FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE BODYSTRUCTURE)"))
            if count < exists:
                raise ServerError(f"FETCH 1:* returned {count} of {exists} messages")
            self.stats.octets += octets
            picked = sorted(self.rng.sample(range(1, exists + 1), min(args.bodies, exists)))
            for seq in picked:
                _, octets = await self.timed("fetch_body", client.command(f"FETCH {seq} BODY[]"))
                self.stats.octets += octets
            await self.timed("store", client.command(f"STORE {picked[0]} +FLAGS (\\Flagged)"))
            query = (
                f"SUBJECT {self.rng.choice(WORDS)}",
                f"FROM {self.rng.choice(SENDERS)}@",
                "UNSEEN",
            )[search_kind % 3]
            await self.timed("search", client.command(f"SEARCH {query}"))
            seqs = ",".join(str(s) for s in picked)
            await self.timed("store", client.command(f"STORE {seqs} -FLAGS (\\Seen \\Flagged)"))
            await self.timed("idle", client.idle())
            await self.timed("logout", client.command("LOGOUT"))
            self.stats.sessions += 1
        except (OSError, ServerError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
            self.stats.error(self.op, exc)
        finally:
            if writer is not None:
                writer.close()

    async def _poll(self, client: IMAPClient) -> None:
        await self.timed("select", client.command("SELECT INBOX"))
        await self.timed("fetch_flags", client.command("UID FETCH 1:* (FLAGS)"))
        await self.timed("logout", client.command("LOGOUT"))
        self.stats.sessions += 1

    async def _connect(self, context: ssl.SSLContext) -> IMAPClient:
        reader, writer = await asyncio.open_connection(self.args.host, self.args.port, ssl=context, limit=READ)
        client = IMAPClient(reader, writer)
        try:
            first, _ = await client.line(keep=False)
        except BaseException:
            writer.close()
            raise
        if not first.startswith(b"* OK"):
            writer.close()
            raise ServerError(first.decode(errors="replace"))
        return client


def context_for(args: argparse.Namespace) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=args.cafile)
    if args.insecure or not args.cafile:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    else:
        context.check_hostname = False  # self-signed certificates name the server, not 127.0.0.1
    return context


async def load(args: argparse.Namespace) -> tuple[Stats, float]:
    stats = Stats()
    context = context_for(args)
    deadline = time.monotonic() + args.duration
    started = time.perf_counter()

    async def client(k: int) -> None:
        rng = random.Random(args.seed * 1000 + k)
        user = args.user_template.format(n=(k - 1) % args.users + 1)
        round_ = 0
        while stats.started_sessions < args.sessions and time.monotonic() < deadline:
            stats.started_sessions += 1
            await Session(args, stats, user, rng).run(context, k + round_)
            round_ += 1

    await asyncio.gather(*(client(k) for k in range(1, args.clients + 1)))
    return stats, time.perf_counter() - started


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def server_cpu(pid: int | None) -> float:
    """CPU seconds of the server's process tree so far (0 without a pid)."""
    if pid is None:
        return 0.0
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import proctree

    return proctree.tree_cpu_seconds([pid])


def report(args: argparse.Namespace, stats: Stats, elapsed: float, measured: dict[str, float]) -> dict:
    ops = sum(len(v) for v in stats.latencies.values())
    errors = sum(stats.errors.values())
    result = {
        "label": args.label, "profile": args.profile, "server": args.server, "round": args.round, **measured,
        "server_cpu_ms_per_op": round(measured["server_cpu_s"] * 1000 / max(1, ops), 3),
        "clients": args.clients, "users": args.users, "elapsed_s": round(elapsed, 3),
        "sessions": stats.sessions, "sessions_per_s": round(stats.sessions / elapsed, 2),
        "ops": ops, "ops_per_s": round(ops / elapsed, 1), "errors": errors,
        "mb_received": round(stats.octets / 1e6, 1), "ops_detail": {},
    }
    print(f"{args.label}: {args.clients} clients, {args.users} users, {elapsed:.1f} s")
    print(f"{'op':<11}{'count':>8}{'errors':>8}{'p50 ms':>10}{'p99 ms':>10}")
    for op in ("connect", "login", "select", "fetch_all", "fetch_flags", "fetch_body", "store", "search", "idle",
               "logout"):
        values = sorted(stats.latencies.get(op, []))
        if not values and op not in stats.errors:
            continue
        p50 = percentile(values, 0.50) * 1000 if values else float("nan")
        p99 = percentile(values, 0.99) * 1000 if values else float("nan")
        print(f"{op:<11}{len(values):>8}{stats.errors.get(op, 0):>8}{p50:>10.1f}{p99:>10.1f}")
        result["ops_detail"][op] = {"count": len(values), "errors": stats.errors.get(op, 0),
                                    "p50_ms": round(p50, 2), "p99_ms": round(p99, 2)}
    print(f"total: {ops} ops ({ops / elapsed:.0f} ops/s), {stats.sessions} sessions "
          f"({stats.sessions / elapsed:.1f}/s), {errors} errors, {stats.octets / 1e6:.0f} MB received, "
          f"server CPU {result['server_cpu_ms_per_op']} ms per op, load {measured['loadavg_1m']}")
    for message in stats.messages[:10]:
        print("error:", message, file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("corpus", help="write the reproducible test mailbox as a Maildir")
    make.add_argument("directory")
    make.add_argument("--messages", type=int, default=2000)
    make.add_argument("--seed", type=int, default=1)
    run = commands.add_parser("run", help="run the load against a server (implicit TLS)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=993)
    run.add_argument("--cafile", help="trust this certificate; without it the certificate is not checked")
    run.add_argument("--insecure", action="store_true")
    run.add_argument("--users", type=int, default=10)
    run.add_argument("--user-template", default="bench{n}@bench.test")
    run.add_argument("--password", default="bench-password")
    run.add_argument("--clients", type=int, default=10)
    run.add_argument("--sessions", type=int, default=200, help="stop after this many sessions in total")
    run.add_argument("--duration", type=float, default=60.0, help="... or after this many seconds")
    run.add_argument("--bodies", type=int, default=5, help="FETCH BODY[] of this many messages per session")
    run.add_argument("--profile", choices=("session", "login"), default="session",
                     help="session: a desktop client's visit (above); login: a poll (LOGIN, SELECT, FETCH FLAGS)")
    run.add_argument("--op-timeout", type=float, default=60.0)
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("--label", default="imap")
    run.add_argument("--server", default="", help="which server this is, recorded in the result")
    run.add_argument("--round", type=int, default=0, help="which round this is, recorded in the result")
    run.add_argument("--server-pid", type=int, help="measure this process tree's CPU around the run")
    run.add_argument("--json-out", help="append the result as one JSON line to this file")
    args = parser.parse_args()
    if args.command == "corpus":
        corpus(args)
        return
    load_at_start, cpu_before = os.getloadavg()[0], server_cpu(args.server_pid)
    stats, elapsed = asyncio.run(load(args))
    measured = {"server_cpu_s": round(server_cpu(args.server_pid) - cpu_before, 3),
                "loadavg_1m_start": round(load_at_start, 2), "loadavg_1m": round(os.getloadavg()[0], 2)}
    result = report(args, stats, elapsed, measured)
    if args.json_out:
        with open(args.json_out, "a") as out:
            out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
