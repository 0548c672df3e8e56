"""Run the real ``pillarbox`` command as a subprocess against a temporary configuration and data_dir."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pillarbox.store.api import Store
from tests.server_process import init_store
from tests.stores import open_at, store_section

T = TypeVar("T")


@dataclass
class Result:
    code: int
    stdout: bytes
    stderr: str

    @property
    def out(self) -> str:
        return self.stdout.decode()


@dataclass
class Pillarbox:
    config: Path
    data_dir: Path

    def run(self, *args: str, input: bytes | str | None = None, config: bool = True,
            env: dict[str, str] | None = None, cwd: Path | None = None) -> Result:
        data = input.encode() if isinstance(input, str) else input
        environ = {k: v for k, v in os.environ.items() if k != "PILLARBOX_CONFIG"}
        environ.update(env or {}, PILLARBOX_CHEAP_HASHES="1")
        command = [sys.executable, "-m", "pillarbox", *(["--config", str(self.config)] if config else []), *args]
        done = subprocess.run(command, input=data if data is not None else b"", capture_output=True, env=environ,
                              cwd=cwd or self.config.parent, timeout=300)
        return Result(done.returncode, done.stdout, done.stderr.decode())

    def ok(self, *args: str, input: bytes | str | None = None) -> Result:
        result = self.run(*args, input=input)
        assert result.code == 0, result.stderr
        assert "Traceback" not in result.stderr
        return result

    def fails(self, *args: str, input: bytes | str | None = None, code: int = 1) -> str:
        """Run a command that must be refused: the given exit code and one clean error line."""
        result = self.run(*args, input=input)
        assert result.code == code, (result.code, result.stderr)
        assert "Traceback" not in result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("pillarbox: error: "), result.stderr
        return lines[0]

    def with_store(self, body: Callable[[Store], Awaitable[T]]) -> T:
        async def main() -> T:
            store = await open_at(self.data_dir)
            try:
                return await body(store)
            finally:
                await store.close()

        return asyncio.run(main())


@pytest.fixture
def pb(tmp_path: Path) -> Pillarbox:
    config = tmp_path / "pillarbox.toml"
    config.write_text('data_dir = "data"\nhostname = "mail.example.com"\nworkers = 1\n'
                      + store_section(tmp_path / "data") + '\n[listen]\n')
    init_store(tmp_path / "data")
    return Pillarbox(config, tmp_path / "data")


PASSWORD = "secret sauce"


@pytest.fixture
def bob(pb: Pillarbox) -> Pillarbox:
    """A server with example.com, bob@ and alice@ (bob, the first, reads postmaster@ and abuse@)."""
    pb.ok("domain", "add", "example.com")
    for user in ("bob@example.com", "alice@example.com"):
        pb.ok("user", "add", user, "--password-stdin", input=f"{PASSWORD}\n")
    return pb


def message(subject: str = "hello", body: str = "Hi there.\n", eol: str = "\n") -> bytes:
    text = (f"From: Alice <alice@example.org>\nTo: bob@example.com\nSubject: {subject}\n"
            f"Date: Fri, 27 Nov 2026 10:00:00 +0000\nMessage-ID: <{subject}@example.org>\n\n{body}")
    return text.replace("\n", eol).encode()


def json_of(result: Result) -> Any:
    import json

    return json.loads(result.stdout)
