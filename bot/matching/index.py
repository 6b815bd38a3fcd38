"""A search index over phrasings: who is closest to a message, and why.

Each phrasing becomes a sparse vector of two blocks, both TF-IDF weighted and
unit length: whole words (stop words weighed down, so filler counts little)
and character 3–5-grams of the words (robust to typos, inflection and joined or
split words). A label's similarity is a mix of its nearest phrasing (the
evidence an editor can read), its centroid (all of its phrasings together,
so a message that shares words with several of them scores well) and, with
`model_weight`, a label model's probability (the words that tell this label
apart from the others; bot/matching/label_model.py).

Typos are repaired against the index's own vocabulary with rapidfuzz before
the words are weighed: "retrun" becomes "return" because "return" is a word
the knowledge base uses. Words that are still unknown then ("sofas") are not
dropped: they lengthen the message's vector, so a message that shares only
filler with the knowledge base is far from every phrasing (`unseen_weight`).

Rows are grouped by label and language: a label has a nearest phrasing and a
centroid per language, so a Malay message can prefer the Malay phrasings and
still fall back to the English ones (the matcher decides how much).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from bot.matching.label_model import LabelModel

# Up to this many postings a query's lists are gathered with NumPy (~4,000 on the seeded knowledge base:
# 0.3 ms against SciPy's 0.6); beyond, SciPy's row slicing wins (~650,000 with 100,000 phrasings: 2.6 ms
# against 15).
_GATHER_MAX_POSTINGS = 20_000


@dataclass(frozen=True)
class IndexSettings:
    """How similarity is computed; `config.yml` sets these for the bot."""

    word_weight: float = 0.5  # share of whole-word similarity; the rest is character n-grams
    nearest_weight: float = 0.5  # share of the nearest phrasing; the rest is the label's centroid
    stop_word_weight: float = 0.6  # a stop word counts this much of an informative word
    # A negation ("not", "tak", "không") counts this much: "I can't pay by card" is not "can I pay by card?",
    # though the two share every other word.
    negation_weight: float = 1.0
    typo_min_length: int = 4  # shorter words are not repaired: too many near neighbours
    typo_cutoff: float = 82.0  # rapidfuzz ratio (0–100) a repair needs, unless it is a single edit
    # Words (and character n-grams) of a message that no phrasing uses still count in the message's
    # length, at this share of the IDF of a feature seen nowhere: "do you sell sofas" is mostly about
    # sofas, so sharing "do you sell" with a phrasing is a weak match. Words with a digit are exempt
    # (an order number is data, not topic). 0: unseen words are ignored, as a plain TF-IDF query does.
    unseen_weight: float = 0.0
    # Share of a label's similarity that is the label model's probability (bot/matching/label_model.py):
    # which words tell this label apart from the others. 0: similarity to the phrasings alone.
    model_weight: float = 0.0
    model_strength: float = 10.0  # the model's C: larger trusts the phrasings more against regularisation
    # The model also reads the character n-grams (typos, word forms): more accurate, and a fit takes ~30x longer.
    model_char_ngrams: bool = False
    # With more labels than this the model is not fitted (its weights grow with labels x features, and
    # 10,000 labels take minutes to fit): similarity to the phrasings alone.
    model_max_labels: int = 2000


@dataclass(frozen=True)
class Phrasing:
    label: str  # an FAQ id or an intent name
    text: str  # as the editor wrote it
    words: tuple[str, ...]  # normalised words
    stop: tuple[bool, ...]  # which of `words` are stop words
    language: str = "en"


@dataclass(frozen=True)
class Hit:
    """One label's similarity to a message, with the evidence."""

    label: str
    language: str  # of the phrasings that matched
    similarity: float  # 0–1, before calibration
    nearest: float  # similarity of the nearest phrasing
    centroid: float  # similarity of the label's centroid
    phrasing: str  # the nearest phrasing's text
    model: float = 0.0  # the label model's probability (0 without a model)


def _identity(words: Sequence[str]) -> Sequence[str]:
    return words


def _has_digit(word: str) -> bool:
    return any(c.isdigit() for c in word)


class PhrasingIndex:
    """Immutable once built; safe to query from several threads."""

    def __init__(
        self,
        phrasings: Sequence[Phrasing],
        settings: IndexSettings = IndexSettings(),
        extra_vocabulary: frozenset[str] = frozenset(),
        written_forms: Mapping[str, str] | None = None,
        negations: frozenset[str] = frozenset(),
        carry_over: LabelModel | None = None,
    ) -> None:
        """`carry_over`: the label model of the index this one replaces. It is carried over instead of
        fitting a new one, and `with_fitted_model` fits that (see bot/matching/label_model.py)."""
        if not phrasings:
            raise ValueError("cannot build an index without phrasings")
        self.settings = settings
        # Group phrasings by (label, language) so that per-group maxima are one reduceat.
        order = sorted(range(len(phrasings)), key=lambda i: (phrasings[i].label, phrasings[i].language))
        self.phrasings: tuple[Phrasing, ...] = tuple(phrasings[i] for i in order)
        groups = [(p.label, p.language) for p in self.phrasings]
        starts = [0] + [i for i in range(1, len(groups)) if groups[i] != groups[i - 1]]
        self.groups: tuple[tuple[str, str], ...] = tuple(groups[i] for i in starts)
        self._starts = np.array(starts)
        self._label_of_row = np.repeat(np.arange(len(starts)), np.diff([*starts, len(groups)]))

        # How many phrasings use each word (typo repair's tie-break); its keys are the vocabulary.
        self._word_uses: Counter[str] = Counter(w for p in self.phrasings for w in set(p.words))
        self.vocabulary: frozenset[str] = frozenset(self._word_uses)
        words_of: dict[str, list[frozenset[str]]] = {}
        for p in self.phrasings:
            words_of.setdefault(p.label, []).append(frozenset(p.words))
        # Each label's phrasings as word sets: to tell how typical a short message's words are of a label.
        self.label_phrasing_words: dict[str, tuple[frozenset[str], ...]] = {k: tuple(v) for k, v in words_of.items()}
        # Typos are repaired towards the phrasings' words, the synonyms' variants, and the phrasings' words
        # as written where their lemma differs, read as that lemma: "adresses" is one letter from the
        # written "addresses", two from "address".
        self._written_forms = {
            form: lemma for form, lemma in (written_forms or {}).items() if form not in self.vocabulary
        }
        self._repair_targets = self.vocabulary | extra_vocabulary | frozenset(self._written_forms)
        self._vocabulary_list = sorted(self._repair_targets)
        self._stop_words = frozenset(w for p in self.phrasings for w, s in zip(p.words, p.stop, strict=True) if s)
        self._word_vectoriser = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, norm=None, lowercase=False)
        self._char_vectoriser = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, lowercase=False, dtype=np.float32
        )
        words = [list(p.words) for p in self.phrasings]
        word_matrix = self._word_vectoriser.fit_transform(words)
        self._word_scale = np.ones(word_matrix.shape[1], dtype=np.float64)
        for word, column in self._word_vectoriser.vocabulary_.items():
            if word in negations:
                self._word_scale[column] = settings.negation_weight
            elif word in self._stop_words:
                self._word_scale[column] = settings.stop_word_weight
        char_matrix = self._char_vectoriser.fit_transform([" ".join(w) for w in words])
        matrix = self._combine(word_matrix, char_matrix)
        # Transposed (feature -> phrasings), so a query touches only its own features' rows.
        self._rows_t = matrix.T.tocsr()
        centroids = normalize(sp.csr_matrix(self._sum_rows_per_label(matrix)))
        self._centroids_t = centroids.T.tocsr()
        self.repair = lru_cache(maxsize=65536)(self._repair)
        # For `query_features`: the same weights as `vector`, read straight from the fitted vectorisers.
        self._word_columns: dict[str, int] = self._word_vectoriser.vocabulary_
        self._word_weights = self._word_vectoriser.idf_ * self._word_scale
        self._char_columns: dict[str, int] = self._char_vectoriser.vocabulary_
        self._char_idf = self._char_vectoriser.idf_
        self._char_ngrams = self._char_vectoriser.build_analyzer()
        self._char_offset = len(self._word_columns)
        self._model_matrix: sp.csr_matrix | None = None  # kept until fitted, when the model is carried over
        self.label_model, self._model_of_group = self._label_model(matrix, carry_over)
        # IDF of a feature no phrasing has: scikit-learn's smoothed IDF at document frequency 0.
        self._unseen_idf = float(np.log(1.0 + len(self.phrasings)) + 1.0)

    @property
    def model_carried_over(self) -> bool:
        return self._model_matrix is not None

    def with_fitted_model(self) -> PhrasingIndex:
        """This index with its label model fitted, when it was carried over; else itself."""
        if self._model_matrix is None:
            return self
        fitted = copy.copy(self)
        fitted._model_matrix = None
        fitted.label_model, fitted._model_of_group = fitted._label_model(self._model_matrix, None)
        return fitted

    def _label_model(
        self, matrix: sp.csr_matrix, carry_over: LabelModel | None
    ) -> tuple[LabelModel | None, np.ndarray]:
        """The label model (fitted, or `carry_over` carried over) and, for each (label, language) group,
        its label's column in the model. On the whole words, or with `model_char_ngrams` on every feature."""
        labels = {label for label, _ in self.groups}
        if self.settings.model_weight <= 0 or len(labels) > self.settings.model_max_labels:
            return None, np.empty(0, dtype=np.int64)
        features = [f"w {word}" for word in self._word_vectoriser.get_feature_names_out()]
        if self.settings.model_char_ngrams:
            features += [f"c {ngram}" for ngram in self._char_vectoriser.get_feature_names_out()]
        row_labels = [p.label for p in self.phrasings]
        if carry_over is not None:
            self._model_matrix = matrix
            model = carry_over.carried_over(row_labels, features)
        else:
            model = LabelModel.fit(matrix[:, : len(features)], row_labels, self.settings.model_strength, features)
        if model is None:
            return None, np.empty(0, dtype=np.int64)
        column = {label: i for i, label in enumerate(model.labels)}
        return model, np.array([column[label] for label, _ in self.groups])

    def _combine(self, word_matrix: sp.spmatrix, char_matrix: sp.spmatrix) -> sp.csr_matrix:
        word_matrix = normalize(sp.csr_matrix(word_matrix).multiply(self._word_scale).tocsr())
        char_matrix = normalize(sp.csr_matrix(char_matrix))
        w = self.settings.word_weight
        return sp.hstack([np.sqrt(w) * word_matrix, np.sqrt(1 - w) * char_matrix], format="csr", dtype=np.float32)

    def _sum_rows_per_label(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        pooling = sp.csr_matrix(
            (np.ones(matrix.shape[0], dtype=np.float32), (self._label_of_row, np.arange(matrix.shape[0]))),
            shape=(len(self.groups), matrix.shape[0]),
        )
        return pooling @ matrix

    def _repair(self, word: str) -> tuple[str, float]:
        """The vocabulary word closest to `word`, with the rapidfuzz ratio; `word` itself if none is close.

        Close: a ratio of at least `typo_cutoff`, or a single edit (optimal string alignment: one
        letter wrong, missing or extra, or two neighbours swapped), which the ratio misses in short
        words ("lable" -> "label" scores 80). The highest ratio wins; among equals, a word with the same
        first letter (people seldom mistype the first letter), then the word more phrasings use."""
        if word in self._repair_targets or len(word) < self.settings.typo_min_length or not word.isalpha():
            return word, 100.0
        cutoff = self.settings.typo_cutoff
        best = process.extractOne(word, self._vocabulary_list, scorer=fuzz.ratio, score_cutoff=cutoff)
        if best is None:
            one_edit = process.extract(word, self._vocabulary_list, scorer=OSA.distance, score_cutoff=1, limit=8)
            if one_edit:
                ranked = ((found, fuzz.ratio(word, found)) for found, _, _ in one_edit)
                found, ratio = max(ranked, key=lambda f: (f[1], f[0][0] == word[0], self._word_uses[f[0]], f[0]))
                return self._written_forms.get(found, found), ratio
        return (self._written_forms.get(best[0], best[0]), float(best[1])) if best else (word, 100.0)

    def phrasing_vectors(self) -> sp.csr_matrix:
        """Every phrasing's row (in `self.phrasings` order): the dot product of two rows is the similarity
        `search` gives one phrasing as the nearest to the other (`faq lint` looks for near-duplicates)."""
        return self._rows_t.T.tocsr()

    def vector(self, words: Sequence[str]) -> sp.csr_matrix:
        """A message as a row of the phrasing matrix (the reference that `query_features` must equal)."""
        word_matrix = self._word_vectoriser.transform([list(words)])
        char_matrix = self._char_vectoriser.transform([" ".join(words)])
        return self._combine(word_matrix, char_matrix)

    def query_features(
        self, words: Sequence[str], stop: Sequence[bool] | None = None, unseen_weight: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """(columns, weights) of `vector(words)`, computed in plain Python: scikit-learn's and SciPy's
        per-call overhead is most of a message's matching time.

        With `unseen_weight` > 0 the features no phrasing has (words and character n-grams) still
        lengthen the message, at that share of the IDF of a feature seen nowhere (the message's
        `stop` words weighed down as the phrasings' are): each block's cosine then shrinks by the
        share of the message the index knows. 0 gives exactly the vectorisers' row."""
        unseen_idf = unseen_weight * self._unseen_idf
        word_counts = Counter(words)
        gram_counts = Counter(self._char_ngrams(" ".join(words)))
        unseen_squares = (0.0, 0.0)
        if unseen_idf > 0:
            unseen_squares = self._unseen_squares(words, stop, unseen_idf, gram_counts)
        blocks = (
            (word_counts, self._word_columns, self._word_weights, 0, self.settings.word_weight),
            (gram_counts, self._char_columns, self._char_idf, self._char_offset, 1.0 - self.settings.word_weight),
        )
        columns: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        for (counts, vocabulary, idf, offset, share), unseen_square in zip(blocks, unseen_squares, strict=True):
            known = {f: n for f, n in counts.items() if f in vocabulary}
            if not known:
                continue
            block_columns = np.fromiter((vocabulary[f] for f in known), dtype=np.int64, count=len(known))
            block_weights = (1.0 + np.log(np.fromiter(known.values(), dtype=np.float64))) * idf[block_columns]
            squared = float(block_weights @ block_weights) + unseen_square
            if squared > 0:
                columns.append(block_columns + offset)
                weights.append(block_weights / np.sqrt(squared) * np.sqrt(share))
        if not columns:
            return np.empty(0, dtype=np.int64), np.empty(0)
        return np.concatenate(columns), np.concatenate(weights)

    def word_weight(self, word: str) -> float:
        """How much a normalised word tells, as the index weighs it: its IDF (stop words weighed down);
        a word no phrasing uses gets the IDF of a word seen nowhere, the most."""
        column = self._word_columns.get(word)
        return float(self._word_weights[column]) if column is not None else self._unseen_idf

    def unseen(self, words: Sequence[str]) -> tuple[str, ...]:
        """The message's words that no phrasing uses and that lower every label's similarity. Words with
        a digit ("12345", "2x") are data, not topic: an order number says nothing about the question."""
        return tuple(w for w in words if w not in self._word_columns and not _has_digit(w))

    def _unseen_squares(
        self, words: Sequence[str], stop: Sequence[bool] | None, idf: float, gram_counts: Counter[str]
    ) -> tuple[float, float]:
        """Squared TF-IDF length of the message's unseen words and of their unseen character n-grams
        (`gram_counts`: the n-grams of all of `words`)."""
        stop_of = dict(zip(words, stop, strict=True)) if stop is not None else {}
        topical = [w for w in words if not _has_digit(w)]
        stop_weight = self.settings.stop_word_weight
        word_square = sum(
            ((1.0 + np.log(n)) * idf * (stop_weight if stop_of.get(w, False) else 1.0)) ** 2
            for w, n in Counter(topical).items()
            if w not in self._word_columns
        )
        if len(topical) == len(words):  # no word with a digit: the message's own n-grams
            grams = gram_counts
        else:
            grams = Counter(self._char_ngrams(" ".join(topical))) if topical else Counter()
        char_square = sum(((1.0 + np.log(n)) * idf) ** 2 for g, n in grams.items() if g not in self._char_columns)
        return float(word_square), float(char_square)

    @staticmethod
    def _dot(matrix_t: sp.csr_matrix, columns: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Similarity of every row to the query: the posting lists of the query's features, summed."""
        starts = matrix_t.indptr[columns]
        lengths = matrix_t.indptr[columns + 1] - starts
        total = int(lengths.sum())
        if total > _GATHER_MAX_POSTINGS:  # a large knowledge base: SciPy copies whole lists faster
            return matrix_t[columns].T @ weights
        # The positions of every posting in one array, gathered without a Python loop over the
        # query's features (a message has ~70 of them): each list's start, then 0, 1, 2, ... within it.
        first_of_list = np.cumsum(lengths) - lengths
        positions = np.repeat(starts - first_of_list, lengths) + np.arange(total)
        values = matrix_t.data[positions] * np.repeat(weights, lengths)
        return np.bincount(matrix_t.indices[positions], weights=values, minlength=matrix_t.shape[1])

    def search(self, words: Sequence[str], limit: int = 5, stop: Sequence[bool] | None = None) -> list[Hit]:
        """The `limit` (label, language) groups most similar to a message's normalised words, best first;
        `stop` flags the message's stop words (for the weight of the words no phrasing uses)."""
        if not words:
            return []
        columns, weights = self.query_features(words, stop, self.settings.unseen_weight)
        if not len(columns):
            return []
        row_similarity = self._dot(self._rows_t, columns, weights)
        nearest = np.maximum.reduceat(row_similarity, self._starts)
        centroid = self._dot(self._centroids_t, columns, weights)
        a = self.settings.nearest_weight
        combined = a * nearest + (1 - a) * centroid
        model = np.zeros_like(combined)
        if self.label_model is not None:
            known = columns < len(self.label_model.features)  # the model's features lead the index's columns
            model = self.label_model.probabilities(columns[known], weights[known])[self._model_of_group]
            combined = (1 - self.settings.model_weight) * combined + self.settings.model_weight * model
        top = np.argsort(-combined)[:limit].tolist()
        starts = self._starts
        hits = []
        for group in top:
            start = int(starts[group])
            end = int(starts[group + 1]) if group + 1 < len(starts) else len(self.phrasings)
            best_row = start + int(row_similarity[start:end].argmax())
            label, language = self.groups[group]
            hits.append(
                Hit(
                    label=label,
                    language=language,
                    similarity=float(min(1.0, max(0.0, combined[group]))),
                    nearest=float(nearest[group]),
                    centroid=float(centroid[group]),
                    phrasing=self.phrasings[best_row].text,
                    model=float(model[group]),
                )
            )
        return hits
