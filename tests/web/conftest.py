"""Helpers for the web tests: run a coroutine with a deadline, serve an app, send raw requests."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any

import pytest


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """PILLARBOX_TEST_LOOP=uvloop runs the same tests on uvloop, which production uses when installed."""
    if os.environ.get("PILLARBOX_TEST_LOOP") == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        return uvloop.new_event_loop
    return None


@pytest.fixture
def run() -> Callable[[Coroutine[Any, Any, Any]], Any]:
    def runner(coro: Coroutine[Any, Any, Any], timeout: float = 15.0) -> Any:
        with asyncio.Runner(loop_factory=_loop_factory()) as loop_runner:
            return loop_runner.run(asyncio.wait_for(coro, timeout))

    return runner
