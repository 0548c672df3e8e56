"""Shared test set-up: cheap password hashes (the real cost is for attackers, not for tests)."""

from __future__ import annotations

import os

os.environ.setdefault("PILLARBOX_CHEAP_HASHES", "1")
