"""The label model: a share of each label's similarity that learns which words tell labels apart."""

from dataclasses import replace

import pytest

from bot.matching.index import IndexSettings, Phrasing, PhrasingIndex

# Every phrasing of both labels says "order"; only "cancel" or "where" tells them apart.
PHRASINGS = {
    "orders.cancel": ["cancel my order", "i want to cancel the order", "please cancel order", "stop my order now"],
    "orders.track": ["where is my order", "track my order", "order status please", "where is the order now"],
    "support.hours": ["when are you open", "opening hours", "what time do you close"],
}


def index_of(settings: IndexSettings, labels: tuple[str, ...] = tuple(PHRASINGS)) -> PhrasingIndex:
    phrasings = [
        Phrasing(label=label, text=text, words=tuple(text.split()), stop=tuple(False for _ in text.split()))
        for label in labels
        for text in PHRASINGS[label]
    ]
    return PhrasingIndex(phrasings, settings)


WITH_MODEL = IndexSettings(model_weight=0.5, model_strength=30)


def test_the_model_is_a_share_of_the_similarity():
    plain = {h.label: h for h in index_of(IndexSettings()).search(["cancel", "order"], limit=3)}
    mixed = {h.label: h for h in index_of(WITH_MODEL).search(["cancel", "order"], limit=3)}
    assert all(h.model == 0.0 for h in plain.values())
    assert sum(h.model for h in mixed.values()) == pytest.approx(1.0)  # a probability over the labels
    for label, hit in mixed.items():
        assert hit.nearest == pytest.approx(plain[label].nearest) and hit.phrasing == plain[label].phrasing
        assert hit.similarity == pytest.approx(0.5 * plain[label].similarity + 0.5 * hit.model)


def test_the_model_widens_the_margin_of_the_telling_word():
    """"order" is everywhere in the two order labels; "cancel" decides, and the model learns that."""
    def margin(settings: IndexSettings) -> float:
        hits = index_of(settings).search(["cancel", "the", "order"], limit=2)
        assert hits[0].label == "orders.cancel"
        return hits[0].similarity - hits[1].similarity

    assert margin(WITH_MODEL) > margin(IndexSettings())


def test_two_labels_are_enough_and_one_needs_no_model():
    two = index_of(WITH_MODEL, ("orders.cancel", "orders.track")).search(["track", "order"], limit=2)
    assert two[0].label == "orders.track" and two[0].model > 0.5
    assert two[0].model + two[1].model == pytest.approx(1.0)
    one = index_of(WITH_MODEL, ("orders.cancel",)).search(["cancel", "order"], limit=1)
    assert one[0].model == 0.0


def test_beyond_the_label_limit_there_is_no_model():
    hits = index_of(replace(WITH_MODEL, model_max_labels=2)).search(["cancel", "order"], limit=3)
    assert all(h.model == 0.0 for h in hits)


def test_the_bot_uses_the_model_from_config(matcher):
    """config.yml turns it on; a question's right entry gets most of the model's probability."""
    assert matcher.index.settings.model_weight > 0
    hits = matcher.index.search(matcher.match("how long does a refund take").words, limit=3)
    assert hits[0].label == "returns.refund_time" and hits[0].model > 0.5
    shown = matcher.match("how long does a refund take").evidence()["ranking"][0]  # what editors and agents see
    assert shown["label"] == "returns.refund_time" and shown["model"] == pytest.approx(hits[0].model, abs=1e-4)
