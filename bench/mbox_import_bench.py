#!/usr/bin/env python3
"""mbox import rate: ``pillarbox import`` against Dovecot's ``doveadm import``, on the same mbox.

The mbox holds N messages from ``imap_search_bench.generate`` (fixed seed). Pillarbox imports it into
a fresh data directory (parsed, full-text indexed and committed, as at delivery); Dovecot copies it
from an ``mbox:`` location into an empty Maildir INBOX of its own instance (``imap_search_dovecot.Dovecot``)
and then indexes it (``doveadm index``), which is what makes its messages searchable and fast to select.
Wall-clock seconds of each command. Needs root (Dovecot) and the venv's python:

    /work/venv/bin/python bench/mbox_import_bench.py --messages 10000 [--base /tmp/mbox-import-bench]
"""

from __future__ import annotations

import argparse
import mailbox
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from imap_search_bench import generate  # noqa: E402
from imap_search_dovecot import USER, Dovecot  # noqa: E402


def write_mbox(path: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    box = mailbox.mbox(str(path), create=True)
    box.lock()
    try:
        for n in range(count):
            box.add(generate(n, rng))
    finally:
        box.flush()
        box.unlock()


def pillarbox_import(base: Path, mbox: Path) -> float:
    config = base / "pillarbox.toml"
    config.write_text(f'hostname = "mx.bench.test"\ndata_dir = "{base / "pillarbox-data"}"\n')
    env = {**os.environ, "PILLARBOX_CHEAP_HASHES": "1"}
    run = [sys.executable, "-m", "pillarbox", "--config", str(config)]
    subprocess.run([*run, "domain", "add", "bench.test"], check=True, env=env, capture_output=True)
    subprocess.run([*run, "user", "add", "bob@bench.test", "--password-stdin"], input=b"pw-for-bench\n",
                   check=True, env=env, capture_output=True)
    started = time.perf_counter()
    subprocess.run([*run, "import", "bob@bench.test", str(mbox)], check=True, env=env, capture_output=True)
    return time.perf_counter() - started


def dovecot_import(base: Path, mbox: Path) -> tuple[float, float]:
    empty = base / "empty-maildir"
    for sub in ("cur", "new", "tmp"):
        (empty / sub).mkdir(parents=True, exist_ok=True)
    dovecot = Dovecot(base / "dovecot", port=11144, fts=False)
    dovecot.setup(empty)
    dovecot.start()  # doveadm asks the running auth service for the user
    source = base / "mbox-root"
    source.mkdir(exist_ok=True)
    shutil.copy(mbox, source / "inbox")
    subprocess.run(["chown", "-R", "nobody:nogroup", str(source)], check=True)
    try:
        copied = dovecot.doveadm("import", "-u", USER, f"mbox:{source}:INBOX={source / 'inbox'}", "", "all")
        indexed = dovecot.doveadm("index", "-u", USER, "INBOX")
    finally:
        dovecot.stop()
    return copied, indexed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--base", type=Path, default=Path("/tmp/mbox-import-bench"))
    args = parser.parse_args()
    shutil.rmtree(args.base, ignore_errors=True)
    args.base.mkdir(parents=True)
    args.base.chmod(0o755)
    mbox = args.base / "import.mbox"
    write_mbox(mbox, args.messages, args.seed)
    size_mb = mbox.stat().st_size / 1e6
    print(f"mbox: {args.messages} messages, {size_mb:.1f} MB")
    seconds = pillarbox_import(args.base, mbox)
    print(f"pillarbox import: {seconds:.1f} s ({args.messages / seconds:.0f} msg/s)")
    copied, indexed = dovecot_import(args.base, mbox)
    total = copied + indexed
    print(f"doveadm import: {copied:.1f} s, + doveadm index {indexed:.1f} s = {total:.1f} s "
          f"({args.messages / total:.0f} msg/s)")
    shutil.rmtree(args.base, ignore_errors=True)


if __name__ == "__main__":
    main()
