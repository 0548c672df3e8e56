"""Every transcript in transcripts/ against one running server (format: raw.py)."""

from __future__ import annotations

import pytest

from tests.imap_wire.conftest import IMAPServer
from tests.imap_wire.raw import TRANSCRIPTS, RawIMAP, run_transcript

NAMES = sorted(path.stem for path in TRANSCRIPTS.glob("*.txt"))


@pytest.mark.parametrize("name", NAMES)
def test_transcript(server: IMAPServer, name: str):
    text = (TRANSCRIPTS / f"{name}.txt").read_text(encoding="utf-8")
    run_transcript(lambda user: RawIMAP(server.imaps, server.tls_context(), user), text)
