"""Greylisting state shared by every process and node (``antispam/greylist.py``): triplets and the
client networks that passed often enough to be let through at once."""

from __future__ import annotations

from pillarbox.store.sqlite.writer import Txn


def attempt(txn: Txn, triplet: str, network: str, now: int, delay: int, retry_window: int,
             pass_count: int) -> str:
    """One delivery attempt of ``triplet`` from ``network`` (RFC 6647 2.1): ``client`` (the network is
    remembered), ``known`` (the triplet passed before), ``passed`` (retried after the delay, now),
    ``early`` (retried too soon) or ``new``."""
    conn = txn.conn
    row = conn.execute("SELECT passes FROM greylist_clients WHERE network = ?", (network,)).fetchone()
    if row is not None and row[0] >= pass_count:
        conn.execute("UPDATE greylist_clients SET last_seen = ? WHERE network = ?", (now, network))
        return "client"
    row = conn.execute("SELECT first_seen, passed FROM greylist WHERE triplet = ?", (triplet,)).fetchone()
    if row is None or (row[1] is None and now - row[0] > retry_window):
        conn.execute("INSERT OR REPLACE INTO greylist (triplet, first_seen, passed, last_seen) VALUES (?, ?, NULL, ?)",
                     (triplet, now, now))
        return "new"
    first_seen, passed = row
    if passed is None and now - first_seen < delay:
        conn.execute("UPDATE greylist SET last_seen = ? WHERE triplet = ?", (now, triplet))
        return "early"
    conn.execute("UPDATE greylist SET passed = coalesce(passed, ?), last_seen = ? WHERE triplet = ?",
                 (now, now, triplet))
    if passed is not None:
        return "known"
    conn.execute("INSERT INTO greylist_clients (network, passes, last_seen) VALUES (?, 1, ?)"
                 " ON CONFLICT DO UPDATE SET passes = passes + 1, last_seen = excluded.last_seen", (network, now))
    return "passed"


def expire(txn: Txn, now: int, retry_window: int, max_age: int) -> int:
    """Forget triplets never retried in time and anything not seen for ``max_age`` seconds."""
    conn = txn.conn
    gone = conn.execute("DELETE FROM greylist WHERE (passed IS NULL AND first_seen < ?) OR last_seen < ?",
                        (now - retry_window, now - max_age)).rowcount
    return gone + conn.execute("DELETE FROM greylist_clients WHERE last_seen < ?", (now - max_age,)).rowcount
