"""The built-in classifier: a user's token counts and a message's tokens in, a spam probability out.

Pure and sans-IO like the other cores ("features in, verdict out"): the store supplies the counts,
``tokens.py`` the features, ``filter.py`` turns the probability into a folder.

The model is naive Bayes over token *presence* (each distinct token of a message once, as Graham's
"A Plan for Spam" and SpamBayes do), with a Beta prior on how often a token occurs in each class:

    θ_spam(t) = (spam(t) + α) / (n_spam + α + β)
    θ_ham(t)  = min(1, (2·ham(t) + α) / (n_ham + α + β))
    score     = Σ_t log(θ_spam(t) / θ_ham(t)),  each term within ±MAX_EVIDENCE
    P(spam)   = 1 / (1 + e^-score)

where spam(t) and ham(t) count the trained messages that contained t and n_* the trained messages.
Choices, and why:

- **Ham counts double** (Graham's bias): a message a user moved out of Junk outweighs one that went
  in. A false positive (mail lost in Junk) costs more than a false negative.
- **Learning is mostly one-sided.** Users move spam into Junk far more often than anything out. The
  user's own mail is learned as ham as they read it (``learning.py``), and until at least one message of
  each kind has been learned the classifier says nothing: trained on spam alone it takes every word
  common to spam ("the", "you", "please") for evidence, and on a generated corpus it junked two thirds
  of ordinary mail that way (bench/README.md), while one learned ham message was enough to stop it.
- **Novelty is not evidence.** A token never seen in training counts only toward ham, in proportion to
  how much more spam than ham was seen without it ("we know this user's spam, and this is not like
  it"); a novel message is let through, never junked for its novelty.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from pillarbox.store.records import TokenCounts

PRIOR_PRESENT = 0.1  # α: the prior is a token in α / (α + β) = 5 % of messages
PRIOR_ABSENT = 1.9  # β
HAM_WEIGHT = 2
MAX_EVIDENCE = math.log(99)  # no one token may say more than 99:1
MAX_SCORE = 700.0  # keeps exp() finite


@dataclass(frozen=True)
class Classification:
    probability: float
    """P(spam), 0 to 1."""
    strongest: tuple[str, ...]
    """The tokens that weighed most toward the verdict (texts), for debugging and the reasons."""


def classify(counts: TokenCounts, tokens: Mapping[int, str], explain: int = 3) -> Classification | None:
    """The spam probability of a message with ``tokens`` (hash → text), or None: not trained on both kinds yet."""
    spam_total, ham_total = counts.spam_messages, counts.ham_messages
    if spam_total <= 0 or ham_total <= 0:
        return None
    spam_norm = spam_total + PRIOR_PRESENT + PRIOR_ABSENT
    ham_norm = ham_total + PRIOR_PRESENT + PRIOR_ABSENT
    evidence: list[tuple[float, str]] = []
    for token, text in tokens.items():
        spam, ham = counts.tokens.get(token, (0, 0))
        spam_rate = (spam + PRIOR_PRESENT) / spam_norm
        ham_rate = min(1.0, (HAM_WEIGHT * ham + PRIOR_PRESENT) / ham_norm)
        weight = max(-MAX_EVIDENCE, min(MAX_EVIDENCE, math.log(spam_rate / ham_rate)))
        if spam == ham == 0:
            weight = min(0.0, weight)  # novelty never counts toward spam
        evidence.append((weight, text))
    score = max(-MAX_SCORE, min(MAX_SCORE, sum(weight for weight, _ in evidence)))
    probability = 1.0 / (1.0 + math.exp(-score))
    toward = 1 if score > 0 else -1
    strongest = sorted((e for e in evidence if e[0] * toward > 0), key=lambda e: -abs(e[0]))[:explain]
    return Classification(probability, tuple(text for _, text in strongest))
