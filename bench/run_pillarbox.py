#!/usr/bin/env python3
"""Benchmark Pillarbox's SMTP in: a fresh server on loopback, one domain, one user, the load points.

The server runs with the default configuration (``workers`` unset: one process per CPU) unless
--workers is given. Passes, each on a fresh data directory:

1. clean: messages/s, latency, server CPU per message (from /proc, all processes and threads), the
   search indexing that delivery leaves for later included (each point ends when the indexer has
   caught up: ``bench/matrix.py --index-db``), the load average at the start and end of each point;
2. strace: the same load with the server under ``strace -f --seccomp-bpf -e trace=fsync,fdatasync,syncfs``
   (only those calls stop the process), to count fsync-family calls per message.

After the pass, the stored messages are counted through ``pillarbox message list --json`` and compared
with the 250 replies. Run with the venv's Python:

    .venv/bin/python bench/run_pillarbox.py --points 4096x1,4096x10,4096x50,102400x10 --per-connection 1 \
        --messages 4096=20000,102400=20000 --round 1 --out results.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

DOMAIN, USER = "bench.test", "bench@bench.test"


def pillarbox_cmd() -> list[str]:
    return [sys.executable, "-m", "pillarbox"]


def env() -> dict[str, str]:
    return {**os.environ, "PILLARBOX_CHEAP_HASHES": "1"}


def prepare(workdir: Path, port: int, workers: int | None) -> Path:
    """The configuration: what the benchmark needs (a port, a data_dir, room for 50 connections from
    one IP: the default allows 20) and nothing else."""
    config = workdir / "pillarbox.toml"
    config.write_text(
        'hostname = "mx.bench.test"\n'
        f'data_dir = "{workdir / "data"}"\n'
        + (f"workers = {workers}\n" if workers is not None else "")
        + f'\n[listen]\nsmtp = ["127.0.0.1:{port}"]\n\n'
        "[limits]\nmax_connections_per_ip = 200\n"
    )
    run = [*pillarbox_cmd(), "--config", str(config)]
    subprocess.run([sys.executable, str(HERE / "init_store.py"), str(workdir / "data")], check=True, env=env())
    subprocess.run([*run, "domain", "add", DOMAIN], check=True, env=env(), capture_output=True)
    subprocess.run([*run, "user", "add", USER, "--password-stdin"], input=b"bench-password\n",
                   check=True, env=env(), capture_output=True)
    return config


def start(config: Path, log: Path, strace_log: Path | None, workers: int) -> subprocess.Popen:
    """Start the server and wait until every process accepts (the first point would else run on fewer);
    ``workers``: how many processes that is."""
    command = [*pillarbox_cmd(), "--config", str(config), "serve"]
    if strace_log is not None:
        command = ["strace", "-f", "--seccomp-bpf", "-qq", "-o", str(strace_log),
                   "-e", "trace=fsync,fdatasync,syncfs", *command]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=open(log, "wb"), env=env())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = log.read_bytes()
        if b'msg="ready"' in text and text.count(b'msg="worker ready"') >= workers - 1:
            return process
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise SystemExit("pillarbox did not start:\n" + log.read_text(errors="replace"))


def server_pid(process: subprocess.Popen, traced: bool) -> int:
    """The Python process itself (under strace it is strace's child)."""
    if not traced:
        return process.pid
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == process.pid:
                return int(entry)
    raise SystemExit("no traced server process found")


def listed(config: Path) -> int:
    out = subprocess.run([*pillarbox_cmd(), "--config", str(config), "message", "list", "--json", USER],
                         check=True, env=env(), capture_output=True).stdout
    return len(json.loads(out))


def one_pass(name: str, args: argparse.Namespace, root: Path) -> list[dict]:
    workdir = root / name
    workdir.mkdir()
    config = prepare(workdir, args.port, args.workers)
    strace_log = workdir / "strace.log" if name == "strace" else None
    processes = args.workers or (min(len(os.sched_getaffinity(0)), 8))  # workers.worker_count's default
    process = start(config, workdir / "server.log", strace_log, processes)
    out = workdir / "points.jsonl"
    try:
        db = workdir / "data" / "pillarbox.sqlite3"
        command = [sys.executable, str(HERE / "matrix.py"), "--label", f"pillarbox-{name}",
                   "--server", "pillarbox", "--round", str(args.round),
                   "--port", str(args.port), "--recipient", USER,
                   "--roots", str(server_pid(process, strace_log is not None)),
                   "--count", f"sqlite:{db}", "--index-db", str(db), "--per-connection", str(args.per_connection),
                   "--connections", args.connections, "--sizes", args.sizes, "--messages", args.messages,
                   "--json-out", str(out)]
        if args.points:
            command += ["--points", args.points]
        if strace_log is not None:
            command += ["--strace-log", str(strace_log)]
        if args.bdat:
            command.append("--bdat")
        subprocess.run(command, check=True, timeout=4 * 3600)
        points = [json.loads(line) for line in out.read_text().splitlines()]
        in_list, acked = listed(config), sum(p["delivered"] for p in points)
        print(f"# {name}: {acked} messages acknowledged with 250, {in_list} listed by "
              f"`pillarbox message list --json`", flush=True)
        for p in points:
            p["listed_total"], p["acked_total"], p["workers"] = in_list, acked, processes
    finally:
        # under strace, SIGTERM must reach the server itself: strace would only detach
        os.kill(server_pid(process, strace_log is not None), signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
    log = (workdir / "server.log").read_text(errors="replace")
    if "Traceback" in log:
        print(f"# {name}: the server log has a Traceback, see {workdir / 'server.log'}", flush=True)
    return points


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--workers", type=int, help="server processes (the config's workers; default: its default)")
    parser.add_argument("--passes", default="clean,strace")
    parser.add_argument("--points", help="SIZExCONNECTIONS,... (instead of every --sizes x --connections)")
    parser.add_argument("--per-connection", type=int, default=0, help="messages per connection (0: no limit)")
    parser.add_argument("--round", type=int, default=0, help="recorded in every point")
    parser.add_argument("--connections", default="1,10,50")
    parser.add_argument("--sizes", default="4096,102400")
    parser.add_argument("--messages", default="4096=2000,102400=500")
    parser.add_argument("--bdat", action="store_true", help="load with BDAT LAST instead of DATA")
    parser.add_argument("--workdir", help="keep data and logs here (default: a temporary directory, removed)")
    parser.add_argument("--out", help="append every point as a JSON line to this file")
    args = parser.parse_args()
    if "strace" in args.passes and shutil.which("strace") is None:
        raise SystemExit("strace is needed for the strace pass: apt-get install -y strace")
    root = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="pillarbox-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        for name in args.passes.split(","):
            for point in one_pass(name, args, root):
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(json.dumps(point) + "\n")
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
