"""The index's fast query path gives exactly what scikit-learn's vectorisers give."""

import numpy as np
import pytest

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


def test_similarities_equal_a_plain_matrix_product(matcher):
    index: PhrasingIndex = matcher.index
    words = matcher.match("my parcel arrived damaged").words
    columns, weights = index.query_features(words)
    reference = (index.vector(words) @ index._rows_t).toarray().ravel()
    np.testing.assert_allclose(index._dot(index._rows_t, columns, weights), reference, rtol=1e-5, atol=1e-6)
