"""read_by_uids: the bytes of several mailbox members in one read, leaving out what is gone."""

from __future__ import annotations

from pillarbox.store.api import Store
from pillarbox.store.records import DeliveryTarget
from tests.store.conftest import message

LARGE_BODY = ("z" * 76 + "\r\n") * 2000  # 156 KB: kept in a blob file, not in the row


def test_bytes_of_present_uids_from_rows_and_files(with_store):
    async def body(store: Store) -> None:
        await store.add_domain("example.com")
        account = await store.add_account("bob@example.com", "hash", None)
        inbox = await store.get_mailbox(account.id, "INBOX")
        assert inbox is not None
        raws = [message("one"), message("two", body=LARGE_BODY), message("three")]
        for raw in raws:
            await store.deliver(raw, [DeliveryTarget(inbox.id)])
        await store.expunge(inbox.id, [3])
        assert await store.read_by_uids(inbox.id, [1, 2, 3, 99]) == {1: raws[0], 2: raws[1]}
        assert await store.read_by_uids(inbox.id, []) == {}
        assert await store.read_by_uids(inbox.id + 1, [1]) == {}  # another mailbox's UIDs are its own

    with_store(body)
