"""Decide which of the five languages a message is in, and keep it while the customer does.

Two kinds of evidence are added up, as log-probabilities per language:
- lingua's confidence values, restricted to the five languages: good on whole
  sentences, weak on chat ("pano mag-return ng item" reads as English to it);
- a word lexicon learned from the knowledge base's own phrasings and intent
  examples (naive Bayes over words with diacritics folded), which knows the chat
  abbreviations, code-switching and unaccented Vietnamese that editors wrote.

The conversation's language is a prior: a short or ambiguous message ("ok", an
order number, an e-mail address) keeps it, and only a confident change
switches. A message that asks for a language ("can we speak English?") gets it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lingua import Language, LanguageDetectorBuilder

from bot.knowledge.schema import KnowledgeBase
from bot.matching.matcher import IntentExamples
from bot.matching.normalise import fold_diacritics

LANGUAGES: tuple[str, ...] = ("en", "ms", "id", "tl", "vi")
_LINGUA = {
    Language.ENGLISH: "en",
    Language.MALAY: "ms",
    Language.INDONESIAN: "id",
    Language.TAGALOG: "tl",
    Language.VIETNAMESE: "vi",
}

# Words: letters only. E-mail addresses, links and codes ("KL-20481234") say nothing about a language.
_WORD = re.compile(r"[^\W\d_]+")
_NOT_LANGUAGE = re.compile(r"\S+@\S+|https?://\S+|www\.\S+|\S*\d\S*")
# Letters only Vietnamese uses among the five languages (after NFC): ă â đ ê ô ơ ư and tone marks.
_VIETNAMESE_LETTERS = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.IGNORECASE)

# How customers name a language when they ask for it, diacritics folded. Country names alone
# ("ship to Indonesia") are not requests, so only language names are listed.
LANGUAGE_NAMES: dict[str, tuple[str, ...]] = {
    "en": ("english", "inggeris", "ingles", "englis", "tieng anh", "bahasa inggris", "eng"),
    "ms": ("melayu", "bahasa malaysia", "malay", "bm"),
    "id": ("bahasa indonesia", "indonesian", "bahasa indo", "b indo"),
    "tl": ("tagalog", "filipino", "taglish"),
    "vi": ("vietnamese", "tieng viet", "tiếng việt"),
}


@dataclass(frozen=True)
class DetectorSettings:
    lingua_weight: float = 1.0  # weight of lingua's log-confidence against the lexicon's log-likelihood
    smoothing: float = 0.5  # add-k smoothing of the lexicon's word counts
    stickiness: float = 0.7  # prior probability that a message is in the conversation's language
    request_max_words: int = 8  # a language named in a longer message is not a request to switch
    # A message with fewer words than this ("ok", "order 12345", "size M") keeps the conversation's language.
    min_words: int = 2
    # The language a conversation starts in: "hello" is English until the customer shows otherwise.
    default_language: str = "en"


@dataclass(frozen=True)
class Detection:
    language: str
    confidence: float  # posterior probability of `language`, 0–1
    probabilities: Mapping[str, float]  # every language's posterior
    requested: bool = False  # the message asked for this language
    kept: bool = False  # the message had no evidence of its own: the conversation's language was kept


class WordLexicon:
    """Naive Bayes over words: log P(word | language), from example texts per language."""

    def __init__(self, texts: Mapping[str, Iterable[str]], smoothing: float = 0.5) -> None:
        counts = {language: Counter(w for t in texts.get(language, ()) for w in words_of(t)) for language in LANGUAGES}
        vocabulary = set().union(*counts.values())
        self.vocabulary = frozenset(vocabulary)
        self._log_p: dict[str, dict[str, float]] = {}
        self._log_unseen: dict[str, float] = {}
        for language, counter in counts.items():
            total = sum(counter.values()) + smoothing * (len(vocabulary) + 1)
            self._log_p[language] = {w: math.log((c + smoothing) / total) for w, c in counter.items()}
            self._log_unseen[language] = math.log(smoothing / total)

    def log_likelihoods(self, words: Iterable[str]) -> dict[str, float]:
        known = [w for w in words if w in self.vocabulary]
        return {
            language: sum(self._log_p[language].get(w, self._log_unseen[language]) for w in known)
            for language in LANGUAGES
        }


def words_of(text: str) -> list[str]:
    """The message's words, lower case, diacritics folded; addresses, links and codes left out."""
    return [fold_diacritics(w) for w in _WORD.findall(_NOT_LANGUAGE.sub(" ", text.lower()))]


def requested_language(text: str, max_words: int) -> str | None:
    """The language a short message names ("bahasa melayu boleh?"), if it names exactly one."""
    words = words_of(text)
    if not words or len(words) > max_words:
        return None
    padded = f" {' '.join(words)} "
    named = {lang for lang, names in LANGUAGE_NAMES.items() if any(f" {fold_diacritics(n)} " in padded for n in names)}
    return named.pop() if len(named) == 1 else None


class LanguageDetector:
    """Immutable; build once per knowledge-base version (lingua's models load in about a second)."""

    _lingua = None  # shared by every instance: the models are large and never change

    def __init__(self, lexicon: WordLexicon, settings: DetectorSettings = DetectorSettings()) -> None:
        self.lexicon = lexicon
        self.settings = settings
        if LanguageDetector._lingua is None:
            detector = LanguageDetectorBuilder.from_languages(*_LINGUA).with_preloaded_language_models().build()
            detector.compute_language_confidence_values("warm up")  # the first call is slow
            LanguageDetector._lingua = detector

    @classmethod
    def for_knowledge(
        cls, knowledge: KnowledgeBase, intent_examples: IntentExamples, settings: DetectorSettings = DetectorSettings()
    ) -> LanguageDetector:
        """A detector whose lexicon is learned from this knowledge base's and these intents' texts."""
        return cls(WordLexicon(lexicon_texts(knowledge, intent_examples), settings.smoothing), settings)

    def detect(self, text: str, previous: str | None = None) -> Detection:
        """The language to answer `text` in, given the conversation's language so far."""
        previous = previous if previous in LANGUAGES else self.settings.default_language
        requested = requested_language(text, self.settings.request_max_words)
        if requested:
            return Detection(requested, 1.0, {lang: float(lang == requested) for lang in LANGUAGES}, requested=True)
        words = words_of(text)
        evidence = any(w in self.lexicon.vocabulary for w in words) or bool(_VIETNAMESE_LETTERS.search(text))
        too_short = len([w for w in words if len(w) > 1]) < self.settings.min_words
        if previous in LANGUAGES and (not evidence or too_short):
            return Detection(previous, 1.0, {lang: float(lang == previous) for lang in LANGUAGES}, kept=True)
        scores = self.lexicon.log_likelihoods(words)
        if previous in LANGUAGES:
            others = (1.0 - self.settings.stickiness) / (len(LANGUAGES) - 1)
            for language in LANGUAGES:
                scores[language] += math.log(self.settings.stickiness if language == previous else others)
        if evidence and not self._decided_without_lingua(scores):
            for value in self._lingua.compute_language_confidence_values(text):
                language = _LINGUA[value.language]
                scores[language] += self.settings.lingua_weight * math.log(value.value + 0.01)
        probabilities = _softmax(scores)
        best = max(probabilities, key=probabilities.__getitem__)
        return Detection(best, probabilities[best], probabilities, kept=best == previous)

    def _decided_without_lingua(self, scores: Mapping[str, float]) -> bool:
        """Whether lingua could not change the winner: it adds weight x log(confidence + 0.01) to each
        language, a spread of at most weight x log(101), so a larger lead is decided. Lingua is most of
        detecting's time (0.10 ms a message with it every time, 0.05 with this, on the held-out and FAQ
        texts); the confidence reported then leaves its evidence out."""
        best, second = sorted(scores.values(), reverse=True)[:2]
        return best - second > self.settings.lingua_weight * math.log(101.0)


def _softmax(scores: Mapping[str, float]) -> dict[str, float]:
    top = max(scores.values())
    weights = {k: math.exp(v - top) for k, v in scores.items()}
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}


def lexicon_texts(knowledge: KnowledgeBase, intent_examples: IntentExamples) -> dict[str, list[str]]:
    """Per language, every text the knowledge base and the intents have in it: the lexicon's training data."""
    texts: dict[str, list[str]] = {language: [] for language in LANGUAGES}
    for entry in knowledge.entries.values():
        for language, questions in entry.questions.items():
            texts[language] += questions
    for language, intents in intent_examples.items():
        for examples in intents.values():
            texts[language] += examples
    return texts
