"""The verified-credentials cache across processes: a password changed by the admin CLI stops working
at once in every server process that had it cached (each on a port of its own here, like two nodes)."""

from __future__ import annotations

from pathlib import Path

from tests.auth.wire import imap_login
from tests.server_process import ServerProcess, pillarbox, write_config
from tests.smtp.conftest import NO_POLICY, PASSWORD, populate


def test_a_changed_password_stops_working_in_every_process_at_once(tmp_path: Path):
    first = write_config(tmp_path, ("imaps",), extra=NO_POLICY)
    second = tmp_path / "second.toml"
    second.write_text(first.read_text())  # same data_dir, another ephemeral port
    populate(tmp_path / "data")
    servers = [ServerProcess(first), ServerProcess(second, shares_data_dir=True)]
    try:
        ports = [server.port("imaps") for server in servers]
        for port in ports * 2:  # the second round is answered from each process's cache
            assert imap_login(port, "bob@example.com", PASSWORD).startswith("a OK")
        pillarbox(first, "user", "passwd", "bob@example.com", "--password-stdin", input=b"a new password\n")
        for port in ports:
            assert imap_login(port, "bob@example.com", PASSWORD).startswith("a NO [AUTHENTICATIONFAILED]")
            assert imap_login(port, "bob@example.com", "a new password").startswith("a OK")
    finally:
        for server in servers:
            server.kill()
