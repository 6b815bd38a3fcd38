"""The domain, the rules and the code agree on every name (bot/names.py is the one place)."""

from pathlib import Path

import yaml

from actions import faq as faq_actions
from bot import names

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())


def constants(prefix: str) -> set[str]:
    return {v for k, v in vars(names).items() if k.startswith(prefix)}


def test_domain_declares_every_intent_slot_action_and_entity():
    assert constants("INTENT_") - {"nlu_fallback"} <= set(DOMAIN["intents"])
    assert constants("SLOT_") <= set(DOMAIN["slots"])
    assert constants("ACTION_") <= set(DOMAIN["actions"])
    assert constants("ENTITY_") <= set(DOMAIN["entities"])


def test_every_custom_action_in_the_domain_is_implemented():
    implemented = {
        cls().name()
        for cls in vars(faq_actions).values()
        if isinstance(cls, type) and issubclass(cls, faq_actions.Action) and cls is not faq_actions.Action
    }
    assert implemented == set(DOMAIN["actions"])


def test_every_response_the_actions_use_exists():
    source = (ROOT / "actions" / "faq.py").read_text()
    used = {
        word.strip('"') for word in source.replace("(", " ").replace(",", " ").split() if word.startswith('"utter_')
    }
    assert used <= set(DOMAIN["responses"])


def test_rules_only_use_declared_intents_and_actions():
    rules = yaml.safe_load((ROOT / "data" / "rules.yml").read_text())["rules"]
    for rule in rules:
        for step in rule["steps"]:
            if "intent" in step:
                assert step["intent"] in DOMAIN["intents"] or step["intent"] == "nlu_fallback", rule["rule"]
            if "action" in step:
                assert step["action"] in DOMAIN["actions"] or step["action"] in DOMAIN["responses"], rule["rule"]
