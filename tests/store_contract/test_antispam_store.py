"""The store's antispam half (store/api.py ``AntispamStore``), written as a contract: it uses the API only,
so the PostgreSQL backend can run the same checks (tests/store_contract once both backends are there)."""

from __future__ import annotations

from pillarbox.store.records import DeliveryTarget, SpamMessageState


async def account(store, address: str = "bob@example.com"):
    if not await store.has_domain("example.com"):
        await store.add_domain("example.com")
    return await store.add_account(address, "x", None)


def test_training_is_idempotent_undoes_the_previous_class_and_stays_within_budget(with_store):
    async def body(store) -> None:
        bob = await account(store)
        assert await store.spam_train(bob.id, 1, [10, 11, 11, 12], "spam", 1000)
        assert not await store.spam_train(bob.id, 1, [10, 11, 12], "spam", 1000)  # a copy counts once
        counts = await store.spam_counts(bob.id, [10, 11, 99])
        assert (counts.spam_messages, counts.ham_messages, counts.tokens) == (1, 0, {10: (1, 0), 11: (1, 0)})
        assert await store.spam_train(bob.id, 1, [10, 11, 12], "ham", 1000)
        counts = await store.spam_counts(bob.id, [10, 12])
        assert (counts.spam_messages, counts.ham_messages, counts.tokens) == (0, 1, {10: (0, 1), 12: (0, 1)})
        assert await store.spam_train(bob.id, 1, [10, 11, 12], None, 1000)
        assert await store.spam_counts(bob.id, [10]) == (await store.spam_counts(bob.id, []))
        await store.spam_train(bob.id, 2, list(range(1000, 2200)), "spam", 1000)
        kept = await store.spam_counts(bob.id, list(range(1000, 2200)))
        assert len(kept.tokens) <= 1000
        other = await account(store, "carol@example.com")
        assert (await store.spam_counts(other.id, [1000])).spam_messages == 0  # per user

    with_store(body)


def test_the_filter_marks_what_it_filed_and_the_ledger_goes_with_the_account(with_store):
    async def body(store) -> None:
        bob = await account(store)
        junk = await store.get_mailbox(bob.id, "Junk")
        results = await store.deliver(b"From: x@y.test\r\n\r\nhi\r\n", [DeliveryTarget(junk.id)])
        await store.spam_mark_filed(junk.id, [results[0].uid])
        message_id = (await store.list_messages(junk.id))[0].message_id
        assert await store.spam_states(bob.id, [message_id, 999]) == {message_id: SpamMessageState("spam", None)}
        await store.spam_train(bob.id, message_id, [1, 2], "ham", 1000)
        assert await store.spam_states(bob.id, [message_id]) == {message_id: SpamMessageState("spam", "ham")}
        await store.delete_account("bob@example.com")
        assert await store.spam_forget_gone() >= 0
        again = await account(store)
        assert (await store.spam_counts(again.id, [1])).ham_messages == 0

    with_store(body)


def test_job_cursor_and_changed_mailboxes(with_store):
    async def body(store) -> None:
        bob = await account(store)
        start = await store.job_cursor("spam_learned")
        await store.set_job_cursor("spam_learned", start)
        inbox = await store.get_mailbox(bob.id, "INBOX")
        newest, _ = await store.mailboxes_changed_since(start)
        await store.deliver(b"Subject: x\r\n\r\nhi\r\n", [DeliveryTarget(inbox.id)])
        after, changed = await store.mailboxes_changed_since(newest)
        assert after > newest and [m.id for m in changed] == [inbox.id]
        await store.set_job_cursor("spam_learned", after)
        assert await store.job_cursor("spam_learned") == after

    with_store(body)


def test_sender_rules_a_users_entry_outranks_a_remembered_correspondent(with_store):
    async def body(store) -> None:
        bob = await account(store)
        await store.add_sender_rule(bob.id, "spam.example", "block")
        await store.remember_correspondents(bob.id, ["spam.example", "friend@ok.example"], keep=10)
        assert await store.sender_rules(bob.id, ["spam.example", "friend@ok.example", "nobody.example"]) == {
            "spam.example": "block", "friend@ok.example": "allow"}
        await store.remember_correspondents(bob.id, [f"c{n}@ok.example" for n in range(5)], keep=3)
        remembered = [r for r in await store.list_sender_rules(bob.id) if r.source == "sent"]
        assert len(remembered) == 3
        await store.add_sender_rule(bob.id, "c4@ok.example", "block")  # the user's word replaces it
        assert await store.sender_rules(bob.id, ["c4@ok.example"]) == {"c4@ok.example": "block"}
        await store.delete_sender_rule(bob.id, "spam.example")
        assert await store.sender_rules(bob.id, ["spam.example"]) == {}

    with_store(body)


def test_greylisting_state_is_atomic_per_attempt(with_store):
    async def body(store) -> None:
        assert await store.greylist("t1", "n1", 100, 60, 1000, 2) == "new"
        assert await store.greylist("t1", "n1", 120, 60, 1000, 2) == "early"
        assert await store.greylist("t1", "n1", 160, 60, 1000, 2) == "passed"
        assert await store.greylist("t1", "n1", 170, 60, 1000, 2) == "known"
        assert await store.greylist("t2", "n1", 200, 60, 1000, 2) == "new"
        assert await store.greylist("t2", "n1", 260, 60, 1000, 2) == "passed"
        assert await store.greylist("t3", "n1", 261, 60, 1000, 2) == "client"
        assert await store.expire_greylist(10_000, 1000, 5000) == 3  # two triplets, one network

    with_store(body)


def test_sending_counts_and_policies(with_store):
    async def body(store) -> None:
        bob = await account(store)
        await store.record_sending(bob.id, "message", 3, 1000)
        await store.record_sending(bob.id, "message", 2, 2000)
        await store.record_sending(bob.id, "bounce", 4, 2000)
        assert await store.sending_totals(bob.id, 1500) == {"message": (1, 2), "bounce": (1, 4)}
        assert await store.sending_totals(bob.id, 0) == {"message": (2, 5), "bounce": (1, 4)}
        await store.set_sending_limits(bob.id, 10, None)
        await store.set_sending_held(bob.id, "too many bounces")
        policy = await store.sending_policy(bob.id)
        assert (policy.messages_per_hour, policy.recipients_per_hour, policy.held_reason) == (10, None,
                                                                                               "too many bounces")
        await store.set_sending_held(bob.id, None)
        assert (await store.sending_policy(bob.id)).held_at is None

    with_store(body)
