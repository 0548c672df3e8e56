#!/usr/bin/env python3
"""The comparison table from the raw points of ``bench/compare.sh`` (JSON lines, any number of rounds).

For every row: each server's median over the rounds with the range (min–max) in brackets, the ratio
of the medians, the server CPU per unit of work (SMTP: per delivered message, the indexing it caused
included; IMAP: per command) and the 1-minute load average seen at the start and the end of the
points. Then, for IMAP at the first client count, the p50 latency of every command.

    python bench/table.py bench/results-2026-12-07.jsonl [--markdown]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable

PILLARBOX, SMTP_PEER, IMAP_PEER = "pillarbox", "postfix-dovecot", "dovecot"
COMMANDS = ("connect", "login", "select", "fetch_all", "fetch_body", "store", "search", "idle", "logout")


def spread(values: Iterable[float], digits: int = 0) -> str:
    """'median (min–max)' of the values, or '—' when there are none."""
    ordered = sorted(values)
    if not ordered:
        return "—"
    fmt = f"{{:,.{digits}f}}"
    middle = fmt.format(statistics.median(ordered))
    if len(ordered) == 1:
        return middle
    return f"{middle} ({fmt.format(ordered[0])}–{fmt.format(ordered[-1])})"


def ratio(ours: list[float], theirs: list[float]) -> str:
    if not ours or not theirs:
        return "—"
    return f"{statistics.median(ours) / statistics.median(theirs):.2f}×"


def loads(points: list[dict]) -> str:
    seen = [p.get(key) for p in points for key in ("loadavg_1m_start", "loadavg_1m") if p.get(key) is not None]
    return f"{min(seen):.1f}–{max(seen):.1f}" if seen else "—"


def smtp_rows(points: list[dict]) -> list[list[str]]:
    by_row: dict[tuple[int, int, int], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for p in points:
        if p.get("server") in (PILLARBOX, SMTP_PEER) and "delivered_per_second" in p:
            by_row[(p["size"], p["connections"], p.get("per_connection", 0))][p["server"]].append(p)
    rows = []
    for (size, connections, per_connection), servers in sorted(by_row.items()):
        ours, theirs = servers.get(PILLARBOX, []), servers.get(SMTP_PEER, [])
        rate = [p["delivered_per_second"] for p in ours], [p["delivered_per_second"] for p in theirs]
        kind = "one message per connection" if per_connection == 1 else f"{per_connection or 'all'} per connection"
        rows.append([
            f"SMTP {size // 1024} KB, {kind}, {connections} conn. (delivered msg/s)",
            spread(rate[1]), spread(rate[0]), ratio(*rate),
            spread((p["server_cpu_ms_per_message"] for p in theirs), 2),
            spread((p["server_cpu_ms_per_message"] for p in ours), 2),
            f"{len(ours)}/{len(theirs)}", loads(ours + theirs),
        ])
    return rows


def imap_points(points: list[dict]) -> dict[int, dict[str, list[dict]]]:
    by_clients: dict[int, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for p in points:
        if p.get("server") in (PILLARBOX, IMAP_PEER) and "ops_per_s" in p:
            by_clients[p["clients"]][p["server"]].append(p)
    return by_clients


def imap_rows(by_clients: dict[int, dict[str, list[dict]]]) -> list[list[str]]:
    rows = []
    for clients, servers in sorted(by_clients.items()):
        ours, theirs = servers.get(PILLARBOX, []), servers.get(IMAP_PEER, [])
        rate = [p["ops_per_s"] for p in ours], [p["ops_per_s"] for p in theirs]
        rows.append([
            f"IMAP session loop, TLS, {clients} clients (commands/s)",
            spread(rate[1]), spread(rate[0]), ratio(*rate),
            spread((p.get("server_cpu_ms_per_op", 0) for p in theirs), 2),
            spread((p.get("server_cpu_ms_per_op", 0) for p in ours), 2),
            f"{len(ours)}/{len(theirs)}", loads(ours + theirs),
        ])
    return rows


def latency_rows(servers: dict[str, list[dict]]) -> list[list[str]]:
    rows = []
    for command in COMMANDS:
        p50 = [[p["ops_detail"][command]["p50_ms"] for p in servers.get(name, []) if command in p["ops_detail"]]
               for name in (IMAP_PEER, PILLARBOX)]
        if any(p50):
            rows.append([command, spread(p50[0], 1), spread(p50[1], 1), ratio(p50[1], p50[0])])
    return rows


def render(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
                     for row in [header, *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", help="JSON-lines files of points")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    points = [json.loads(line) for path in args.results for line in open(path) if line.strip()]
    header = ["workload", "peer", "Pillarbox", "ratio", "peer CPU ms", "Pillarbox CPU ms", "rounds", "load avg"]
    by_clients = imap_points(points)
    print(render(header, imap_rows(by_clients) + smtp_rows(points), args.markdown))
    if by_clients:
        clients = min(by_clients)
        print(f"\nIMAP p50 latency per command, {clients} clients (ms; median of the rounds, range):\n")
        print(render(["command", "Dovecot", "Pillarbox", "Pillarbox ÷ Dovecot"],
                     latency_rows(by_clients[clients]), args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
