"""The anchor (Rasa's default pipeline in the benchmarks) says what the product says for small talk."""

from benchmarks.rasa_default import _uttered_by_rules
from tests.servers import ROOT


def test_the_anchor_replies_to_small_talk_as_the_product_does_to_a_customer_who_is_not_upset():
    replies = _uttered_by_rules(ROOT / "data" / "rules.yml")
    assert {intent: replies.get(intent) for intent in ("greet", "goodbye", "thanks", "bot_challenge", "deny")} == {
        "greet": "utter_greet",
        "goodbye": "utter_goodbye",
        "thanks": "utter_you_are_welcome",
        "bot_challenge": "utter_iamabot",
        "deny": "utter_ok",
    }
