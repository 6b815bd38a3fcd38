"""A linear model over the index's word features that learns which words tell the labels apart.

Similarity to phrasings says how close a message is to what editors wrote; it weighs every shared
word by how rare it is in the whole knowledge base, not by how much it says about one label against
the others. A multinomial logistic regression (scikit-learn) fitted on the phrasings' word vectors
learns that: with 100 phrasings per label (CLINC150) it lifts the top label's accuracy from 85 to
91 % (docs/benchmarks.md). Its probability is one share of a label's similarity (`model_weight`);
the nearest phrasing stays the evidence an editor reads.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

# The stochastic average gradient solver: on the seeded knowledge base's words and character n-grams (~4,700
# phrasings, 39 labels) it took ~0.9 s at C=30 where the default lbfgs took ~11 s; on its words alone, a few
# hundredths. A loose tolerance (1e-3 gave the same accuracy in twice the time), because the probability is one
# share of a mix. It releases the GIL while it runs.
_SOLVER = "sag"
_TOLERANCE = 1e-2
_MAX_EPOCHS = 100


class LabelModel:
    """Probabilities of `labels` for a message's (columns, weights) feature vector; immutable once fitted."""

    def __init__(self, weights_t: np.ndarray, intercept: np.ndarray, labels: tuple[str, ...]) -> None:
        self._weights_t = weights_t  # features x labels: a message touches only its own features' rows
        self._intercept = intercept
        self.labels = labels

    @classmethod
    def fit(cls, matrix: sp.csr_matrix, row_labels: Sequence[str], strength: float) -> LabelModel | None:
        """Fitted on the phrasing rows of `matrix`; None with fewer than two labels (nothing to tell apart).
        `strength` is scikit-learn's C: larger trusts the phrasings more against regularisation."""
        labels = tuple(sorted(set(row_labels)))
        if len(labels) < 2:
            return None
        position = {label: i for i, label in enumerate(labels)}
        targets = np.fromiter((position[label] for label in row_labels), dtype=np.int64, count=len(row_labels))
        model = LogisticRegression(C=strength, solver=_SOLVER, tol=_TOLERANCE, max_iter=_MAX_EPOCHS, random_state=0)
        with warnings.catch_warnings():  # the loose tolerance is deliberate
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(sp.csr_matrix(matrix, dtype=np.float64), targets)
        weights, intercept = model.coef_, model.intercept_
        if len(labels) == 2:  # one logit, for the second label: the first's is 0
            weights, intercept = np.vstack([np.zeros_like(weights[0]), weights[0]]), np.array([0.0, intercept[0]])
        return cls(np.ascontiguousarray(weights.T, dtype=np.float32), intercept.astype(np.float64), labels)

    def probabilities(self, columns: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Each label's probability (in `labels` order) for a message with these feature weights."""
        logits = weights @ self._weights_t[columns] + self._intercept
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()
