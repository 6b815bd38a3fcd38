"""A linear model over the index's features that learns which words tell the labels apart.

Similarity to phrasings says how close a message is to what editors wrote; it weighs every shared
word by how rare it is in the whole knowledge base, not by how much it says about one label against
the others. A multinomial logistic regression (scikit-learn) fitted on the phrasings' vectors (whole
words, and with `model_char_ngrams` character n-grams) learns that: with 100 phrasings per label
(CLINC150) it lifts the top label's accuracy from 85 to 91 % (docs/benchmarks.md). Its probability
is one share of a label's similarity (`model_weight`); the nearest phrasing stays the evidence an
editor reads.

A fit on the seeded knowledge base's words and character n-grams takes about a second. So that an
editor's change is live at once, a reload first carries the last model over (`carried_over`: its
weights matched by feature and label name, new ones at 0) and fits the new one just after.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

# The stochastic average gradient solver: on the seeded knowledge base's words and character n-grams (~4,700
# phrasings, 39 labels) it takes ~1 s at C=100 (35 passes) where the default lbfgs took ~11 s; on its words
# alone, a few hundredths. A loose tolerance (1e-3 gave the same accuracy in twice the time), because the
# probability is one share of a mix. Capped at 15 passes (0.45 s) it answered one held-out question fewer in
# four of the five languages. It releases the GIL while it runs.
_SOLVER = "sag"
_TOLERANCE = 1e-2
_MAX_EPOCHS = 100


class LabelModel:
    """Probabilities of `labels` for a message's (columns, weights) feature vector; immutable once fitted."""

    def __init__(
        self, weights_t: np.ndarray, intercept: np.ndarray, labels: tuple[str, ...], features: tuple[str, ...]
    ) -> None:
        self._weights_t = weights_t  # features x labels: a message touches only its own features' rows
        self._intercept = intercept
        self.labels = labels
        self.features = features  # each column's name: what a later model carries over

    @classmethod
    def fit(
        cls, matrix: sp.csr_matrix, row_labels: Sequence[str], strength: float, features: Sequence[str]
    ) -> LabelModel | None:
        """Fitted on the phrasing rows of `matrix`, whose columns are named `features`; None with fewer
        than two labels (nothing to tell apart). `strength` is scikit-learn's C: larger trusts the
        phrasings more against regularisation."""
        labels = tuple(sorted(set(row_labels)))
        if len(labels) < 2:
            return None
        position = {label: i for i, label in enumerate(labels)}
        targets = np.fromiter((position[label] for label in row_labels), dtype=np.int64, count=len(row_labels))
        model = LogisticRegression(C=strength, solver=_SOLVER, tol=_TOLERANCE, max_iter=_MAX_EPOCHS, random_state=0)
        with warnings.catch_warnings():  # the loose tolerance is deliberate
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(sp.csr_matrix(matrix, dtype=np.float32), targets)  # sag fits float32 as is
        weights, intercept = model.coef_, model.intercept_
        if len(labels) == 2:  # one logit, for the second label: the first's is 0
            weights, intercept = np.vstack([np.zeros_like(weights[0]), weights[0]]), np.array([0.0, intercept[0]])
        weights_t = np.ascontiguousarray(weights.T, dtype=np.float32)
        return cls(weights_t, intercept.astype(np.float64), labels, tuple(features))

    def carried_over(self, row_labels: Sequence[str], features: Sequence[str]) -> LabelModel | None:
        """This model laid out for another knowledge base's labels and features, without fitting: what it
        learnt of the features and labels both have, 0 for the rest. None with fewer than two labels."""
        labels = tuple(sorted(set(row_labels)))
        if len(labels) < 2:
            return None
        own_label = {label: i for i, label in enumerate(self.labels)}
        own_feature = {feature: i for i, feature in enumerate(self.features)}
        label_rows = np.array([own_label.get(label, -1) for label in labels])
        feature_rows = np.array([own_feature.get(feature, -1) for feature in features])
        known_labels, known_features = np.flatnonzero(label_rows >= 0), np.flatnonzero(feature_rows >= 0)
        weights_t = np.zeros((len(features), len(labels)), dtype=np.float32)
        weights_t[np.ix_(known_features, known_labels)] = self._weights_t[
            np.ix_(feature_rows[known_features], label_rows[known_labels])
        ]
        intercept = np.zeros(len(labels), dtype=np.float64)
        intercept[known_labels] = self._intercept[label_rows[known_labels]]
        return LabelModel(weights_t, intercept, labels, tuple(features))

    def probabilities(self, columns: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Each label's probability (in `labels` order) for a message with these feature weights."""
        logits = weights @ self._weights_t[columns] + self._intercept
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()
