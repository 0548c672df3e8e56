"""Asserting that work grows linearly with its input, on a shared machine with noisy neighbours.

The measure is the CPU time of this thread (``time.thread_time``): other processes taking the CPU
do not count, as wall-clock time would. The best of several runs is kept, with the garbage
collector off, and the input is scaled by 8: linear work then costs about 8 times as much,
quadratic work 64 times. The bound allows 3 times the linear growth (caches and the allocator make
big inputs a little dearer per byte), and a failing measure is taken again with more runs before
the test fails, so that one unlucky pause cannot fail it. No absolute duration is ever asserted.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from hypothesis import strategies as st

T = TypeVar("T")

SCALE = 8
ALLOWED_GROWTH = 3 * SCALE
FLOOR = 0.0005
"""Seconds: a small run cheaper than this is counted as this much (below it, timer noise and
interpreter warm-up dominate, and the ratio means nothing)."""
ATTEMPTS = 3


def cpu_cost(work: Callable[[], object], runs: int) -> float:
    """The least CPU time (seconds, this thread) ``work`` took over ``runs`` runs."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        best = float("inf")
        for _ in range(runs):
            start = time.thread_time()
            work()
            best = min(best, time.thread_time() - start)
        return best
    finally:
        if enabled:
            gc.enable()


def growth(run: Callable[[T], object], small: T, large: T, runs: int = 3) -> float:
    """How many times more ``run(large)`` cost than ``run(small)``."""
    return cpu_cost(lambda: run(large), runs) / max(cpu_cost(lambda: run(small), runs), FLOOR)


def assert_linear(run: Callable[[T], object], make: Callable[[int], T], size: int) -> None:
    """``run(make(SCALE * size))`` costs at most ``ALLOWED_GROWTH`` times ``run(make(size))``."""
    small, large = make(size), make(SCALE * size)
    seen = []
    for attempt in range(ATTEMPTS):
        seen.append(growth(run, small, large, runs=3 + 2 * attempt))
        if seen[-1] <= ALLOWED_GROWTH:
            return
    raise AssertionError(f"cost grew {min(seen):.0f}x for {SCALE}x the input (allowed {ALLOWED_GROWTH}x)")


def repeated(prefixes: Sequence[bytes], units: Sequence[bytes], suffixes: Sequence[bytes]) -> st.SearchStrategy:
    """Shapes of input for ``assert_linear``: a maker of ``n`` bytes, a prefix (a context, such as a
    command's start) then a unit of 1 to 6 fragments repeated to fill ``n``, then a suffix."""

    def maker(prefix: bytes, unit: bytes, suffix: bytes) -> Callable[[int], bytes]:
        return lambda size: prefix + unit * max(1, size // len(unit)) + suffix

    unit = st.lists(st.sampled_from(units), min_size=1, max_size=6).map(b"".join)
    return st.builds(maker, st.sampled_from(prefixes), unit, st.sampled_from(suffixes))


PIECES = [(None, 32_000), (1460, 16_000), (7, 2000), (1, 1000)]
"""(bytes per packet, input size): how a fuzzer feeds a core. Many tiny packets cost a Python call
each, so they get smaller inputs; whole inputs get large ones, where slow quadratic work shows."""


def in_pieces(data: bytes, size: int | None) -> list[bytes]:
    """``data`` as one piece (``size`` None) or cut every ``size`` bytes, as a peer's packets."""
    if size is None:
        return [data]
    return [data[i : i + size] for i in range(0, len(data), size)]
