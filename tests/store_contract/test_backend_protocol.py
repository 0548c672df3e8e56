"""Every backend offers all of ``store.api.Backend``: a method added to the protocol (and to SQLite) by a
merge must get its PostgreSQL side too, or a node fails at the first call (as /metrics did without
``queue_summary``)."""

from __future__ import annotations

import pytest

from pillarbox.store import api
from pillarbox.store.postgres.store import PostgresStore
from pillarbox.store.records import OutboundRecipient, OutboundRequest, QueueSummary
from pillarbox.store.sqlite.store import SQLiteStore
from tests.store.conftest import message


def _protocol_methods() -> set[str]:
    names: set[str] = set()
    for cls in api.Backend.__mro__:
        if cls.__module__ == api.__name__:
            names |= {name for name, value in vars(cls).items() if not name.startswith("_") and callable(value)}
    return names


@pytest.mark.parametrize("store_class", [SQLiteStore, PostgresStore])
def test_every_backend_has_every_method_of_the_protocol(store_class: type) -> None:
    assert sorted(name for name in _protocol_methods() if not hasattr(store_class, name)) == []


def test_queue_summary_counts_recipients_by_state_and_held_entries_apart(with_store):
    async def body(store) -> None:  # type: ignore[no-untyped-def]
        assert await store.queue_summary() == QueueSummary(0, {}, None)
        await store.add_domain("example.com")
        await store.add_account("bob@example.com", "hash", None)
        held = OutboundRequest("bob@example.com", (OutboundRecipient("a@remote.test"), OutboundRecipient("b@x.test")))
        await store.deliver_and_queue(message("one"), [], held)
        await store.deliver_and_queue(message("two"), [], OutboundRequest("bob@example.com",
                                                                          (OutboundRecipient("c@remote.test"),)))
        await store.hold_queue_entry(held.queue_id, True)
        summary = await store.queue_summary()
        assert (summary.entries, summary.states) == (2, {"held": 2, "pending": 1})
        assert summary.oldest == min(entry.created for entry in await store.list_queue())

    with_store(body)
