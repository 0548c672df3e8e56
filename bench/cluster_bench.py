#!/usr/bin/env python3
"""SMTP in on several nodes: SQLite on one node against PostgreSQL with 1, 2 or 3 nodes.

Each node is a real ``pillarbox serve`` (its own data_dir, SMTP on 127.0.0.{2,3,4}), all with the same
``[store] url``; a throwaway local PostgreSQL (``tests/pg_cluster.py``, fsync on: durable, as in
production). ``smtp_load.py`` sends ``--messages`` of ``--size`` bytes over ``--connections`` connections
spread evenly over the nodes. Reported per point: delivered messages (final 250), wall-clock msg/s, and
the CPU milliseconds per message of Pillarbox (every node process) and of PostgreSQL (the postmaster and
its backends) separately, read from /proc before and after (``proctree.py``). CPU per message does not
depend on what else the machine runs; msg/s does, so the 1-minute load average is recorded with it.

    .venv/bin/python bench/cluster_bench.py --backend postgres --nodes 3 [--messages 2000] [--json]
    .venv/bin/python bench/cluster_bench.py --backend sqlite

Bounded by count (and smtp_load's time limit); local addresses only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
import proctree  # noqa: E402

from tests import pg_cluster, stores  # noqa: E402
from tests.server_process import ServerProcess, init_store, pillarbox  # noqa: E402

USER = "bench@bench.test"


def node_config(root: Path, index: int, url: str | None) -> Path:
    directory = root / f"node{index}"
    directory.mkdir()
    store = f'\n[store]\nurl = "{url}"\n' if url else ""
    config = directory / "pillarbox.toml"
    config.write_text(f'hostname = "mx{index}.bench.test"\ndata_dir = "data"\n\n'
                      f'[listen]\nsmtp = ["127.0.0.{2 + index}:0"]\n\n'
                      f"[limits]\nmax_connections_per_ip = 500\n{store}")
    return config


def load(nodes: list[ServerProcess], connections: int, messages: int, size: int) -> list[dict[str, object]]:
    """smtp_load.py against every node at once, the connections and messages split evenly."""
    runs = []
    for n, node in enumerate(nodes):
        host, port = node.addresses["smtp"]
        share = connections // len(nodes) + (n < connections % len(nodes))
        runs.append(subprocess.Popen(
            [sys.executable, str(HERE / "smtp_load.py"), "--host", host, "--port", str(port), "--connections",
             str(share), "--messages", str(messages // len(nodes)), "--size", str(size), "--recipient", USER,
             "--json"], stdout=subprocess.PIPE))
    return [json.loads(run.communicate()[0]) for run in runs]


def postmaster_pid(cluster: pg_cluster.Cluster) -> int:
    return int((cluster.data / "postmaster.pid").read_text().split()[0])


def measure(args: argparse.Namespace, url: str | None, pg_roots: list[int]) -> dict[str, object]:
    root = Path(tempfile.mkdtemp(prefix="pillarbox-cluster-bench-"))
    configs = [node_config(root, i, url) for i in range(args.nodes)]
    if url is None:
        init_store(configs[0].parent / "data")  # PostgreSQL's is the database itself
    pillarbox(configs[0], "domain", "add", "bench.test")
    pillarbox(configs[0], "user", "add", USER, "--password-stdin", input=b"bench-password\n")
    nodes = [ServerProcess(config) for config in configs]
    try:
        for node in nodes:
            if "smtp" not in node.addresses:
                raise RuntimeError("a node did not start:\n" + node.log())
        load(nodes, args.connections, 20 * args.nodes, args.size)  # warm up: connections, caches, plans
        pids = [node.process.pid for node in nodes]
        before = (proctree.tree_cpu_seconds(pids), proctree.tree_cpu_seconds(pg_roots), time.perf_counter())
        results = load(nodes, args.connections, args.messages, args.size)
        after = (proctree.tree_cpu_seconds(pids), proctree.tree_cpu_seconds(pg_roots), time.perf_counter())
    finally:
        for node in nodes:
            node.stop()
    delivered = sum(int(r["delivered"]) for r in results)
    wall = after[2] - before[2]
    return {
        "backend": args.backend, "nodes": args.nodes, "connections": args.connections, "size": args.size,
        "delivered": delivered, "refused": sum(int(r["refused"]) for r in results),
        "msg_per_s": round(delivered / wall, 1),
        "pillarbox_cpu_ms_per_msg": round(1000 * (after[0] - before[0]) / max(delivered, 1), 3),
        "postgres_cpu_ms_per_msg": round(1000 * (after[1] - before[1]) / max(delivered, 1), 3),
        "load_1min": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--nodes", type=int, default=1, choices=(1, 2, 3))
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.backend == "sqlite":
        result = measure(args, None, [])
    else:
        with pg_cluster.running_cluster(durable=True) as cluster:
            stores.make_template(cluster.url())
            result = measure(args, stores.fresh_database(cluster.url()), [postmaster_pid(cluster)])
    print(json.dumps(result) if args.json else "  ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
