"""The label model: a share of each label's similarity that learns which words tell labels apart."""

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from bot.matching.index import IndexSettings, Phrasing, PhrasingIndex
from bot.matching.label_model import LabelModel
from bot.matching.live import live_matcher

ROOT = Path(__file__).resolve().parent.parent

# Every phrasing of both labels says "order"; only "cancel" or "where" tells them apart.
PHRASINGS = {
    "orders.cancel": ["cancel my order", "i want to cancel the order", "please cancel order", "stop my order now"],
    "orders.track": ["where is my order", "track my order", "order status please", "where is the order now"],
    "support.hours": ["when are you open", "opening hours", "what time do you close"],
}


def index_of(
    settings: IndexSettings, labels: tuple[str, ...] = tuple(PHRASINGS), carry_over: LabelModel | None = None
) -> PhrasingIndex:
    phrasings = [
        Phrasing(label=label, text=text, words=tuple(text.split()), stop=tuple(False for _ in text.split()))
        for label in labels
        for text in PHRASINGS[label]
    ]
    return PhrasingIndex(phrasings, settings, carry_over=carry_over)


def model_shares(index: PhrasingIndex, words: list[str]) -> dict[str, float]:
    return {h.label: h.model for h in index.search(words, limit=len(PHRASINGS))}


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


def test_carried_over_weights_follow_their_feature_and_label_names():
    matrix = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]))
    model = LabelModel.fit(matrix, ["a", "b", "a", "b"], 10.0, ["w cancel", "w where"])
    moved = model.carried_over(["c", "b", "a"], ["w where", "w new", "w cancel"])
    # The same message ("cancel") in the old and the new layout: a and b keep their odds; c and "new" know nothing.
    old = model.probabilities(np.array([0]), np.array([1.0], dtype=np.float32))
    new = moved.probabilities(np.array([2]), np.array([1.0], dtype=np.float32))
    assert moved.labels == ("a", "b", "c")
    assert new[0] / new[1] == pytest.approx(old[0] / old[1], rel=1e-5)
    assert moved.probabilities(np.array([1]), np.array([1.0], dtype=np.float32)) == pytest.approx(
        moved.probabilities(np.array([], dtype=np.int64), np.array([], dtype=np.float32))
    )


@pytest.mark.parametrize("char_ngrams", [False, True])
def test_a_reload_carries_the_model_over_until_it_fits_its_own(char_ngrams):
    """A reload goes live with the last model; `with_fitted_model` then gives what a fresh start would."""
    settings = replace(WITH_MODEL, model_char_ngrams=char_ngrams)
    before = index_of(settings, ("orders.cancel", "orders.track"))
    quick = index_of(settings, carry_over=before.label_model)  # an editor added support.hours
    fresh = index_of(settings)
    assert quick.model_carried_over and not fresh.model_carried_over
    words = ["cancel", "the", "order"]
    old, carried = model_shares(before, words), model_shares(quick, words)
    # The same weights, on a message whose feature weights moved a little (the IDFs include support.hours now).
    assert carried["orders.cancel"] / carried["orders.track"] == pytest.approx(
        old["orders.cancel"] / old["orders.track"], rel=0.05
    )
    fitted = quick.with_fitted_model()
    assert not fitted.model_carried_over and fitted.with_fitted_model() is fitted
    for query in (words, ["opening", "hours"]):
        assert model_shares(fitted, query) == pytest.approx(model_shares(fresh, query), abs=1e-6)
    assert model_shares(quick, words) == carried  # the quick index itself is unchanged


def test_an_edited_knowledge_base_gets_its_own_model_after_the_quick_reload(tmp_path, pipeline_config):
    """The bot's live matcher: a new way to ask made of another label's words wins once the model is refitted."""
    shutil.copytree(ROOT / "faq", tmp_path / "faq")
    live = live_matcher(tmp_path / "faq", ROOT / "data" / "nlu", pipeline_config.matcher, interval=0)
    asked = "can i talk to zorbix please"  # the words of asking for a person
    assert live.current().match(asked).best.label != "support.hours"
    path = tmp_path / "faq" / "support.yml"
    text = path.read_text()
    path.write_text(text.replace("    questions:\n      en:\n", f"    questions:\n      en:\n        - {asked}\n", 1))
    assert live.check()
    quick = live.current()
    assert quick.index.model_carried_over
    assert quick.match(asked).best.label != "support.hours"  # the last model knows these words as another label's
    assert live.refine() and not live.refine()
    refitted = live.current()
    assert not refitted.index.model_carried_over and refitted.knowledge is quick.knowledge
    assert refitted.match(asked).best.label == "support.hours"
