"""SCRAM-SHA-256 on a real server: unknown users look like real ones across restarts and workers, and
keys made with fewer iterations than configured are remade when their owner next logs in with a password."""

from __future__ import annotations

import base64
import re
from functools import partial
from pathlib import Path

from argon2 import extract_parameters

from pillarbox.auth.passwords import parse_scram
from tests.auth.wire import LineClient, imap_login, imap_scram, in_parallel, scram_exchange
from tests.server_process import ServerProcess, write_config
from tests.smtp.conftest import NO_POLICY, PASSWORD, populate
from tests.sqlite_files import sqlite_file

UNKNOWN = "nobody@example.com"


def stored(data_dir: Path, column: str, address: str = "bob@example.com") -> str:
    with sqlite_file(data_dir / "pillarbox.sqlite3") as db:
        return db.execute(f"SELECT {column} FROM accounts WHERE address = ?", (address,)).fetchone()[0]


def test_an_unknown_users_salt_is_the_same_after_a_restart_and_in_every_worker(tmp_path: Path):
    config = write_config(tmp_path, services=("imaps",), extra=NO_POLICY, workers=2)
    populate(tmp_path / "data")
    seen, logs = [], []
    for _ in range(2):  # a restart between the two
        process = ServerProcess(config)
        try:
            process.wait_for_log('msg="worker ready"')
            # six connections open at once: the least busy process accepts each, so both get three
            clients = [LineClient(process.port("imaps"), f"127.0.{n}.9") for n in range(6)]
            try:
                results = in_parallel([partial(scram_exchange, client, UNKNOWN, "guess") for client in clients])
            finally:
                for client in clients:
                    client.sock.close()
            for result in results:
                assert result.reply[-1].startswith("s NO [AUTHENTICATIONFAILED]")
                seen.append((result.server_first["s"], result.server_first["i"]))
            assert len(set(re.findall(r'proc=(\S+) msg="login failed"', process.log()))) == 2
            real = imap_scram(process.port("imaps"), "bob@example.com", PASSWORD)
            assert real.reply[-1].startswith("s OK")
        finally:
            assert process.stop() == 0
        logs.append(process.log())
    assert len(set(seen)) == 1
    assert seen[0][1] == real.server_first["i"]  # the iteration count real accounts have
    with sqlite_file(tmp_path / "data" / "pillarbox.sqlite3") as db:
        [secret] = db.execute("SELECT value FROM server_secrets").fetchone()
    assert not [log for log in logs if secret.hex() in log or base64.b64encode(secret).decode() in log]


def test_weaker_keys_are_remade_at_the_next_password_login(tmp_path: Path):
    """Accounts made with 4,096 iterations (and cheap argon2): after one LOGIN the server holds keys
    with the configured count and hashes with the configured argon2id parameters, and both work."""
    config = write_config(tmp_path, services=("imaps",), extra=NO_POLICY + (
        '[auth]\nscram_iterations = 20000\nargon2_memory = "256K"\nargon2_time_cost = 1\n'))
    populate(tmp_path / "data")  # PILLARBOX_CHEAP_HASHES=1 here: 4,096 iterations, argon2 with 8 KiB
    data = tmp_path / "data"
    process = ServerProcess(config, cheap_hashes=False)
    try:
        port = process.port("imaps")
        before = imap_scram(port, "bob@example.com", PASSWORD)
        assert before.server_first["i"] == "4096" and before.reply[-1].startswith("s OK")
        assert imap_login(port, "bob@example.com", PASSWORD).startswith("a OK")
        after = imap_scram(port, "bob@example.com", PASSWORD)
        assert after.server_first["i"] == "20000" and after.reply[-1].startswith("s OK")
        assert after.server_final is not None  # the server proved it holds the new keys
        scram = parse_scram(stored(data, "scram_sha256"))
        assert scram is not None and scram.iterations == 20000
        assert extract_parameters(stored(data, "password_hash")).memory_cost == 256
        assert imap_login(port, "bob@example.com", PASSWORD).startswith("a OK")
        assert imap_scram(port, UNKNOWN, "guess").server_first["i"] == "20000"  # unknown users look alike
        assert process.log().count('msg="password hashes upgraded"') == 1
    finally:
        assert process.stop() == 0
