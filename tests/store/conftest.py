"""Tests of the SQLite backend alone (its writer, blob files, wake-ups, crashes); what every backend
must do is in ``tests/store_contract``."""

from __future__ import annotations

import pytest


@pytest.fixture
def backend() -> str:
    return "sqlite"


def message(subject: str = "hello", body: str = "Hi there.\r\n", sender: str = "alice@example.org") -> bytes:
    return (
        f"From: Alice <{sender}>\r\nTo: bob@example.com\r\nSubject: {subject}\r\n"
        f"Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject.replace(' ', '.')}@example.org>\r\n"
        f"\r\n{body}"
    ).encode()
