"""Map the words customers use to the knowledge base's own words ("parcel" -> "order").

Editors list synonym groups in `faq/synonyms.yml`, per language. Variants may
be phrases ("money back"); they are normalised like messages, then replaced by
the group's canonical word, longest phrase first, in phrasings and messages alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.matching.normalise import normaliser_for


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
        # Single words the variants use: typos of these are worth repairing too.
        self.variant_words: frozenset[str] = frozenset(w for p in self._phrases for w in p)

    def apply(self, words: Sequence[str]) -> tuple[str, ...]:
        if not self._phrases:
            return tuple(words)
        result: list[str] = []
        i = 0
        while i < len(words):
            for length in range(min(self._longest, len(words) - i), 0, -1):
                target = self._phrases.get(tuple(words[i : i + length]))
                if target is not None:
                    result.extend(target)
                    i += length
                    break
            else:
                result.append(words[i])
                i += 1
        return tuple(result)
