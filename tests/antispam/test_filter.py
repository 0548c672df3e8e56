"""The content filter's order of judgement per recipient, against the real store."""

from __future__ import annotations

from pathlib import Path

import pytest

from pillarbox.antispam.filter import ContentFilter, Message
from pillarbox.antispam.verdict import SpamVerdict
from pillarbox.config import AntispamConfig
from pillarbox.mime.header_view import HeaderView
from tests import stores

RAW = b"From: Friend <friend@pals.test>\r\nSubject: hi\r\n\r\nHello there.\r\n"


def judge(tmp_path: Path, store_url: str | None, run, rules: dict[str, str], unauthenticated: bool = False,
          scanned: SpamVerdict | None = None) -> SpamVerdict | None:
    async def body() -> SpamVerdict | None:
        store = await stores.open_store(tmp_path / "data", store_url)
        try:
            await store.add_domain("example.com")
            bob = await store.add_account("bob@example.com", "x", None)
            for pattern, action in rules.items():
                await store.add_sender_rule(bob.id, pattern, action)
            message = Message(RAW, HeaderView.parse(RAW), "bounce@lists.pals.test", unauthenticated)
            return await ContentFilter(store, AntispamConfig()).judge(bob, message, scanned)
        finally:
            await store.close()

    return run(body())


@pytest.mark.parametrize("backend", stores.BACKENDS)
def test_an_allowed_sender_is_kept_out_of_junk_even_when_rspamd_says_junk(tmp_path: Path, store_url, run):
    rspamd_junk = SpamVerdict("junk", 9.0, 6.0, "rspamd", ("SOMETHING",))
    verdict = judge(tmp_path, store_url, run, {"friend@pals.test": "allow"}, scanned=rspamd_junk)
    assert verdict is not None and (verdict.action, verdict.source, verdict.reasons) == (
        "ham", "allowlist", ("ALLOWLIST(friend@pals.test)",))


@pytest.mark.parametrize("backend", stores.BACKENDS)
def test_an_allow_entry_does_not_vouch_for_mail_that_failed_authentication(tmp_path: Path, store_url, run):
    assert judge(tmp_path, store_url, run, {"friend@pals.test": "allow"}, unauthenticated=True) is None


@pytest.mark.parametrize("backend", stores.BACKENDS)
def test_a_block_entry_matches_the_envelope_sender_too_and_always_junks(tmp_path: Path, store_url, run):
    verdict = judge(tmp_path, store_url, run, {"lists.pals.test": "block"}, unauthenticated=True)
    assert verdict is not None and (verdict.action, verdict.source) == ("junk", "blocklist")
    assert verdict.header_fields("mx.test").startswith(b"X-Spam-Flag: YES\r\n")
