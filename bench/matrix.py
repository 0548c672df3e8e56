#!/usr/bin/env python3
"""Run SMTP load points against a server that is already running, and measure the server.

For each (size, connections) point: the server tree's CPU (``proctree``), the number of messages
really stored (a count that must rise by the number of 250 replies; for a queueing MTA we wait until
the last one has reached the mailbox, and the rate counts that wait), the background work the point
caused (``--index-db``: Pillarbox's search indexer works after the 250; the point ends, and its CPU is
read, once the indexer has caught up), the machine's load average at the start and the end, and,
when the server runs under ``strace -f -o FILE -e trace=fsync,fdatasync,syncfs``, the fsync-family
calls it made.

    python bench/matrix.py --port 2525 --recipient bench@bench.test --roots PID \
        --count sqlite:DATA/pillarbox.sqlite3 --index-db DATA/pillarbox.sqlite3 \
        --points 4096x1,4096x10,4096x50,102400x10 --per-connection 1 [--strace-log FILE] [--json-out FILE]

``--count`` is ``sqlite:DB`` (rows of Pillarbox's mailbox_messages) or ``maildir:DIR`` (files in
DIR/new and DIR/cur). ``--points`` lists SIZExCONNECTIONS; without it, every size of --sizes with
every count of --connections. ``--tool smtp-source`` drives Postfix's smtp-source instead of smtp_load.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import proctree  # noqa: E402
import smtp_load  # noqa: E402

FSYNC_RE = re.compile(rb"^\d+\s+(?:\d+:\d+:\d+\.\d+\s+)?(fsync|fdatasync|syncfs)\(")


def stored_count(spec: str) -> int:
    kind, _, where = spec.partition(":")
    if kind == "sqlite":
        with sqlite3.connect(f"file:{where}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute("SELECT count(*) FROM mailbox_messages").fetchone()[0]
    if kind == "maildir":
        total = 0
        for sub in ("new", "cur"):
            try:
                total += sum(1 for e in os.scandir(Path(where) / sub) if e.is_file())
            except FileNotFoundError:
                pass
        return total
    raise SystemExit(f"--count: unknown kind {kind!r}")


def fsync_counts(logs: list[Path] | None) -> dict[str, int]:
    counts = {"fsync": 0, "fdatasync": 0, "syncfs": 0}
    for log in logs or ():
        if not log.exists():
            continue
        with open(log, "rb") as f:
            for line in f:
                found = FSYNC_RE.match(line)
                if found:
                    counts[found.group(1).decode()] += 1
    return counts


def settle_strace(log: list[Path] | None) -> dict[str, int]:
    """strace writes as calls return; read until two readings agree."""
    last = fsync_counts(log)
    while log is not None:
        time.sleep(0.5)
        now = fsync_counts(log)
        if now == last:
            break
        last = now
    return last


def unindexed(db: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM unindexed").fetchone()[0]


def wait_for_index(db: str | None, timeout: float) -> float:
    """Seconds until Pillarbox's search indexer has indexed everything (0 without ``db``)."""
    if db is None:
        return 0.0
    started = time.monotonic()
    while unindexed(db) and time.monotonic() - started < timeout:
        time.sleep(0.1)
    return time.monotonic() - started


def run_load(args: argparse.Namespace, connections: int, size: int, messages: int) -> dict:
    if args.tool == "smtp-source":
        started = time.perf_counter()
        proc = subprocess.run(
            ["smtp-source", "-d", "-s", str(connections), "-m", str(messages), "-l", str(size),
             "-f", args.sender, "-t", args.recipient, f"{args.host}:{args.port}"],
            capture_output=True, timeout=args.time_limit + 60,
        )
        elapsed = time.perf_counter() - started
        return {"connections": connections, "size": size, "requested": messages, "sent": messages,
                "delivered": messages if proc.returncode == 0 else 0, "seconds": round(elapsed, 3),
                "messages_per_second": round(messages / elapsed, 1), "mode": "smtp-source -d",
                "stderr": proc.stderr.decode(errors="replace")[-300:]}
    load_args = argparse.Namespace(
        host=args.host, port=args.port, connections=connections, messages=messages, size=size,
        sender=args.sender, recipient=args.recipient, bdat=args.bdat, time_limit=args.time_limit,
        reply_timeout=60.0, json=True, per_connection=args.per_connection,
    )
    return asyncio.run(smtp_load.run(load_args))


def measure_point(args: argparse.Namespace, connections: int, size: int, messages: int) -> dict:
    strace_log = [Path(p) for p in args.strace_log.split(",")] if args.strace_log else None
    stored_before = stored_count(args.count)
    syncs_before = settle_strace(strace_log)
    load_at_start = os.getloadavg()[0]
    cpu_before = proctree.tree_cpu_seconds(args.roots)
    started = time.perf_counter()
    result = run_load(args, connections, size, messages)
    # a queueing MTA says 250 before the mailbox has the message: wait for the mailbox
    deadline = time.monotonic() + args.drain_timeout
    while stored_count(args.count) - stored_before < result["delivered"] and time.monotonic() < deadline:
        time.sleep(0.02)
    delivered_at = time.perf_counter()
    delivery_cpu = proctree.tree_cpu_seconds(args.roots) - cpu_before
    load_at_end = os.getloadavg()[0]
    index_seconds = wait_for_index(args.index_db, args.drain_timeout)
    cpu = proctree.tree_cpu_seconds(args.roots) - cpu_before
    stored = stored_count(args.count) - stored_before
    syncs_after = settle_strace(strace_log)
    syncs = {k: syncs_after[k] - syncs_before[k] for k in syncs_after}
    elapsed = delivered_at - started
    result.update({
        "label": args.label, "server": args.server, "round": args.round, "stored": stored,
        "loadavg_1m": round(load_at_end, 2), "loadavg_1m_start": round(load_at_start, 2),
        "delivered_per_second": round(min(stored, result["delivered"]) / elapsed, 1),
        "seconds_to_mailbox": round(elapsed, 3),
        "server_cpu_s": round(cpu, 3),
        # everything the point cost the server, the background work it caused (indexing) included
        "server_cpu_ms_per_message": round(cpu * 1000 / max(1, stored), 2),
        "delivery_cpu_ms_per_message": round(delivery_cpu * 1000 / max(1, stored), 2),
        "index_catch_up_seconds": round(index_seconds, 2),
        "server_cpu_utilisation": round(delivery_cpu / elapsed, 2),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - elapsed)),
    })
    if strace_log is not None:
        total = sum(syncs.values())
        result.update({"fsync_calls": syncs, "fsyncs_per_message": round(total / max(1, stored), 3)})
    return result


def points(args: argparse.Namespace) -> list[tuple[int, int]]:
    """(size, connections) of every point, in order."""
    if args.points:
        return [(int(size), int(conns)) for size, _, conns in (p.partition("x") for p in args.points.split(","))]
    return [(int(size), int(conns)) for size in args.sizes.split(",") for conns in args.connections.split(",")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", default="server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sender", default="load@client.invalid")
    parser.add_argument("--recipient", required=True)
    parser.add_argument("--roots", type=int, nargs="+", required=True, help="pids whose process trees are the server")
    parser.add_argument("--count", required=True, help="sqlite:DB or maildir:DIR")
    parser.add_argument("--server", default="", help="which server this is, recorded in every point")
    parser.add_argument("--round", type=int, default=0, help="which round this is, recorded in every point")
    parser.add_argument("--points", help="SIZExCONNECTIONS,... (instead of every --sizes x --connections)")
    parser.add_argument("--per-connection", type=int, default=0, help="messages per connection (0: no limit)")
    parser.add_argument("--index-db", help="Pillarbox's database: a point ends when its indexer has caught up")
    parser.add_argument("--connections", default="1,10,50")
    parser.add_argument("--sizes", default="4096,102400")
    parser.add_argument("--messages", default="4096=2000,102400=500", help="messages per point, by size")
    parser.add_argument("--tool", choices=("smtp_load", "smtp-source"), default="smtp_load")
    parser.add_argument("--bdat", action="store_true")
    parser.add_argument("--strace-log", help="strace -o file(s) of the server, comma-separated")
    parser.add_argument("--time-limit", type=float, default=900.0)
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--json-out", help="append one JSON line per point to this file")
    args = parser.parse_args()
    per_size = dict(item.split("=") for item in args.messages.split(","))
    for size, connections in points(args):
        messages = int(per_size.get(str(size), 1000))
        point = measure_point(args, connections, size, messages)
        line = json.dumps(point)
        print(line, flush=True)
        if args.json_out:
            with open(args.json_out, "a") as f:
                f.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
