"""The contract suite: every test here runs on every store backend (SQLite and PostgreSQL).

A behaviour one backend alone has (blob files, the SQLite writer's batches) is checked in
``tests/store`` instead; what nodes sharing one PostgreSQL need is in ``test_nodes.py``.
"""

from __future__ import annotations

import pytest

from tests.stores import BACKENDS


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
