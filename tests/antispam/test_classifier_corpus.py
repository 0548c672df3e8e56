"""The built-in classifier on a generated, labelled corpus (tests/antispam/corpus.py): trained as users
train it, judged through the content filter as delivery judges. bench/antispam_classifier.py records the
numbers and the CPU per message in bench/README.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import stores
from tests.antispam.corpus import Scores, corpus, evaluate


def scores(tmp_path: Path, store_url: str | None, run, train_ham: int, train_spam: int) -> Scores:
    async def body() -> Scores:
        store = await stores.open_store(tmp_path / "data", store_url)
        try:
            await store.add_domain("example.com")
            account = await store.add_account("bob@example.com", "x", None)
            return await evaluate(store, account, list(corpus(1, train_ham, train_spam)), list(corpus(2, 200, 200)))
        finally:
            await store.close()

    return run(body(), timeout=120)


@pytest.mark.parametrize(("train_ham", "train_spam", "recall"), [(100, 100, 0.95), (1, 50, 0.75), (100, 5, 0.3)])
def test_precision_and_recall_after_training(
    tmp_path: Path, store_url, run, train_ham: int, train_spam: int, recall: float,
):
    result = scores(tmp_path, store_url, run, train_ham, train_spam)
    assert result.precision >= 0.99  # ordinary mail stays out of Junk
    assert result.recall >= recall


def test_trained_on_spam_alone_it_junks_nothing(tmp_path: Path, store_url, run):
    result = scores(tmp_path, store_url, run, 0, 50)
    assert result.true_positives == result.false_positives == 0
