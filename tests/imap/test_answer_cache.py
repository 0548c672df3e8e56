"""The shared SORT/THREAD answer cache stays within its bound of messages, least recently used out."""

from __future__ import annotations

from pillarbox.imap.answer_cache import AnswerCache, uid_key


def test_answers_within_the_bound_least_recently_used_out() -> None:
    cache = AnswerCache(max_uids=10, min_messages=2)
    cache.put("a", "A", 4, 100)
    cache.put("b", "B", 4, 100)
    assert cache.get("a") == "A"  # now the most recently used
    cache.put("c", "C", 4, 100)  # 12 > 10: the least recently used, b, goes
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("A", None, "C")


def test_answers_over_small_mailboxes_or_holding_too_many_uids_are_not_kept() -> None:
    cache = AnswerCache(max_uids=10, min_messages=2)
    cache.put("small mailbox", "S", 1, 1)
    cache.put("too many UIDs", "B", 11, 100)
    assert cache.get("small mailbox") is None and cache.get("too many UIDs") is None


def test_uid_lists_make_distinct_keys() -> None:
    assert uid_key([1, 2, 3]) == uid_key([1, 2, 3]) != uid_key([1, 2, 4]) != uid_key([1, 2])
