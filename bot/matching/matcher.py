"""Match a customer's message against the FAQ entries and the conversational intents.

`Matcher.match` returns every decision with its evidence: the normalised
words, the typos it repaired, and for each label the calibrated score, the raw
similarity and the nearest phrasing. The Rasa component, the CLI and the
benchmarks all call this, so they all see the same scores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.knowledge.schema import DEFAULT_LANGUAGE, KnowledgeBase
from bot.matching.index import Hit, IndexSettings, Phrasing, PhrasingIndex
from bot.matching.normalise import normaliser_for

FAQ_INTENT = "faq"  # the intent every FAQ match is classified as; the entry id says which


@dataclass(frozen=True)
class MatcherSettings:
    """The matcher's knobs; the bot reads them from the classifier's entry in `config.yml`."""

    index: IndexSettings = field(default_factory=IndexSettings)
    # Raw similarity is mapped to a 0–1 score with a logistic curve fitted on held-out phrasings:
    # score = 1 / (1 + exp(-steepness * (similarity - midpoint))).
    calibration_midpoint: float = 0.299  # the similarity that scores 0.5
    calibration_steepness: float = 7.55  # how fast the score rises around the midpoint
    suggest_threshold: float = 0.3  # FAQ entries scoring at least this are "did you mean" candidates
    max_candidates: int = 3  # at most this many candidates are offered
    search_limit: int = 8  # labels scored per message
    # Intents that carry only courtesy: "hi, can I cancel my order?" is a question about
    # cancelling, so these never rank above an FAQ entry that is close enough to suggest.
    courtesy_intents: tuple[str, ...] = ("greet", "thanks", "goodbye")


@dataclass(frozen=True)
class Candidate:
    """One label's result for a message, with why."""

    label: str  # FAQ id or intent name
    is_faq: bool
    score: float  # calibrated, 0–1: how likely this label is right
    similarity: float  # raw similarity, 0–1
    phrasing: str  # the nearest phrasing: what the message looked most like

    @property
    def intent(self) -> str:
        return FAQ_INTENT if self.is_faq else self.label


@dataclass(frozen=True)
class MatchResult:
    """Everything the matcher decided about one message."""

    language: str
    words: tuple[str, ...]  # normalised, typo-repaired words that were matched
    repairs: Mapping[str, str]  # typed word -> vocabulary word it was read as
    ranking: tuple[Candidate, ...]  # best first, FAQ entries and intents together
    suggest_threshold: float
    max_candidates: int

    @property
    def best(self) -> Candidate | None:
        return self.ranking[0] if self.ranking else None

    @property
    def faq_candidates(self) -> list[Candidate]:
        """FAQ entries close enough to offer, best first."""
        return [c for c in self.ranking if c.is_faq and c.score >= self.suggest_threshold][: self.max_candidates]

    def faq_object(self) -> dict:
        """The `faq` key of `/model/parse`, as DESIGN.md fixes it."""
        faq = [c for c in self.ranking if c.is_faq]
        candidates = self.faq_candidates
        return {
            "id": candidates[0].label if candidates else None,
            "score": round(faq[0].score, 4) if faq else 0.0,
            "language": self.language,
            "candidates": [{"id": c.label, "score": round(c.score, 4)} for c in candidates],
        }

    def evidence(self) -> dict:
        """Why: the words matched, the typos repaired and each label's nearest phrasing."""
        return {
            "words": list(self.words),
            "repairs": dict(self.repairs),
            "ranking": [
                {
                    "label": c.label,
                    "score": round(c.score, 4),
                    "similarity": round(c.similarity, 4),
                    "phrasing": c.phrasing,
                }
                for c in self.ranking
            ],
        }


class Matcher:
    """An index over one knowledge base and one set of intent examples; immutable."""

    def __init__(
        self,
        knowledge: KnowledgeBase,
        intent_examples: Mapping[str, Sequence[str]],
        settings: MatcherSettings = MatcherSettings(),
    ) -> None:
        self.knowledge = knowledge
        self.settings = settings
        phrasings = [
            _phrasing(entry.id, text, language)
            for entry in knowledge.entries.values()
            for language, texts in entry.questions.items()
            for text in texts
        ]
        phrasings += [
            _phrasing(intent, text, DEFAULT_LANGUAGE) for intent, texts in intent_examples.items() for text in texts
        ]
        self._faq_ids = frozenset(knowledge.entries)
        self.index = PhrasingIndex(phrasings, settings.index)

    def calibrate(self, similarity: float) -> float:
        s = self.settings
        return 1.0 / (1.0 + math.exp(-s.calibration_steepness * (similarity - s.calibration_midpoint)))

    def match(self, text: str, language: str = DEFAULT_LANGUAGE) -> MatchResult:
        return self.match_words(normaliser_for(language).norms(text), language)

    def match_words(self, words: Sequence[str], language: str = DEFAULT_LANGUAGE) -> MatchResult:
        """Match already-normalised words (the tokenizer component's lemmas)."""
        normaliser = normaliser_for(language)
        repaired, repairs = [], {}
        for word in words:
            # A real word the knowledge base does not use ("bread") is not a typo of one it does ("read").
            fixed = word if normaliser.is_known_word(word) else self.index.repair(word)[0]
            repaired.append(fixed)
            if fixed != word:
                repairs[word] = fixed
        hits = self.index.search(repaired, self.settings.search_limit)
        return MatchResult(
            language=language,
            words=tuple(repaired),
            repairs=repairs,
            ranking=self._rank([self._candidate(hit) for hit in hits]),
            suggest_threshold=self.settings.suggest_threshold,
            max_candidates=self.settings.max_candidates,
        )

    def _rank(self, candidates: list[Candidate]) -> tuple[Candidate, ...]:
        """Best score first, except that courtesy intents give way to any FAQ entry worth suggesting."""
        if not any(c.is_faq and c.score >= self.settings.suggest_threshold for c in candidates):
            return tuple(candidates)
        courtesy = [c for c in candidates if c.label in self.settings.courtesy_intents]
        return tuple([c for c in candidates if c.label not in self.settings.courtesy_intents] + courtesy)

    def _candidate(self, hit: Hit) -> Candidate:
        return Candidate(
            label=hit.label,
            is_faq=hit.label in self._faq_ids,
            score=self.calibrate(hit.similarity),
            similarity=hit.similarity,
            phrasing=hit.phrasing,
        )


def _phrasing(label: str, text: str, language: str) -> Phrasing:
    normaliser = normaliser_for(language)
    words = tuple(normaliser.norms(text))
    return Phrasing(label=label, text=text, words=words, stop=tuple(normaliser.is_stop(w) for w in words))
