"""Shared helpers for the net tests: one self-signed certificate per session, an asyncio runner."""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from pillarbox.net.tls import TLSContextHolder, ensure_certificate

HOSTNAME = "mail.example.test"


@pytest.fixture(scope="session")
def cert_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return ensure_certificate(tmp_path_factory.mktemp("data"), HOSTNAME)


@pytest.fixture
def holder(cert_files: tuple[Path, Path]) -> TLSContextHolder:
    return TLSContextHolder(*cert_files)


@pytest.fixture
def client_ctx(cert_files: tuple[Path, Path]) -> ssl.SSLContext:
    """A verifying client that trusts only our certificate file, as mbsync or fetchmail would."""
    return ssl.create_default_context(cafile=str(cert_files[0]))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """PILLARBOX_TEST_LOOP=uvloop runs the same tests on uvloop, which production uses when installed."""
    if os.environ.get("PILLARBOX_TEST_LOOP") == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        return uvloop.new_event_loop
    return None


@pytest.fixture
def run() -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """Run a coroutine to completion with a hard deadline, so a hung test fails instead of hanging."""

    def runner(coro: Coroutine[Any, Any, Any], timeout: float = 15.0) -> Any:
        with asyncio.Runner(loop_factory=_loop_factory()) as loop_runner:
            return loop_runner.run(asyncio.wait_for(coro, timeout))

    return runner
