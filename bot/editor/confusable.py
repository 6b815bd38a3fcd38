"""Questions of two FAQ entries that the matcher can hardly tell apart (a `supportbot faq lint` warning).

A customer who types one of them may get the other entry's answer, or a "did you mean" where a
clear answer was expected. The similarity is the matcher's own (the index's phrasing vectors,
after normalisation and synonyms), so lint reports what the bot will see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.knowledge.loader import Problem, question_key
from bot.knowledge.schema import Location
from bot.matching.index import PhrasingIndex
from bot.matching.matcher import ALL_NEGATIONS, Matcher

# Nearest-phrasing similarity (0-1) from which two entries' questions collide. On the repository's
# knowledge base this flags a handful of real near-misses ("bisa bayar pake GrabPay" vs "bayar pake
# grabpay error"); below 0.75 it flags phrasings that merely share a topic word. A question and its
# negation ("can I pay by card?", "I can't pay by card") are told apart by the negation's weight.
CONFUSABLE_SIMILARITY = 0.8


@dataclass(frozen=True)
class Question:
    entry_id: str
    text: str
    location: Location


@dataclass(frozen=True)
class Collision:
    """Two questions of different entries, in one language, closer than the threshold."""

    language: str
    similarity: float
    first: Question  # the one written first (file, then line): where lint reports the pair
    second: Question


def find_collisions(matcher: Matcher, threshold: float = CONFUSABLE_SIMILARITY) -> list[Collision]:
    """Each FAQ question's nearest question of another entry in its language, when at least `threshold`.

    Each pair of questions is reported once (two questions are often each other's nearest).
    """
    index, entries = matcher.index, matcher.knowledge.entries
    rows_of: dict[str, list[int]] = {}
    for row, phrasing in enumerate(index.phrasings):
        if phrasing.label in entries:
            rows_of.setdefault(phrasing.language, []).append(row)
    vectors = index.phrasing_vectors()
    found: dict[frozenset[int], Collision] = {}
    for language, rows in rows_of.items():
        block = vectors[rows]
        similarity = (block @ block.T).toarray()
        labels = np.array([index.phrasings[row].label for row in rows])
        similarity[labels[:, None] == labels[None, :]] = -1.0  # an entry's own questions may be alike
        for i, j in enumerate(similarity.argmax(axis=1)):
            if similarity[i, j] < threshold or _same_question(index, rows[i], rows[j]):
                continue
            if _negated(index, rows[i]) != _negated(index, rows[j]):
                continue  # "I can't pay by card" and "can I pay by card?": the negation tells them apart
            pair = sorted((_question(matcher, rows[i]), _question(matcher, rows[j])), key=_written_order)
            found.setdefault(
                frozenset((rows[i], rows[j])), Collision(language, round(float(similarity[i, j]), 3), *pair)
            )
    return sorted(found.values(), key=lambda c: _written_order(c.first))


def collision_problems(matcher: Matcher, threshold: float = CONFUSABLE_SIMILARITY) -> list[Problem]:
    """The collisions as lint warnings, at the first question's line."""
    return [
        Problem(
            c.first.location,
            f"{c.first.entry_id}: the {c.language} question {c.first.text!r} is {c.similarity:.2f} similar to "
            f"{c.second.text!r} of {c.second.entry_id} ({c.second.location}); the bot may confuse the two entries",
            "warning",
            rule="confusable-questions",
        )
        for c in find_collisions(matcher, threshold)
    ]


def _negated(index: PhrasingIndex, row: int) -> bool:
    return not ALL_NEGATIONS.isdisjoint(index.phrasings[row].words)


def _question(matcher: Matcher, row: int) -> Question:
    phrasing = matcher.index.phrasings[row]
    entry = matcher.knowledge.entries[phrasing.label]
    texts = entry.questions.get(phrasing.language, ())
    if phrasing.text not in texts:  # the entry's title, which the matcher also counts as a question
        return Question(entry.id, phrasing.text, entry.location)
    line = entry.lines_of(phrasing.language)[texts.index(phrasing.text)]
    return Question(entry.id, phrasing.text, Location(entry.location.file, line))


def _same_question(index: PhrasingIndex, first: int, second: int) -> bool:
    """The very same question, which the loader already reports as an error (duplicate-question)."""
    return question_key(index.phrasings[first].text) == question_key(index.phrasings[second].text)


def _written_order(question: Question) -> tuple[str, int, str]:
    return question.location.file, question.location.line, question.text
