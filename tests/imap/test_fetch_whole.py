"""FETCH of a whole message (BODY[], BODY.PEEK[], RFC822, with or without <partial>) sends the stored
bytes without decoding the message's structure: decoding it was most of a FETCH BODY[]'s own work."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarbox.imap import fetch
from pillarbox.imap.parser.fetch_att import FetchAtt, Section
from pillarbox.imap.selected import SelectedMailbox
from pillarbox.imap.snapshot import ViewEntry
from pillarbox.mime.model import ParsedMessage
from pillarbox.store.records import DeliveryTarget
from pillarbox.store.sqlite.store import SQLiteStore
from tests.store.conftest import message

OPTIONS = fetch.FetchOptions(uid=False, utf8=False, condstore=False)
WHOLE = [FetchAtt("BODY", Section()), FetchAtt("BODY", Section(), peek=True), FetchAtt("RFC822"),
         FetchAtt("BODY", Section(), partial=(3, 10))]


def test_fetching_whole_messages_decodes_no_structure(with_store, monkeypatch: pytest.MonkeyPatch):
    async def body(store: SQLiteStore) -> None:
        await store.add_domain("example.com")
        account = await store.add_account("bob@example.com", "hash", None)
        inbox = await store.get_mailbox(account.id, "INBOX")
        assert inbox is not None
        raws = [message(f"m{n}", body=f"line {n}\r\n" * n) for n in range(1, 4)]
        await asyncio.gather(*(store.deliver(raw, [DeliveryTarget(inbox.id)]) for raw in raws))
        view = SelectedMailbox(await store.list_columns(inbox.id), read_only=False)
        stored = {uid: await store.read_message(view.entry(uid).message_id) for uid in view.uids}
        decoded = []
        original = ParsedMessage.from_json
        monkeypatch.setattr(ParsedMessage, "from_json", staticmethod(lambda text: decoded.append(1) or original(text)))
        cache = fetch.StructureCache()
        fetched = await fetch.fetch_responses(store, view, list(view.uids), WHOLE, OPTIONS, cache, set())
        assert decoded == []
        for seq, uid in enumerate(view.uids, 1):
            raw = stored[uid]
            literal = b"{%d}\r\n%s" % (len(raw), raw)
            items = b"BODY[] %s BODY[] %s RFC822 %s BODY[]<3> {10}\r\n%s" % (literal, literal, literal, raw[3:13])
            assert fetched.lines[seq - 1] == b"* %d FETCH (%s)\r\n" % (seq, items)
        await fetch.fetch_responses(store, view, list(view.uids), [FetchAtt("BODY", Section(text="TEXT"))], OPTIONS,
                                    fetch.StructureCache(), set())
        assert len(decoded) == len(view.uids)  # a part of the message still needs its structure

    with_store(body)


@given(raw=st.binary(max_size=300), partial=st.none() | st.tuples(st.integers(0, 400), st.integers(0, 400)))
def test_a_whole_message_is_its_stored_bytes_sliced_and_without_nul(raw: bytes, partial: tuple[int, int] | None):
    """RFC 9051 6.4.5: BODY[]<start.length> is the octets from ``start``, at most ``length`` of them; an
    nstring cannot hold NUL (``_nstring_literal``). The structure here is not even valid: it is never read."""
    cached = fetch.CachedMessage(fetch.StructureCache(), (1, 1), "not a structure", "blob")
    entry = ViewEntry(1, 1, frozenset(), 1, len(raw), 0, 0)
    item = FetchAtt("BODY", Section(), partial=partial)
    sent = raw if partial is None else raw[partial[0] : partial[0] + partial[1]]
    sent = sent.replace(b"\x00", b"\x80")
    assert fetch._value(item, entry, cached, raw, OPTIONS) == b"{%d}\r\n%s" % (len(sent), sent)
