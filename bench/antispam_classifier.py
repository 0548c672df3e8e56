"""The built-in classifier on the tests' generated corpus: precision, recall, and CPU per message.

    .venv/bin/python bench/antispam_classifier.py [--rounds 3] [--test 1000] [--out results.jsonl]

Each round trains a fresh account in a fresh SQLite store (as users' moves would) for each training
regime, then judges the same held-out messages (another seed) through the content filter exactly as
delivery does: features, the store reads, the classification. CPU is the process's (every thread)
for the judging only, per judged message; the filter's cost on a message for a user with no trained
classifier is one indexed read and is measured too (``untrained``). Prints one JSON object per
round and regime, then the median and range of the CPU over the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pillarbox.store.sqlite.store import SQLiteStore  # noqa: E402
from tests.antispam.corpus import corpus, evaluate  # noqa: E402

REGIMES = {"balanced": (500, 500), "spam_mostly": (5, 500), "ham_mostly": (500, 20), "spam_only": (0, 500),
           "untrained": (0, 0)}


async def one(regime: str, tests: int) -> dict[str, object]:
    hams, spams = REGIMES[regime]
    with tempfile.TemporaryDirectory() as directory:
        store = SQLiteStore.open(Path(directory))
        try:
            await store.add_domain("example.com")
            account = await store.add_account("bob@example.com", "x", None)
            result = await evaluate(store, account, list(corpus(1, hams, spams)), list(corpus(2, tests, tests)))
        finally:
            await store.close()
    return {"regime": regime, "train_ham": hams, "train_spam": spams, "test": 2 * tests,
            "precision": round(result.precision, 4), "recall": round(result.recall, 4),
            "false_positives": result.false_positives, "false_negatives": result.false_negatives,
            "cpu_ms_per_message": round(result.cpu_per_message * 1000, 3), "loadavg_1m": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--test", type=int, default=1000, help="spam and ham messages judged, each")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    points = []
    for _ in range(args.rounds):
        for regime in REGIMES:
            point = asyncio.run(one(regime, args.test))
            print(json.dumps(point), flush=True)
            points.append(point)
    if args.out:
        args.out.write_text("".join(json.dumps(p) + "\n" for p in points))
    for regime in REGIMES:
        cpu = [float(p["cpu_ms_per_message"]) for p in points if p["regime"] == regime]  # type: ignore[arg-type]
        print(f"{regime}: CPU per message {statistics.median(cpu):.3f} ms (range {min(cpu):.3f}-{max(cpu):.3f})")


if __name__ == "__main__":
    main()
