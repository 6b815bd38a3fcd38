"""Rasa intent classifier over `bot.matching`: fuzzy match of FAQ entries and intents.

Sets Rasa's `intent` and `intent_ranking` (an FAQ match is the intent `faq`),
and adds two keys to the parse result: `faq` (the object DESIGN.md fixes) and
`match` (the evidence). Rasa's `FallbackClassifier`, after this component,
turns a low or ambiguous top score into `nlu_fallback`.

The knowledge base is read from `faq/` when the model loads, not baked into the
model, and reloaded when its files change: no retraining for content edits.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.knowledge.reload import LiveValue
from bot.knowledge.schema import DEFAULT_LANGUAGE
from bot.matching.index import IndexSettings
from bot.matching.live import live_matcher
from bot.matching.matcher import Matcher, MatcherSettings
from bot.matching.normalise import normaliser_for
from bot.names import (
    DATA_ENTITIES,
    ENTITY_TICKET_ID,
    FAQ_KEY,
    INTENT_AFFIRM,
    INTENT_DENY,
    INTENT_INFORM,
    INTENT_TICKET_STATUS,
    LANGUAGE_KEY,
    MATCH_KEY,
)
from bot.pipeline_config import matcher_settings

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class FuzzyFaqClassifier(GraphComponent, IntentClassifier):
    """Classifies a message as an FAQ entry or a conversational intent, with a 0–1 score."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Folder of the knowledge base's YAML files, relative to where Rasa runs.
            "faq_path": "faq",
            # Folder of Rasa NLU files whose intents' examples are matched too.
            "nlu_path": "data/nlu",
            # Seconds between checks for changed files; 0 turns hot reload off.
            "reload_interval": 0.5,
            # Language of messages that carry none (no detector ran before the tokenizer).
            "default_language": DEFAULT_LANGUAGE,
            # Similarity and calibration settings, see MatcherSettings and IndexSettings.
            **{f.name: f.default for f in fields(MatcherSettings) if f.name != "index"},
            **{f.name: f.default for f in fields(IndexSettings)},
        }

    def __init__(self, config: dict[str, Any], live: LiveValue[Matcher]) -> None:
        self._config = config
        self._live = live

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FuzzyFaqClassifier:
        settings = matcher_settings(config)
        live = live_matcher(Path(config["faq_path"]), Path(config["nlu_path"]), settings, config["reload_interval"])
        return cls(config, live.start())

    def process(self, messages: list[Message], tracker: DialogueStateTracker | None = None) -> list[Message]:
        matcher = self._live.current()  # one version of the knowledge base for the whole batch
        in_form = bool(tracker and tracker.active_loop_name)  # "cancel" in a form stops the form
        yes_or_no_asked = _yes_or_no_asked(tracker)
        for message in messages:
            language = message.get(LANGUAGE_KEY) or self._config["default_language"]
            data = _data_entities(message)
            words = [part for token in _tokens_around(message, data) for part in token.lemma.split()]
            given = frozenset(entity for entity, _, _ in data)
            result = matcher.match_words(words, language, in_form=in_form, data=given, yes_or_no_asked=yes_or_no_asked)
            best = result.best
            intent = {"name": best.intent, "confidence": best.score} if best else {"name": None, "confidence": 0.0}
            ranking = [{"name": c.intent, "confidence": c.score, "label": c.label} for c in result.ranking]
            if data and _only_stop_words(words, language):  # "KL30001234", "it's ali@example.com"
                # A ticket number alone asks for that ticket's status.
                name = INTENT_INFORM if given - {ENTITY_TICKET_ID} else INTENT_TICKET_STATUS
                intent = {"name": name, "confidence": 1.0}
                ranking = [{**intent, "label": name}, *(r for r in ranking if r["name"] != name)]
            message.set(INTENT, intent, add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            message.set(FAQ_KEY, result.faq_object(), add_to_output=True)
            message.set(MATCH_KEY, result.evidence(), add_to_output=True)
            message.set(LANGUAGE_KEY, language, add_to_output=True)
            logger.debug("matched %r: %s", message.get(TEXT), result.evidence()["ranking"][:3])
        return messages

    def process_training_data(self, training_data: Any) -> Any:
        return training_data


def _yes_or_no_asked(tracker: DialogueStateTracker | None) -> bool:
    """The bot's last message, since the customer's last one, offered Yes and No ("Was this helpful?")."""
    for event in reversed(tracker.events if tracker is not None else ()):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered):
            payloads = {button.get("payload") for button in (event.data or {}).get("buttons") or []}
            return {f"/{INTENT_AFFIRM}", f"/{INTENT_DENY}"} <= payloads
    return False


def _data_entities(message: Message) -> list[tuple[str, int, int]]:
    """The customer's data that Rasa's RegexEntityExtractor found: (entity, start, end)."""
    return [
        (e["entity"], e["start"], e["end"]) for e in message.get(ENTITIES) or [] if e.get("entity") in DATA_ENTITIES
    ]


def _tokens_around(message: Message, data: list[tuple[str, int, int]]) -> list[Any]:
    """The message's tokens outside its data: what the customer says about an order number, not the number."""
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    return [t for t in tokens if not any(start <= t.start and t.end <= end for _, start, end in data)]


def _only_stop_words(words: list[str], language: str) -> bool:
    normaliser = normaliser_for(language)
    return all(normaliser.is_stop(word) for word in words)
