"""Rasa component over `bot.language.detection`: the first step of the NLU pipeline.

It reads the conversation's language from the tracker's `language` slot (Rasa
hands the tracker to any NLU component whose `process` asks for it), decides the
message's language, and records it twice: as the message's `language` key, which
the tokenizer and the matcher read, and as a `language` entity, which fills the
`language` slot through an ordinary `from_entity` mapping in `domain.yml`.
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
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.knowledge.intents import intent_files, load_intent_examples
from bot.knowledge.loader import faq_files, load_knowledge_base
from bot.knowledge.reload import LiveValue
from bot.language.detection import DetectorSettings, LanguageDetector
from bot.names import ENTITY_LANGUAGE, LANGUAGE_KEY, SLOT_LANGUAGE
from bot.pipeline_config import detector_settings

logger = logging.getLogger(__name__)


def build_detector(faq_path: Path, nlu_path: Path, settings: DetectorSettings) -> LanguageDetector:
    knowledge = load_knowledge_base(faq_path).knowledge
    return LanguageDetector.for_knowledge(knowledge, load_intent_examples(nlu_path), settings)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageDetectorComponent(GraphComponent, EntityExtractorMixin):
    """Sets each message's language (`en|ms|id|tl|vi`), sticking to the conversation's."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Where the lexicon's texts come from: the knowledge base and the intents' examples.
            "faq_path": "faq",
            "nlu_path": "data/nlu",
            # Seconds between checks for changed files; 0 turns hot reload off.
            "reload_interval": 0.5,
            **{f.name: f.default for f in fields(DetectorSettings)},
        }

    def __init__(self, live: LiveValue[LanguageDetector]) -> None:
        self._live = live

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetectorComponent:
        settings = detector_settings(config)
        faq_path, nlu_path = Path(config["faq_path"]), Path(config["nlu_path"])
        live = LiveValue(
            build=lambda: build_detector(faq_path, nlu_path, settings),
            watched_files=lambda: faq_files(faq_path) + intent_files(nlu_path),
            interval=config["reload_interval"],
            name=f"language lexicon {faq_path}",
        )
        return cls(live.start())

    def process(self, messages: list[Message], tracker: DialogueStateTracker | None = None) -> list[Message]:
        detector = self._live.current()
        previous = tracker.get_slot(SLOT_LANGUAGE) if tracker else None
        for message in messages:
            detection = detector.detect(message.get(TEXT) or "", previous)
            message.set(LANGUAGE_KEY, detection.language, add_to_output=True)
            entity = {
                "entity": ENTITY_LANGUAGE,
                "value": detection.language,
                "confidence_entity": round(detection.confidence, 4),
                "extractor": self.__class__.__name__,
            }
            message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
            logger.debug("language of %r: %s (previous %s)", message.get(TEXT), detection, previous)
        return messages

    def process_training_data(self, training_data: Any) -> Any:
        return training_data
