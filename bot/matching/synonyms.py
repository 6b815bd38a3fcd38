"""Map the words customers use to the knowledge base's own words ("parcel" -> "order").

Editors list synonym groups in `faq/synonyms.yml`, per language. Variants may
be phrases ("money back"); they are normalised like messages, then replaced by
the group's canonical word, longest phrase first, in phrasings and messages alike.

An English phrasal verb is also found with its object in between: the variant
"send back" matches "send the jacket back" (up to `MAX_GAP` words apart), so
editors need not list "send it back", "send my order back" and so on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.matching.normalise import normaliser_for

# Particles of separable phrasal verbs, per language: "send <something> back", "call <it> off".
PARTICLES: dict[str, frozenset[str]] = {"en": frozenset({"back", "up", "off", "out", "down", "over", "away"})}
MAX_GAP = 3  # words between the verb and its particle


class SynonymMap:
    """One language's variant phrases -> canonical words."""

    def __init__(self, groups: Mapping[str, Sequence[str]], language: str) -> None:
        normaliser = normaliser_for(language)
        self._phrases: dict[tuple[str, ...], tuple[str, ...]] = {}
        for canonical, variants in groups.items():
            target = tuple(normaliser.norms(canonical))
            for variant in variants:
                words = tuple(normaliser.norms(variant))
                if words and words != target:
                    self._phrases[words] = target
        self._longest = max((len(p) for p in self._phrases), default=0)
        particles = PARTICLES.get(language, frozenset())
        # verb -> particle -> canonical words, for two-word variants that a phrase's object may split.
        self._separable: dict[str, dict[str, tuple[str, ...]]] = {}
        for phrase, target in self._phrases.items():
            if len(phrase) == 2 and phrase[1] in particles:
                self._separable.setdefault(phrase[0], {})[phrase[1]] = target
        # Single words the variants use: typos of these are worth repairing too.
        self.variant_words: frozenset[str] = frozenset(w for p in self._phrases for w in p)

    def apply(self, words: Sequence[str]) -> tuple[str, ...]:
        if not self._phrases:
            return tuple(words)
        result: list[str] = []
        i = 0
        while i < len(words):
            # Longest first: a phrase, then a phrasal verb split by its object, then a single word.
            match = self._phrase_at(words, i, 2) or self._split_phrase(words, i) or self._phrase_at(words, i, 1)
            if match is None:
                result.append(words[i])
                i += 1
                continue
            replacement, i = match
            result.extend(replacement)
        return tuple(result)

    def _phrase_at(self, words: Sequence[str], i: int, shortest: int) -> tuple[tuple[str, ...], int] | None:
        """(canonical words, the position after the phrase) for the longest variant at words[i] of at least
        `shortest` words, if any."""
        for length in range(min(self._longest, len(words) - i), shortest - 1, -1):
            target = self._phrases.get(tuple(words[i : i + length]))
            if target is not None:
                return target, i + length
        return None

    def _split_phrase(self, words: Sequence[str], i: int) -> tuple[tuple[str, ...], int] | None:
        """(canonical words and the object, the position after the particle) when words[i] is a verb whose
        particle follows within MAX_GAP words: "send the package back" -> ("return", "the", "parcel")."""
        particles = self._separable.get(words[i])
        if not particles:
            return None
        for j in range(i + 2, min(i + 2 + MAX_GAP, len(words))):
            if words[j] in particles:
                return (*particles[words[j]], *self.apply(words[i + 1 : j])), j + 1
        return None
