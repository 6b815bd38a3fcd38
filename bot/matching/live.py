"""A matcher that follows the `faq/` and `data/nlu/` folders as editors change them."""

from __future__ import annotations

from pathlib import Path

from bot.knowledge.intents import intent_files, load_data_patterns, load_intent_examples
from bot.knowledge.loader import faq_files, load_knowledge_base
from bot.knowledge.reload import LiveValue
from bot.knowledge.schema import KnowledgeBase
from bot.matching.matcher import IntentExamples, Matcher, MatcherSettings


def matcher_with_intents(
    knowledge: KnowledgeBase,
    nlu_path: Path,
    settings: MatcherSettings,
    intents: IntentExamples | None = None,
    previous: Matcher | None = None,
) -> Matcher:
    """The bot's matcher over `knowledge`: with the intents (`intents` when already read from `nlu_path`)
    and the data patterns of `nlu_path`. `previous`: the matcher it replaces (see `Matcher`)."""
    examples = load_intent_examples(nlu_path) if intents is None else intents
    return Matcher(knowledge, examples, settings, load_data_patterns(nlu_path), previous)


def build_matcher(
    faq_path: Path, nlu_path: Path, settings: MatcherSettings, previous: Matcher | None = None
) -> Matcher:
    """Load, validate and index; raises `KnowledgeBaseError` when the knowledge base is broken."""
    return matcher_with_intents(load_knowledge_base(faq_path).knowledge, nlu_path, settings, previous=previous)


def live_matcher(faq_path: Path, nlu_path: Path, settings: MatcherSettings, interval: float) -> LiveValue[Matcher]:
    """An editor's change is live as soon as it is indexed, with the last label model carried over; the
    new one is fitted just after (~1 s on the seeded knowledge base) and swapped in."""
    live: LiveValue[Matcher] | None = None

    def build() -> Matcher:  # at start-up there is nothing to carry over: the model is fitted at once
        return build_matcher(faq_path, nlu_path, settings, previous=live.current() if live is not None else None)

    live = LiveValue(
        build=build,
        watched_files=lambda: faq_files(faq_path) + intent_files(nlu_path),
        interval=interval,
        name=f"knowledge base {faq_path}",
        refine=Matcher.with_fitted_model,
    )
    return live
