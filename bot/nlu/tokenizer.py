"""Rasa tokenizer over `bot.matching.normalise`: spaCy's blank tokenizer per language.

Each token's lemma is the normalised form, which the FAQ classifier matches on;
the text and offsets stay the customer's, so entity extractors see what was typed.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.knowledge.schema import DEFAULT_LANGUAGE
from bot.matching.normalise import normaliser_for
from bot.names import LANGUAGE_KEY


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class NormalisingTokenizer(Tokenizer):
    """Splits and normalises a message in its language (set by the language detector, if any)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Rasa's tokenizer options: we do not split intent names or use a token regex.
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            # Language of messages that carry none (no detector ran before this tokenizer).
            "default_language": DEFAULT_LANGUAGE,
        }

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._default_language: str = config["default_language"]
        normaliser_for(self._default_language)  # spaCy takes seconds to start: do it at load

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> NormalisingTokenizer:
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute) or ""
        language = message.get(LANGUAGE_KEY) or self._default_language
        tokens = [
            Token(t.text, t.start, t.end, data={"is_stop": t.is_stop}, lemma=t.norm)
            for t in normaliser_for(language).tokens(text)
        ]
        if not tokens and text.strip():
            tokens = [Token(text, 0, len(text))]
        return self._apply_token_pattern(tokens)
