"""SEARCH BODY/TEXT/SUBJECT over a generated corpus with known answers: case- and accent-insensitive,
through quoted-printable, base64, HTML and RFC 2047, against the real index of every backend (SQLite's
word index, PostgreSQL's trigram index): the same answers from both."""

from __future__ import annotations

import asyncio
import base64
import quopri
import random
from email.header import Header
from pathlib import Path

import pytest

from pillarbox.imap.parser.search_key import And, Not, StringKey
from pillarbox.imap.search import search
from pillarbox.imap.selected import SelectedMailbox
from pillarbox.store.records import DeliveryTarget
from tests import stores

# canonical (what a needle folds to) → the spellings written into messages
VOCABULARY = {
    "cafe": ["café", "CAFÉ", "Cafe", "cafe\u0301"],  # precomposed, upper, plain, decomposed
    "strasse": ["Straße", "STRASSE", "strasse"],
    "naive": ["naïve", "NAÏVE", "naive"],
    "ecole": ["école", "École", "ECOLE"],
    "jalapeno": ["jalapeño", "JALAPEÑO"],
    "zebra": ["zebra", "ZeBrA"],
    "fjord": ["ﬁord"],  # a ligature: NFKD makes it "fiord", so it is *not* a fjord
    "fiord": ["fiord", "ﬁord"],
}
FILLER = ["lorem", "ipsum", "dolor", "amet", "tempor", "magna", "aliqua", "minim"]
ENCODINGS = ["8bit", "quoted-printable", "base64", "html"]


def _body(words: list[str], encoding: str) -> bytes:
    text = " ".join(words) + "\r\n"
    if encoding == "html":
        head = b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        return head + f"<html><body><p>{text}</p><script>zebra</script></body></html>\r\n".encode()
    data = text.encode()
    if encoding == "quoted-printable":
        data = quopri.encodestring(data).replace(b"\n", b"\r\n")
    elif encoding == "base64":
        data = base64.encodebytes(data).replace(b"\n", b"\r\n")
    head = f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n".encode()
    return head + data


def corpus(count: int = 240, seed: int = 5) -> tuple[list[bytes], list[set[str]], list[set[str]]]:
    """(messages, canonical words in each body, canonical words in each subject)."""
    rng = random.Random(seed)
    messages, bodies, subjects = [], [], []
    for _ in range(count):
        body_keys = set(rng.sample(sorted(VOCABULARY), rng.randint(0, 3)))
        subject_keys = set(rng.sample(sorted(VOCABULARY), rng.randint(0, 1)))
        words = [rng.choice(VOCABULARY[k]) for k in body_keys] + rng.sample(FILLER, 3)
        rng.shuffle(words)
        subject = " ".join([rng.choice(VOCABULARY[k]) for k in subject_keys] + ["note"])
        encoded = Header(subject, "utf-8").encode() if rng.random() < 0.5 else subject
        head = f"From: a@x.test\r\nSubject: {encoded}\r\nMIME-Version: 1.0\r\n".encode()
        messages.append(head + _body(words, rng.choice(ENCODINGS)))
        bodies.append(_expand(body_keys))
        subjects.append(_expand(subject_keys))
    return messages, bodies, subjects


def _expand(keys: set[str]) -> set[str]:
    # "ﬁord" is written for both fjord and fiord: it folds to "fiord" only
    return {"fiord" if k == "fjord" else k for k in keys}


@pytest.fixture(scope="module", params=stores.BACKENDS)
def searched(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    messages, bodies, subjects = corpus()
    url = None
    if request.param == "postgres":
        url = stores.fresh_database(request.getfixturevalue("postgres_cluster").url())

    async def run(programs: list[And]) -> list[list[int]]:
        store = await stores.open_store(Path(tmp_path_factory.mktemp("corpus")), url)
        try:
            await store.add_domain("x.test")
            account = await store.add_account("u@x.test", "hash", None)
            inbox = await store.get_mailbox(account.id, "INBOX")
            assert inbox is not None
            await store.append_messages(inbox.id, [(raw, DeliveryTarget(inbox.id)) for raw in messages])
            view = SelectedMailbox(await store.list_columns(inbox.id), read_only=True)
            return [await search(store, view, program, None) for program in programs]
        finally:
            await store.close()

    return run, bodies, subjects


NEEDLES = ["CAFÉ", "cafe", "Cafe\u0301", "STRASSE", "straße", "Naïve", "ÉCOLE", "jalapeno", "zebra", "fiord", "fjord"]


def test_body_text_subject_known_answers(searched):
    run, bodies, subjects = searched
    programs = []
    for needle in NEEDLES:
        programs += [And((StringKey(name, needle),)) for name in ("BODY", "TEXT", "SUBJECT")]
    programs.append(And((StringKey("BODY", "ZE"),)))  # two characters: found in many terms
    programs.append(And((Not(StringKey("BODY", "cafe")), StringKey("TEXT", "cafe"))))
    results = asyncio.run(run(programs))
    from pillarbox.store.textfold import fold

    for index, needle in enumerate(NEEDLES):
        key = fold(needle)
        in_body = {uid for uid, words in enumerate(bodies, 1) if key in words}
        in_subject = {uid for uid, words in enumerate(subjects, 1) if key in words}
        body, text, subject = (set(results[3 * index + k]) for k in range(3))
        assert body == in_body, needle
        assert subject == in_subject, needle
        assert text == in_body | in_subject, needle
    assert set(results[-2]) == {uid for uid, words in enumerate(bodies, 1) if "zebra" in words}
    only_subject = {uid for uid in range(1, len(bodies) + 1) if "cafe" in subjects[uid - 1] - bodies[uid - 1]}
    assert set(results[-1]) == only_subject and only_subject
