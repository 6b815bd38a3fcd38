"""The index's fast query path gives exactly what scikit-learn's vectorisers give."""

import numpy as np
import pytest

from bot.matching import index as index_module
from bot.matching.index import PhrasingIndex


@pytest.mark.parametrize(
    "text",
    ["how long do i have to retrun somethng", "refund", "where is my parcel parcel", "zxqv", "hi there, cancel order"],
)
def test_query_features_equal_the_vectorisers(matcher, text):
    index: PhrasingIndex = matcher.index
    words = matcher.match(text).words
    reference = index.vector(words).toarray().ravel()
    columns, weights = index.query_features(words)
    fast = np.zeros_like(reference)
    fast[columns] = weights
    np.testing.assert_allclose(fast, reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("gather_max_postings", [20_000, 0])  # NumPy's gather, and SciPy's (a large knowledge base)
def test_similarities_equal_a_plain_matrix_product(matcher, monkeypatch, gather_max_postings):
    monkeypatch.setattr(index_module, "_GATHER_MAX_POSTINGS", gather_max_postings)
    index: PhrasingIndex = matcher.index
    words = matcher.match("my parcel arrived damaged").words
    columns, weights = index.query_features(words)
    reference = (index.vector(words) @ index._rows_t).toarray().ravel()
    np.testing.assert_allclose(index._dot(index._rows_t, columns, weights), reference, rtol=1e-5, atol=1e-6)


def test_unseen_words_lower_similarity_but_numbers_do_not(matcher):
    """A message that shares only filler with the knowledge base is far from every phrasing; an order
    number is data, not topic, and costs nothing."""
    index: PhrasingIndex = matcher.index
    assert index.settings.unseen_weight > 0
    with_number = list(matcher.match("where is my order 12345").words)
    _, weighed = index.query_features(with_number, unseen_weight=index.settings.unseen_weight)
    _, plain = index.query_features(with_number)
    np.testing.assert_allclose(weighed, plain)
    sofas = matcher.match("do you sell zorbleflex sofas")
    assert "zorbleflex" in sofas.unseen and "zorbleflex" in sofas.evidence()["unseen"]
    _, weights = index.query_features(list(sofas.words), unseen_weight=index.settings.unseen_weight)
    _, plain_weights = index.query_features(list(sofas.words))
    assert np.linalg.norm(weights) < np.linalg.norm(plain_weights)
