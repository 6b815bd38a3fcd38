"""A matcher that follows the `faq/` and `data/nlu/` folders as editors change them."""

from __future__ import annotations

from pathlib import Path

from bot.knowledge.intents import intent_files, load_intent_examples
from bot.knowledge.loader import faq_files, load_knowledge_base
from bot.knowledge.reload import LiveValue
from bot.matching.matcher import Matcher, MatcherSettings


def build_matcher(faq_path: Path, nlu_path: Path, settings: MatcherSettings) -> Matcher:
    """Load, validate and index; raises `KnowledgeBaseError` when the knowledge base is broken."""
    knowledge = load_knowledge_base(faq_path).knowledge
    return Matcher(knowledge, load_intent_examples(nlu_path), settings)


def live_matcher(faq_path: Path, nlu_path: Path, settings: MatcherSettings, interval: float) -> LiveValue[Matcher]:
    return LiveValue(
        build=lambda: build_matcher(faq_path, nlu_path, settings),
        watched_files=lambda: faq_files(faq_path) + intent_files(nlu_path),
        interval=interval,
        name=f"knowledge base {faq_path}",
    )
