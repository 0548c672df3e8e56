"""The shared SORT/THREAD answer cache stays within its bound of messages, least recently used out."""

from __future__ import annotations

from pillarbox.imap.answer_cache import AnswerCache, uid_key


def test_answers_within_the_bound_least_recently_used_out() -> None:
    cache = AnswerCache(max_messages=10, min_messages=2)
    cache.put("a", 4, "A")
    cache.put("b", 4, "B")
    assert cache.get("a") == "A"  # now the most recently used
    cache.put("c", 4, "C")  # 12 > 10: the least recently used, b, goes
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("A", None, "C")


def test_too_small_or_too_big_answers_are_not_kept() -> None:
    cache = AnswerCache(max_messages=10, min_messages=2)
    cache.put("small", 1, "S")
    cache.put("big", 11, "B")
    assert cache.get("small") is None and cache.get("big") is None


def test_uid_lists_make_distinct_keys() -> None:
    assert uid_key([1, 2, 3]) == uid_key([1, 2, 3]) != uid_key([1, 2, 4]) != uid_key([1, 2])
