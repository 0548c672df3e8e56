"""Dovecot side of the IMAP search/sort/resync benchmark (bench/imap_search_bench.py).

Writes the same N generated messages (``generate`` from imap_search_bench.py, same seed, same order)
into a Maildir (one file per message in cur/, UIDs assigned 1..N in that order), runs Debian's Dovecot
as its own instance under BASE (own dovecot.conf, base_dir, state, log, passwd-file user "bob" with a
{PLAIN} password; IMAP on 127.0.0.1:PORT, ssl = no: loopback-only benchmarking), indexes the mailbox
(``doveadm index``, timed), then times over IMAP the same commands as imap_search_bench.py, best and
median of 3 (the first, cold run is in the median):

    SEARCH TEXT invoice / BODY budget / BODY zanzibar / BODY FACADE / SUBJECT weekly,
    SORT (DATE), SORT (SUBJECT), THREAD REFERENCES,
    QRESYNC SELECT after 1,000 flag changes + 100 expunges made by a second IMAP session
    (same rng(seed + 1) samples of UIDs as the Pillarbox side), plain SELECT.

Unlike the Pillarbox side (an in-memory IMAPSession), these times are seen by an imaplib client over
loopback TCP, so they include the network round trip and the client reading the response.

Two modes: ``off`` (Dovecot's default, no FTS: SEARCH BODY/TEXT read the messages) and ``on``
(mail_plugins = fts fts_xapian, Debian's dovecot-fts-xapian, indexed with doveadm fts rescan + index).

    apt-get install -y dovecot-imapd dovecot-fts-xapian          # once, as root
    /work/venv/bin/python bench/imap_search_dovecot.py --messages 10000 100000 --fts off on \\
        [--base /tmp/dovecot-search] [--port 11143] [--json results.jsonl] [--keep]

Needs root (Dovecot drops to nobody for the mail). Everything under BASE is removed afterwards
unless --keep. imap_search_bench.py imports pillarbox, hence the venv's python.
"""

from __future__ import annotations

import argparse
import imaplib
import json
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from imap_search_bench import generate  # noqa: E402

USER, PASSWORD = "bob", "bench-password"
COMMANDS = [  # the same names and command lines as imap_search_bench.py
    ("search_text_common", "SEARCH", "TEXT invoice"),
    ("search_body_common", "SEARCH", "BODY budget"),
    ("search_body_rare", "SEARCH", "BODY zanzibar"),
    ("search_body_accent", "SEARCH", "BODY FACADE"),
    ("search_subject", "SEARCH", "SUBJECT weekly"),
    ("sort_date", "SORT", "(DATE) UTF-8 ALL"),
    ("sort_subject", "SORT", "(SUBJECT) UTF-8 ALL"),
    ("thread_references", "THREAD", "REFERENCES UTF-8 ALL"),
]
imaplib._MAXLINE = 1 << 30  # SORT/THREAD of 100,000 messages is one line of about a megabyte

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:{base}/mail/%n
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {base}/passwd
  default_fields = uid=nobody gid=nogroup home={base}/home/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""
FTS_CONFIG = """\
mail_plugins = $mail_plugins fts fts_xapian
plugin {
  fts = xapian
  fts_xapian = partial=3 full=20 verbose=0
  fts_autoindex = yes
}
"""


def write_maildir(root: Path, count: int, seed: int) -> float:
    """The messages imap_search_bench.populate() appends, as cur/ files named in delivery order."""
    started = time.perf_counter()
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for n in range(count):
        data = generate(n, rng)
        (root / "cur" / f"{1790000000 + n}.M{n}P1.bench,S={len(data)},W={len(data)}:2,").write_bytes(data)
    return time.perf_counter() - started


class CountingIMAP4(imaplib.IMAP4):
    """imaplib.IMAP4 that counts the bytes it reads (the size of each response)."""

    received = 0

    def readline(self) -> bytes:
        line = super().readline()
        self.received += len(line)
        return line

    def read(self, size: int) -> bytes:
        data = super().read(size)
        self.received += len(data)
        return data


def command(imap: CountingIMAP4, name: str, args: str) -> tuple[float, int, list]:
    imap.untagged_responses.clear()
    imap.received = 0
    started = time.perf_counter()
    typ, data = imap._simple_command(name, args)
    elapsed = time.perf_counter() - started
    assert typ == "OK", (name, args, data)
    return elapsed, imap.received, imap.untagged_responses.get(name, [])


def timed(imap: CountingIMAP4, name: str, args: str, runs: int = 3) -> dict[str, object]:
    times, size, hits = [], 0, None
    for _ in range(runs):
        elapsed, size, data = command(imap, name, args)
        times.append(elapsed)
        if name == "SEARCH":
            hits = len(b" ".join(d for d in data if d).split())
    result: dict[str, object] = {"best_ms": round(min(times) * 1000, 1), "median_ms": round(statistics.median(times) * 1000, 1), "bytes": size}
    if hits is not None:
        result["hits"] = hits
    return result


class Dovecot:
    def __init__(self, base: Path, port: int, fts: bool) -> None:
        self.base, self.port, self.fts = base, port, fts
        self.conf = base / "dovecot.conf"

    def setup(self, maildir_template: Path) -> None:
        shutil.rmtree(self.base, ignore_errors=True)
        for sub in ("run", "state", "mail", "home/" + USER):
            (self.base / sub).mkdir(parents=True)
        self.base.chmod(0o755)
        text = CONFIG.format(base=self.base, port=self.port) + (FTS_CONFIG if self.fts else "")
        self.conf.write_text(text)
        (self.base / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        subprocess.run(["cp", "-a", str(maildir_template), str(self.base / "mail" / USER)], check=True)
        subprocess.run(["chown", "-R", "nobody:nogroup", str(self.base / "mail"), str(self.base / "home")], check=True)

    def start(self) -> None:
        subprocess.run(["dovecot", "-c", str(self.conf)], check=True)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not start; see {self.base}/dovecot.log")

    def doveadm(self, *args: str) -> float:
        started = time.perf_counter()
        subprocess.run(["doveadm", "-c", str(self.conf), *args], check=True)
        return time.perf_counter() - started

    def stop(self) -> None:
        pidfile = self.base / "run" / "master.pid"
        if pidfile.exists():
            subprocess.run(["doveadm", "-c", str(self.conf), "stop"], check=False)
            for _ in range(100):
                if not pidfile.exists():
                    return
                time.sleep(0.1)
            raise RuntimeError(f"dovecot under {self.base} did not stop")

    def index(self) -> dict[str, float]:
        timings = {}
        if self.fts:
            timings["fts_rescan_s"] = round(self.doveadm("fts", "rescan", "-u", USER), 1)
        timings["index_s"] = round(self.doveadm("index", "-u", USER, "INBOX"), 1)
        return timings

    def connect(self) -> CountingIMAP4:
        imap = CountingIMAP4("127.0.0.1", self.port)
        imap.login(USER, PASSWORD)
        return imap


def change_flags_and_expunge(dovecot: Dovecot, seed: int) -> None:
    """Another session: 10 x 100 flag changes and 100 expunges, sampled as imap_search_bench.py does."""
    imap = dovecot.connect()
    imap.select("INBOX")
    typ, data = imap.uid("SEARCH", "ALL")
    uids = [int(u) for u in data[0].split()]
    rng = random.Random(seed + 1)
    for chunk in range(10):
        sample = ",".join(map(str, rng.sample(uids, 100)))
        assert imap.uid("STORE", sample, "+FLAGS.SILENT", f"($bench{chunk})")[0] == "OK"
    sample = ",".join(map(str, rng.sample(uids, 100)))
    assert imap.uid("STORE", sample, "+FLAGS.SILENT", r"(\Deleted)")[0] == "OK"
    assert imap.uid("EXPUNGE", sample)[0] == "OK"  # UIDPLUS: only these
    imap.logout()


def bench(dovecot: Dovecot, count: int, seed: int) -> dict[str, object]:
    results: dict[str, object] = {"server": "dovecot", "fts": "xapian" if dovecot.fts else "off", "messages": count}
    dovecot.start()
    try:
        results.update(dovecot.index())
        imap = dovecot.connect()
        imap.enable("QRESYNC")
        imap.select("INBOX")
        uidvalidity = int(imap.untagged_responses["UIDVALIDITY"][-1])
        modseq = int(imap.untagged_responses["HIGHESTMODSEQ"][-1])
        for name, cmd, args in COMMANDS:
            results[name] = timed(imap, cmd, args)
        imap.unselect()
        change_flags_and_expunge(dovecot, seed)
        imap.state = "SELECTED"  # imaplib does not know SELECT's QRESYNC parameter; send it as is
        results["qresync_select"] = timed(imap, "SELECT", f"INBOX (QRESYNC ({uidvalidity} {modseq}))")
        results["plain_select"] = timed(imap, "SELECT", "INBOX")
        imap.logout()
    finally:
        dovecot.stop()
    log = (dovecot.base / "dovecot.log").read_text(errors="replace")
    results["log_errors"] = [line for line in log.splitlines() if "rror" in line or "atal" in line][:5]
    if dovecot.fts:
        indexes = list((dovecot.base).rglob("xapian-indexes"))
        results["xapian_index_mb"] = round(sum(f.stat().st_size for d in indexes for f in d.rglob("*") if f.is_file()) / 1e6, 1)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--fts", nargs="+", choices=["off", "on"], default=["off", "on"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--base", type=Path, default=Path("/tmp/dovecot-search-bench"))
    parser.add_argument("--port", type=int, default=11143)
    parser.add_argument("--json", type=Path, default=None, help="append one JSON line per run")
    parser.add_argument("--keep", action="store_true", help="keep BASE (Maildirs, indexes, logs)")
    args = parser.parse_args()
    args.base.mkdir(parents=True, exist_ok=True)
    try:
        for count in args.messages:
            template = args.base / f"maildir-{count}"
            shutil.rmtree(template, ignore_errors=True)
            write_s = write_maildir(template, count, args.seed)
            for mode in args.fts:
                dovecot = Dovecot(args.base / f"{mode}-{count}", args.port, fts=mode == "on")
                dovecot.setup(template)
                results = bench(dovecot, count, args.seed)
                results["write_maildir_s"] = round(write_s, 1)
                print(f"== {count} messages, FTS {results['fts']}: "
                      + ", ".join(f"{k} {v}" for k, v in results.items() if k.endswith("_s") or k.endswith("_mb")))
                for name, value in results.items():
                    if isinstance(value, dict):
                        extra = f"   hits {value['hits']}" if "hits" in value else ""
                        print(f"  {name:22s} best {value['best_ms']:8.1f} ms   median {value['median_ms']:8.1f} ms"
                              f"   response {value['bytes']} bytes{extra}")
                if results["log_errors"]:
                    print("  log:", *results["log_errors"], sep="\n    ")
                if args.json:
                    with args.json.open("a") as out:
                        out.write(json.dumps(results) + "\n")
                if not args.keep:
                    shutil.rmtree(dovecot.base, ignore_errors=True)
            if not args.keep:
                shutil.rmtree(template, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(args.base, ignore_errors=True)


if __name__ == "__main__":
    main()
