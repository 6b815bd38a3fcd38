"""The domain, the rules and the code agree on every name (bot/names.py is the one place)."""

import re
from pathlib import Path

import yaml
from rasa_sdk import Action, FormValidationAction

from actions import faq as faq_actions
from actions import handoff as handoff_actions
from actions import tickets as ticket_actions
from bot import names
from bot.tickets.store import STATUSES

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())
# An action is listed by name, or as {name: {send_domain: true}} (tests/test_selective_domain.py).
DOMAIN_ACTIONS = {entry if isinstance(entry, str) else next(iter(entry)) for entry in DOMAIN["actions"]}


def constants(prefix: str) -> set[str]:
    return {v for k, v in vars(names).items() if k.startswith(prefix)}


def test_domain_declares_every_intent_slot_action_and_entity():
    assert constants("INTENT_") - {"nlu_fallback"} <= set(DOMAIN["intents"])
    assert constants("SLOT_") <= set(DOMAIN["slots"])
    assert constants("ACTION_") <= DOMAIN_ACTIONS
    assert constants("ENTITY_") <= set(DOMAIN["entities"])
    assert constants("FORM_") <= set(DOMAIN["forms"])


ACTION_MODULES = (faq_actions, handoff_actions, ticket_actions)
RASA_ACTIONS = {"action_deactivate_loop", "action_listen", "action_restart"}  # Rasa's own


def test_every_custom_action_in_the_domain_is_implemented():
    implemented = {
        cls().name()
        for module in ACTION_MODULES
        for cls in vars(module).values()
        if isinstance(cls, type)
        and issubclass(cls, Action)
        and cls not in (Action, FormValidationAction)
        and cls.__module__ == module.__name__
    }
    assert implemented == DOMAIN_ACTIONS


def test_every_response_the_actions_use_exists():
    for module in ACTION_MODULES:
        source = Path(module.__file__).read_text()
        used = set(re.findall(r'"(utter_[a-z_]+)', source)) - {"utter_ticket_status_"}
        assert used <= set(DOMAIN["responses"]), module.__name__
    statuses = {f"utter_ticket_status_{status}" for status in STATUSES}
    assert statuses <= set(DOMAIN["responses"])


def test_rules_only_use_declared_intents_and_actions():
    rules = yaml.safe_load((ROOT / "data" / "rules.yml").read_text())["rules"]
    for rule in rules:
        for step in rule["steps"]:
            if "intent" in step:
                assert step["intent"] in DOMAIN["intents"] or step["intent"] == "nlu_fallback", rule["rule"]
            if "action" in step:
                known = DOMAIN_ACTIONS | set(DOMAIN["responses"]) | set(DOMAIN["forms"]) | RASA_ACTIONS
                assert step["action"] in known, rule["rule"]
