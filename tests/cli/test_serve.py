"""``pillarbox serve`` is wired to app.serve, and admin commands work while it runs on the same data."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest

from tests.cli.conftest import Pillarbox, json_of, message


def test_serve_with_a_bad_config_is_one_line(pb: Pillarbox) -> None:
    pb.config.write_text("[listen]\nsmtp = 25\n")
    assert "listen.smtp" in pb.fails("serve")


@pytest.mark.slow
def test_admin_commands_while_serve_runs(pb: Pillarbox) -> None:
    env = {**os.environ, "PILLARBOX_CHEAP_HASHES": "1"}
    env.pop("PILLARBOX_CONFIG", None)
    server = subprocess.Popen([sys.executable, "-m", "pillarbox", "--config", str(pb.config), "serve"],
                              stderr=subprocess.PIPE, env=env, cwd=pb.config.parent)
    try:
        _wait_for_ready(server)
        pb.ok("domain", "add", "example.com")
        pb.ok("user", "add", "bob@example.com", "--password-stdin", input="secret sauce\n")
        pb.ok("message", "add", "bob@example.com", input=message())
        assert len(json_of(pb.ok("message", "list", "bob@example.com", "--json"))) == 1
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=30)
    assert code == 0


def _wait_for_ready(server: subprocess.Popen[bytes]) -> None:
    assert server.stderr is not None
    deadline = time.monotonic() + 30
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([server.stderr], [], [], 0.5)
        if ready:
            line = server.stderr.readline()
            seen += line
            if b"ready" in line:
                return
            if not line:
                break
    pytest.fail(f"serve did not start: {seen.decode(errors='replace')}")
