"""A generated, labelled mail corpus for the classifier: made here from word lists, never downloaded.

Ham is a user's ordinary mail (colleagues, family, a club, receipts, newsletters the user wants); spam
comes in campaigns (watches, pills, crypto, loans, fake bank alerts, prizes), each with its own pitch,
senders on throwaway domains, links, sometimes HTML. Both share everyday English, and some topics
overlap on purpose (a shop's newsletter sells, a phishing mail talks like a bank), so the classifier
must weigh words, not just spot them. Deterministic for a seed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

from pillarbox.antispam.filter import ContentFilter, Message
from pillarbox.antispam.tokens import features
from pillarbox.config import AntispamConfig
from pillarbox.mime.header_view import HeaderView
from pillarbox.store.records import Account
from pillarbox.store.sqlite.store import SQLiteStore


def vocabulary(text: str) -> list[str]:
    return text.split()


COMMON = vocabulary("the and you for that this with have are will your from about please would there their what"
                    " when which time just like some more also into only other then them these know could make"
                    " very well here after first many even most over such because good need still back being"
                    " through much before right think any same another last next while where great should help")

HAM_TOPICS = {
    "work": vocabulary("meeting agenda project schedule deadline report budget review draft slides team quarter"
                       " client proposal milestone feedback notes colleague office presentation analysis timeline"),
    "family": vocabulary("dinner weekend kids school birthday grandma holiday photos garden visit trip cousin"
                         " pancakes picnic soccer practice homework recipe sunday morning"),
    "club": vocabulary("rehearsal concert choir tickets members committee volunteer season tournament chess"
                       " league raffle minutes treasurer newsletter meetup venue"),
    "receipts": vocabulary("order shipped tracking invoice receipt subscription renewal payment confirmed"
                           " delivery parcel account statement reference quantity total"),
    "newsletter": vocabulary("issue edition article weekly digest readers community update release features"
                             " unsubscribe preferences sale discount offer"),
}
HAM_SENDERS = ("alice@partner.test", "carol@example.com", "dave@example.com", "mum@family.test",
               "club@chessclub.test", "orders@bookshop.test", "news@weeklydigest.test", "team@partner.test")

SPAM_CAMPAIGNS = {
    "watches": vocabulary("replica watches luxury rolex cheap discount brands wholesale authentic swiss quality"
                          " shipping worldwide exclusive collection"),
    "pills": vocabulary("pharmacy pills prescription viagra cialis generic online cheap doctor order discreet"
                        " packaging lowest price satisfaction guaranteed"),
    "crypto": vocabulary("bitcoin crypto investment profit returns wallet trading platform guaranteed earn daily"
                         " opportunity millionaire passive income exclusive"),
    "loans": vocabulary("loan approved credit instant cash lenders rates bad credit apply funds transfer qualify"
                        " guaranteed today urgent"),
    "phishing": vocabulary("account suspended verify login password security unusual activity confirm identity"
                           " bank immediately restricted access update details"),
    "prize": vocabulary("winner congratulations prize claim lottery selected reward gift card million"
                        " beneficiary transfer unclaimed urgent contact"),
}


def _words(rng: random.Random, topic: list[str], count: int, share: float) -> str:
    return " ".join(rng.choice(topic) if rng.random() < share else rng.choice(COMMON) for _ in range(count))


def ham(rng: random.Random, number: int) -> bytes:
    topic = rng.choice(list(HAM_TOPICS))
    vocabulary = HAM_TOPICS[topic]
    sender = rng.choice(HAM_SENDERS)
    subject = f"{rng.choice(vocabulary).capitalize()} {rng.choice(vocabulary)} {number}"
    body = _words(rng, vocabulary, rng.randint(40, 150), 0.35)
    return (f"From: {sender.split('@')[0].title()} <{sender}>\r\nTo: bob@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: <{number}.{topic}@{sender.split('@')[1]}>\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"\r\n{body}\r\n").encode()


def spam(rng: random.Random, number: int) -> bytes:
    campaign = rng.choice(list(SPAM_CAMPAIGNS))
    vocabulary = SPAM_CAMPAIGNS[campaign]
    domain = f"{rng.choice(vocabulary)}{rng.randint(10, 9999)}.test"
    subject = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(3, 6))).upper() + f" {number}"
    body = _words(rng, vocabulary, rng.randint(30, 120), 0.45)
    link = f"http://{rng.choice(vocabulary)}-{rng.randint(1, 99)}.{campaign}.test/{number}"
    if rng.random() < 0.4:
        content = f"<html><body><p>{body}</p><a href=\"{link}\">{rng.choice(vocabulary)}</a></body></html>"
        kind = "text/html"
    else:
        content, kind = f"{body}\r\n{link}", "text/plain"
    return (f"From: {rng.choice(vocabulary).title()} <{rng.choice(vocabulary)}@{domain}>\r\nTo: bob@example.com\r\n"
            f"Subject: {subject}\r\nContent-Type: {kind}; charset=utf-8\r\n\r\n{content}\r\n").encode()


def corpus(seed: int, hams: int, spams: int) -> Iterator[tuple[bytes, bool]]:
    """(message, is_spam) pairs, ham and spam mixed in a random order."""
    rng = random.Random(seed)
    labels = [False] * hams + [True] * spams
    rng.shuffle(labels)
    for number, is_spam in enumerate(labels):
        yield (spam(rng, number) if is_spam else ham(rng, number)), is_spam


@dataclass(frozen=True)
class Scores:
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    cpu_seconds: float
    """Process CPU (every thread) spent judging the test messages."""

    @property
    def precision(self) -> float:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        spam = self.true_positives + self.false_negatives
        return self.true_positives / spam if spam else 1.0

    @property
    def cpu_per_message(self) -> float:
        return self.cpu_seconds / (self.true_positives + self.false_positives + self.false_negatives
                                   + self.true_negatives)


async def evaluate(store: SQLiteStore, account: Account, training: list[tuple[bytes, bool]],
                   testing: list[tuple[bytes, bool]], settings: AntispamConfig | None = None) -> Scores:
    """Train ``account``'s classifier on ``training`` (as users' moves would), then judge ``testing``
    through the content filter, as delivery does (store reads included in the CPU)."""
    settings = settings or AntispamConfig()
    for message_id, (raw, is_spam) in enumerate(training, start=1):
        tokens = list(features(raw, HeaderView.parse(raw)))
        await store.spam_train(account.id, message_id, tokens, "spam" if is_spam else "ham",
                               settings.classifier_max_tokens)
    content_filter = ContentFilter(store, settings)
    outcome = {(True, True): 0, (False, True): 0, (True, False): 0, (False, False): 0}
    started = time.process_time()
    for raw, is_spam in testing:
        verdict = await content_filter.judge(account, Message(raw, HeaderView.parse(raw), ""), None)
        outcome[(verdict is not None and verdict.is_junk, is_spam)] += 1
    spent = time.process_time() - started
    return Scores(outcome[(True, True)], outcome[(True, False)], outcome[(False, True)], outcome[(False, False)],
                  spent)
