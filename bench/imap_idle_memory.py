"""Memory per idle IMAP session: open N connections over implicit TLS, LOGIN, SELECT INBOX, IDLE, and
read the server's memory from /proc before and at checkpoints while they all sit in IDLE.

The server is every process under --server-pid (a Pillarbox process, or Dovecot's master with its
imap-login, imap, auth, config, anvil, log children). Two sums are reported:

- RSS: VmRSS summed over the processes (pages shared between Dovecot's processes count once per process);
- PSS: proportional set size from /proc/PID/smaps_rollup (a shared page is split among its sharers),
  the fair figure for a multi-process server. For one process RSS and PSS are nearly equal.

Bytes per idle session = (memory at checkpoint - memory before any session) / sessions open.

    python bench/imap_idle_memory.py --port 993 --server-pid PID --sessions 10000 --checkpoints 1000,5000

Connections are opened --concurrency at a time; --sources spreads them over several loopback source
addresses (127.0.0.x) if ephemeral ports run short. The process needs a file descriptor per
session (run it under ``ulimit -n`` of at least sessions + 100). The whole run is bounded by
--timeout; at the end every connection is closed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import ssl
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from imap_load import IMAPClient, ServerError, context_for, quote
from proctree import tree_pids


def memory(roots: list[int]) -> dict[str, int]:
    """{"rss", "pss", "processes"} in bytes over every process under ``roots``."""
    rss = pss = count = 0
    for pid in tree_pids(roots):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
            count += 1
        except OSError:
            continue
    return {"rss": rss, "pss": pss, "processes": count}


async def open_idle(args: argparse.Namespace, k: int, context: ssl.SSLContext) -> IMAPClient:
    source = args.sources[k % len(args.sources)]
    reader, writer = await asyncio.open_connection(
        args.host, args.port, ssl=context, local_addr=(source, 0) if source else None, limit=65536)
    client = IMAPClient(reader, writer)
    try:
        first, _ = await client.line(keep=False)
        if not first.startswith(b"* OK"):
            raise ServerError(first.decode(errors="replace"))
        user = args.user_template.format(n=k % args.users + 1)
        await client.command(f"LOGIN {quote(user)} {quote(args.password)}")
        await client.command(f"SELECT {args.mailbox}")
        client.counter += 1
        writer.write(b"A%d IDLE\r\n" % client.counter)
        while True:
            line, _ = await client.line(keep=False)
            if line.startswith(b"+"):
                return client
            if line.startswith(b"A"):
                raise ServerError(line.decode(errors="replace"))
    except BaseException:
        writer.close()
        raise


async def settle(roots: list[int], seconds: float) -> dict[str, int]:
    await asyncio.sleep(seconds)
    return memory(roots)


async def run(args: argparse.Namespace) -> dict:
    roots = [args.server_pid]
    context = context_for(args)
    baseline = memory(roots)
    print(f"before: RSS {baseline['rss'] / 2**20:.1f} MiB, PSS {baseline['pss'] / 2**20:.1f} MiB, "
          f"{baseline['processes']} processes", flush=True)
    clients: list[IMAPClient] = []
    errors: list[str] = []
    points = []
    gate = asyncio.Semaphore(args.concurrency)
    started = time.perf_counter()

    async def one(k: int) -> None:
        async with gate:
            try:
                clients.append(await asyncio.wait_for(open_idle(args, k, context), args.op_timeout))
            except (OSError, ServerError, TimeoutError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    opened = 0
    for checkpoint in args.checkpoints:
        await asyncio.gather(*(one(k) for k in range(opened, checkpoint)))
        opened = checkpoint
        now = await settle(roots, args.settle)
        n = len(clients)
        point = {
            "sessions": n, "errors": len(errors), "open_s": round(time.perf_counter() - started, 1),
            "rss": now["rss"], "pss": now["pss"], "processes": now["processes"],
            "rss_per_session": (now["rss"] - baseline["rss"]) // max(n, 1),
            "pss_per_session": (now["pss"] - baseline["pss"]) // max(n, 1),
        }
        points.append(point)
        print(f"{n:>6} idle sessions ({len(errors)} failed, {point['open_s']} s): "
              f"RSS {now['rss'] / 2**20:.1f} MiB ({point['rss_per_session'] / 1024:.1f} KiB/session), "
              f"PSS {now['pss'] / 2**20:.1f} MiB ({point['pss_per_session'] / 1024:.1f} KiB/session), "
              f"{now['processes']} processes", flush=True)
        if errors and len(errors) >= args.max_errors:
            break
    for message in sorted(set(errors))[:10]:
        print("error:", message, file=sys.stderr)
    for client in clients:
        client.writer.close()
    await asyncio.sleep(1)
    return {"label": args.label, "mailbox": args.mailbox, "baseline": baseline, "points": points}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=993)
    parser.add_argument("--cafile")
    parser.add_argument("--insecure", action="store_true")
    parser.add_argument("--server-pid", type=int, required=True, help="the server (tree root) to measure")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--user-template", default="bench{n}@bench.test")
    parser.add_argument("--password", default="bench-password")
    parser.add_argument("--mailbox", default="INBOX")
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--checkpoints", default="", help="also measure at these counts, e.g. 1000,5000")
    parser.add_argument("--concurrency", type=int, default=100, help="connections being opened at once")
    parser.add_argument("--sources", default="127.0.0.1", help="comma-separated local addresses to bind")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to wait before reading memory")
    parser.add_argument("--op-timeout", type=float, default=120.0)
    parser.add_argument("--timeout", type=float, default=900.0, help="bound on the whole run")
    parser.add_argument("--max-errors", type=int, default=100)
    parser.add_argument("--label", default="imap-idle")
    parser.add_argument("--json-out")
    args = parser.parse_args()
    args.sources = [s for s in args.sources.split(",") if s]
    args.checkpoints = sorted({int(c) for c in args.checkpoints.split(",") if c and int(c) < args.sessions}
                              | {args.sessions})
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.sessions + 100:
        print(f"warning: fd limit {hard} < sessions {args.sessions} + 100", file=sys.stderr)

    async def bounded() -> dict:
        async with asyncio.timeout(args.timeout):
            return await run(args)

    result = asyncio.run(bounded())
    if args.json_out:
        with open(args.json_out, "a") as out:
            out.write(json.dumps(result) + "\n")
    os._exit(0)  # do not wait for thousands of TLS close_notify exchanges


if __name__ == "__main__":
    main()
