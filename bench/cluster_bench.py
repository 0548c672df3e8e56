#!/usr/bin/env python3
"""SMTP in on several nodes: SQLite on one node against PostgreSQL with 1, 2 or 3 nodes.

Each node is a real ``pillarbox serve`` (its own data_dir, SMTP on 127.0.0.{2,3,4}), all with the same
``[store] url``; a throwaway local PostgreSQL (``tests/pg_cluster.py``, fsync on: durable, as in
production). ``smtp_load.py`` sends ``--messages`` of ``--size`` bytes over ``--connections`` connections
spread evenly over the nodes. Reported per point: delivered messages (final 250), wall-clock msg/s, and
the CPU milliseconds per message of Pillarbox (every node process) and of PostgreSQL (the postmaster and
its backends) separately, read from /proc before and after (``proctree.py``). CPU per message does not
depend on what else the machine runs; msg/s does, so the 1-minute load average is recorded with it.

``--workload imap``: ``imap_load.py``'s client session loop over implicit TLS instead, ``--clients``
clients spread evenly over the nodes for ``--duration`` seconds, ten users with ``--corpus`` messages
each (imported through the first node's store); reported: commands/s, p50 latency per command, and the
CPU per command of Pillarbox and of PostgreSQL.

    .venv/bin/python bench/cluster_bench.py --backend postgres --nodes 3 [--messages 2000] [--json]
    .venv/bin/python bench/cluster_bench.py --backend sqlite
    .venv/bin/python bench/cluster_bench.py --workload imap --backend postgres --nodes 2 --clients 10

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
IMAP_USERS = 10
PASSWORD = "bench-password"


def node_config(root: Path, index: int, url: str | None, workers: int) -> Path:
    directory = root / f"node{index}"
    directory.mkdir()
    store = f'\n[store]\nurl = "{url}"\n' if url else ""
    config = directory / "pillarbox.toml"
    address = f"127.0.0.{2 + index}"
    config.write_text(f'hostname = "mx{index}.bench.test"\ndata_dir = "data"\nworkers = {workers}\n\n'
                      f'[listen]\nsmtp = ["{address}:0"]\nimaps = ["{address}:0"]\n\n'
                      f"[limits]\nmax_connections_per_ip = 500\n{store}")
    return config


def share(total: int, parts: int, n: int) -> int:
    return total // parts + (n < total % parts)


def load(nodes: list[ServerProcess], connections: int, messages: int, size: int) -> list[dict[str, object]]:
    """smtp_load.py against every node at once, the connections and messages split evenly."""
    runs = []
    for n, node in enumerate(nodes):
        host, port = node.addresses["smtp"]
        runs.append(subprocess.Popen(
            [sys.executable, str(HERE / "smtp_load.py"), "--host", host, "--port", str(port), "--connections",
             str(share(connections, len(nodes), n)), "--messages", str(messages // len(nodes)), "--size",
             str(size), "--recipient", USER, "--json"], stdout=subprocess.PIPE))
    return [json.loads(run.communicate()[0]) for run in runs]


def imap_load(nodes: list[ServerProcess], clients: int, duration: float, out: Path) -> list[dict[str, object]]:
    """imap_load.py's session loop against every node at once, the clients split evenly."""
    runs = []
    for n, node in enumerate(nodes):
        host, port = node.addresses["imaps"]
        runs.append(subprocess.Popen(
            [sys.executable, str(HERE / "imap_load.py"), "run", "--host", host, "--port", str(port), "--insecure",
             "--clients", str(share(clients, len(nodes), n)), "--users", str(IMAP_USERS), "--sessions", "1000000",
             "--duration", str(duration), "--seed", str(n + 1), "--json-out", str(out / f"imap{n}.json")],
            stdout=subprocess.DEVNULL))
    for run in runs:
        run.wait()
    return [json.loads((out / f"imap{n}.json").read_text().splitlines()[-1]) for n in range(len(nodes))]


def postmaster_pid(cluster: pg_cluster.Cluster) -> int:
    return int((cluster.data / "postmaster.pid").read_text().split()[0])


def populate(args: argparse.Namespace, root: Path, config: Path) -> None:
    pillarbox(config, "domain", "add", "bench.test")
    pillarbox(config, "user", "add", USER, "--password-stdin", input=f"{PASSWORD}\n".encode())
    if args.workload != "imap":
        return
    corpus = root / "corpus"
    subprocess.run([sys.executable, str(HERE / "imap_load.py"), "corpus", str(corpus), "--messages",
                    str(args.corpus), "--seed", "1"], check=True, stdout=subprocess.DEVNULL)
    for n in range(1, IMAP_USERS + 1):
        pillarbox(config, "user", "add", f"bench{n}@bench.test", "--password-stdin", input=f"{PASSWORD}\n".encode())
        pillarbox(config, "import", f"bench{n}@bench.test", str(corpus))


def measure(args: argparse.Namespace, url: str | None, pg_roots: list[int]) -> dict[str, object]:
    root = Path(tempfile.mkdtemp(prefix="pillarbox-cluster-bench-"))
    configs = [node_config(root, i, url, args.workers) for i in range(args.nodes)]
    if url is None:
        init_store(configs[0].parent / "data")  # PostgreSQL's is the database itself
    populate(args, root, configs[0])
    nodes = [ServerProcess(config) for config in configs]
    try:
        for node in nodes:
            if "smtp" not in node.addresses:
                raise RuntimeError("a node did not start:\n" + node.log())
        if args.workload == "imap":
            return measure_imap(args, nodes, pg_roots, root)
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
        "workers": args.workers, "delivered": delivered, "refused": sum(int(r["refused"]) for r in results),
        "msg_per_s": round(delivered / wall, 1),
        "pillarbox_cpu_ms_per_msg": round(1000 * (after[0] - before[0]) / max(delivered, 1), 3),
        "postgres_cpu_ms_per_msg": round(1000 * (after[1] - before[1]) / max(delivered, 1), 3),
        "load_1min": os.getloadavg()[0],
    }


def measure_imap(args: argparse.Namespace, nodes: list[ServerProcess], pg_roots: list[int],
                 root: Path) -> dict[str, object]:
    imap_load(nodes, len(nodes) * 2, 5, root)  # warm up: TLS, caches, plans
    pids = [node.process.pid for node in nodes]
    before = (proctree.tree_cpu_seconds(pids), proctree.tree_cpu_seconds(pg_roots), time.perf_counter())
    results = imap_load(nodes, args.clients, args.duration, root)
    after = (proctree.tree_cpu_seconds(pids), proctree.tree_cpu_seconds(pg_roots), time.perf_counter())
    ops = sum(int(r["ops"]) for r in results)  # type: ignore[call-overload]
    p50 = {op: max(r["ops_detail"][op]["p50_ms"] for r in results if op in r["ops_detail"])  # type: ignore[index]
           for op in results[0]["ops_detail"]}  # type: ignore[union-attr]
    return {
        "workload": "imap", "backend": args.backend, "nodes": args.nodes, "clients": args.clients,
        "workers": args.workers, "commands": ops, "errors": sum(int(r["errors"]) for r in results),  # type: ignore[call-overload]
        "commands_per_s": round(ops / (after[2] - before[2]), 1),
        "pillarbox_cpu_ms_per_command": round(1000 * (after[0] - before[0]) / max(ops, 1), 3),
        "postgres_cpu_ms_per_command": round(1000 * (after[1] - before[1]) / max(ops, 1), 3),
        "p50_ms_worst_node": p50, "load_1min": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--nodes", type=int, default=1, choices=(1, 2, 3))
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--workers", type=int, default=1, help="processes per node ([server] workers)")
    parser.add_argument("--workload", choices=("smtp", "imap"), default="smtp")
    parser.add_argument("--clients", type=int, default=10, help="imap: clients over all nodes")
    parser.add_argument("--duration", type=float, default=30.0, help="imap: seconds of load")
    parser.add_argument("--corpus", type=int, default=500, help="imap: messages in each user's INBOX")
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
