"""Fit the score calibration on phrasings held out of the index.

Each entry's (and intent's) phrasings are split into folds; every fold is
matched against an index built from the others, and a logistic curve is fitted
from the top raw similarity to "the top label was right". The curve's midpoint
and steepness go into `config.yml`, so that a score of 0.7 means about a 70%
chance of being right, on this knowledge base.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from sklearn.linear_model import LogisticRegression

from bot.knowledge.schema import KnowledgeBase
from bot.matching.matcher import Matcher, MatcherSettings


@dataclass(frozen=True)
class Calibration:
    midpoint: float  # similarity that scores 0.5
    steepness: float
    samples: int  # held-out phrasings the curve was fitted on
    top1_accuracy: float  # share of them whose top label was right


def _fold_of(index: int, folds: int) -> int:
    return index % folds


def held_out_similarities(
    knowledge: KnowledgeBase,
    intents: Mapping[str, Sequence[str]],
    settings: MatcherSettings,
    folds: int = 4,
) -> list[tuple[float, bool]]:
    """(top similarity, top label right?) for every phrasing, matched with its fold left out."""
    samples: list[tuple[float, bool]] = []
    for fold in range(folds):
        entries = {}
        held_out: list[tuple[str, str, str]] = []  # (text, language, label)
        for entry in knowledge.entries.values():
            kept = {}
            for language, texts in entry.questions.items():
                kept[language] = tuple(t for i, t in enumerate(texts) if _fold_of(i, folds) != fold)
                held_out += [(t, language, entry.id) for i, t in enumerate(texts) if _fold_of(i, folds) == fold]
            entries[entry.id] = replace(entry, questions=kept)
        kept_intents = {}
        for intent, texts in intents.items():
            kept_intents[intent] = [t for i, t in enumerate(texts) if _fold_of(i, folds) != fold]
            held_out += [(t, "en", intent) for i, t in enumerate(texts) if _fold_of(i, folds) == fold]
        matcher = Matcher(KnowledgeBase(entries, knowledge.facts, knowledge.fingerprint), kept_intents, settings)
        for text, language, label in held_out:
            best = matcher.match(text, language).best
            samples.append((best.similarity if best else 0.0, bool(best and best.label == label)))
    return samples


def fit(samples: Sequence[tuple[float, bool]]) -> Calibration:
    x = np.array([[s] for s, _ in samples])
    y = np.array([ok for _, ok in samples])
    model = LogisticRegression(C=100.0).fit(x, y)
    steepness = float(model.coef_[0][0])
    midpoint = float(-model.intercept_[0] / steepness)
    return Calibration(round(midpoint, 3), round(steepness, 2), len(samples), float(y.mean()))


def calibrate(
    knowledge: KnowledgeBase, intents: Mapping[str, Sequence[str]], settings: MatcherSettings, folds: int = 4
) -> Calibration:
    return fit(held_out_similarities(knowledge, intents, settings, folds))


def score(similarity: float, calibration: Calibration) -> float:
    return 1.0 / (1.0 + math.exp(-calibration.steepness * (similarity - calibration.midpoint)))



