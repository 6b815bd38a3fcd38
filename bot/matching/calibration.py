"""Fit the score calibration on phrasings held out of the index (`supportbot faq calibrate`).

Each entry's and intent's phrasings are split into folds; every fold is
matched against an index built from the others. The out-of-scope examples are
matched against an index without them, so they show what a question the
knowledge base cannot answer looks like: "none of them" is their right answer.
The softmax temperature and the "none" similarity (see `MatcherSettings`) are
then chosen to maximise the likelihood of the right answers, so that a score
of 0.7 means about a 70% chance of being right, on this knowledge base.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from bot.knowledge.schema import KnowledgeBase
from bot.matching.matcher import IntentExamples, Matcher, MatcherSettings, softmax_with_none

OUT_OF_SCOPE = "out_of_scope"
TEMPERATURES = tuple(np.round(np.arange(0.01, 0.2001, 0.005), 3))
NONE_SIMILARITIES = tuple(np.round(np.arange(0.05, 0.6001, 0.01), 3))


@dataclass(frozen=True)
class Sample:
    """One held-out phrasing: the labels the matcher ranked, and the right one (None: none of them)."""

    labels: tuple[str, ...]
    similarities: tuple[float, ...]
    right: str | None


@dataclass(frozen=True)
class Calibration:
    temperature: float
    none_similarity: float
    samples: int  # held-out phrasings the fit used
    top1_accuracy: float  # share of in-scope samples whose top label was right
    log_likelihood: float  # mean log-probability of the right answer at the fitted values


def held_out_samples(
    knowledge: KnowledgeBase, intents: IntentExamples, settings: MatcherSettings, folds: int = 10
) -> list[Sample]:
    samples: list[Sample] = []
    for fold in range(folds):
        entries, held_out = {}, []
        for entry in knowledge.entries.values():
            kept = {}
            for language, texts in entry.questions.items():
                kept[language] = tuple(t for i, t in enumerate(texts) if i % folds != fold)
                held_out += [(t, language, entry.id) for i, t in enumerate(texts) if i % folds == fold]
            entries[entry.id] = replace(entry, questions=kept)
        kept_intents: dict[str, dict[str, list[str]]] = {}
        for language, examples in intents.items():
            kept_intents[language] = {}
            for intent, texts in examples.items():
                # Out-of-scope examples are the negatives: held out, their right answer is "none of them".
                if intent != OUT_OF_SCOPE:
                    kept_intents[language][intent] = [t for i, t in enumerate(texts) if i % folds != fold]
                right = None if intent == OUT_OF_SCOPE else intent
                held_out += [(t, language, right) for i, t in enumerate(texts) if i % folds == fold]
        kept_knowledge = KnowledgeBase(entries, knowledge.facts, knowledge.fingerprint, knowledge.synonyms)
        matcher = Matcher(kept_knowledge, kept_intents, settings)
        for text, language, right in held_out:
            ranking = matcher.match(text, language).ranking
            samples.append(Sample(tuple(c.label for c in ranking), tuple(c.similarity for c in ranking), right))
    return samples


def log_likelihood(samples: Sequence[Sample], temperature: float, none_similarity: float) -> float:
    total = 0.0
    for sample in samples:
        scores = softmax_with_none(sample.similarities, temperature, none_similarity)
        p_none = 1.0 - sum(scores)
        if sample.right is None:
            p = p_none
        elif sample.right in sample.labels:
            p = scores[sample.labels.index(sample.right)]
        else:
            p = 0.0  # the right label was not even among the closest: no setting helps
        total += math.log(max(p, 1e-6))
    return total / max(len(samples), 1)


def fit(samples: Sequence[Sample]) -> Calibration:
    best = max(
        ((log_likelihood(samples, t, n), t, n) for t in TEMPERATURES for n in NONE_SIMILARITIES),
        key=lambda x: x[0],
    )
    in_scope = [s for s in samples if s.right is not None]
    top1 = sum(bool(s.labels) and s.labels[0] == s.right for s in in_scope) / max(len(in_scope), 1)
    return Calibration(float(best[1]), float(best[2]), len(samples), top1, round(best[0], 4))


def calibrate(
    knowledge: KnowledgeBase, intents: IntentExamples, settings: MatcherSettings, folds: int = 10
) -> Calibration:
    return fit(held_out_samples(knowledge, intents, settings, folds))
