"""The knowledge base's data: FAQ entries and shop facts, as immutable values.

A `KnowledgeBase` is built by `bot.knowledge.loader` from the `faq/` folder and
never changed afterwards; a reload builds a new one and swaps it in whole.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

LANGUAGES: tuple[str, ...] = ("en", "ms", "id", "tl", "vi")
DEFAULT_LANGUAGE = "en"
SCHEMA_VERSION = 1

# `{fact_name}` in an answer refers to a shop fact defined once in facts.yml.
FACT_REFERENCE = re.compile(r"\{([a-z][a-z0-9_]*)\}")


@dataclass(frozen=True)
class Location:
    """Where something was written, for messages editors can act on."""

    file: str
    line: int  # 1-based; 0 when unknown

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class FaqEntry:
    """One curated answer and the ways customers ask for it."""

    id: str  # stable id such as "returns.policy"; what the dialogue, reports and tests use
    title: Mapping[str, str]  # language -> short title, shown on "did you mean" buttons
    questions: Mapping[str, tuple[str, ...]]  # language -> ways customers ask
    answer: Mapping[str, str]  # language -> answer text, may reference `{fact}`s
    tags: tuple[str, ...] = ()  # first tag is the category
    handoff: bool = False  # offer a person along with the answer
    updated: str | None = None  # ISO date of the last editorial change
    location: Location = field(default=Location("", 0), compare=False)
    # Where each text was written (1-based lines in `location.file`), for lint messages about one of them.
    answer_lines: Mapping[str, int] = field(default_factory=dict, compare=False)  # language -> line
    question_lines: Mapping[str, tuple[int, ...]] = field(default_factory=dict, compare=False)  # as `questions`

    def title_in(self, language: str) -> str:
        return self.title.get(language) or self.title[DEFAULT_LANGUAGE]

    def lines_of(self, language: str) -> tuple[int, ...]:
        """The line of each of the language's questions (the entry's line where unknown)."""
        known = self.question_lines.get(language, ())
        return tuple(known[i] if i < len(known) else self.location.line for i in range(len(self.questions[language])))


# A fact is one value for all languages or a per-language mapping.
FactValue = str | Mapping[str, str]


@dataclass(frozen=True)
class KnowledgeBase:
    """All entries (in file order) and shop facts of one version of `faq/`."""

    entries: Mapping[str, FaqEntry]
    facts: Mapping[str, FactValue]
    fingerprint: str  # hash of the files' contents: equal fingerprints, equal knowledge
    # language -> canonical word -> the variants customers write instead ("order": ["parcel", …])
    synonyms: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", MappingProxyType(dict(self.entries)))
        object.__setattr__(self, "facts", MappingProxyType(dict(self.facts)))
        object.__setattr__(self, "synonyms", MappingProxyType(dict(self.synonyms)))

    def fact(self, name: str, language: str) -> str:
        """A fact's text in `language`, English when that language has none."""
        value = self.facts[name]
        if isinstance(value, Mapping):
            return str(value.get(language) or value[DEFAULT_LANGUAGE])
        return str(value)

    def answer(self, entry_id: str, language: str) -> str:
        """The entry's answer in `language` (English when missing), facts filled in."""
        entry = self.entries[entry_id]
        text = entry.answer.get(language) or entry.answer[DEFAULT_LANGUAGE]
        return FACT_REFERENCE.sub(lambda m: self.fact(m.group(1), language), text)
