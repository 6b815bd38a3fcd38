"""Measure how well the knowledge base answers a file of test cases (`supportbot faq eval`).

A case is `{text, lang, expect}`; `expect` is an FAQ id, an intent such as
`human_handoff` or `open_ticket`, or `out_of_scope` (the bot must not answer).
The message's language is detected from its text, as in the bot (a first
message, so no conversation to stick to), unless the case's `lang` is given.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.language.detection import LanguageDetector
from bot.matching.decision import Decision, FallbackThresholds, decide
from bot.matching.matcher import Matcher, MatchResult

OUT_OF_SCOPE = "out_of_scope"


class EvalFileError(Exception):
    """The cases file is unreadable or malformed; the message says where."""


@dataclass(frozen=True)
class Case:
    text: str
    lang: str
    expect: str


@dataclass(frozen=True)
class CaseResult:
    case: Case
    language: str  # detected (or given) language the message was matched in
    decision: Decision
    match: MatchResult

    @property
    def correct(self) -> bool:
        return self.decision.outcome == self.case.expect

    @property
    def top1(self) -> bool:
        """The best-ranked label is the expected one, whatever its score."""
        best = self.match.best
        return best is not None and best.label == self.case.expect

    @property
    def among_candidates(self) -> bool:
        """The expected entry is answered or among the "did you mean" buttons."""
        return self.correct or self.case.expect in {c.label for c in self.match.faq_candidates}

    @property
    def wrongly_answered(self) -> bool:
        """An out-of-scope message got an FAQ answer."""
        return self.case.expect == OUT_OF_SCOPE and self.decision.kind == "answer"

    @property
    def suggested(self) -> bool:
        """Not answered, but the expected entry was among the "did you mean" buttons."""
        return self.decision.outcome == "did_you_mean" and self.decision.label == self.case.expect


@dataclass
class Report:
    results: list[CaseResult] = field(default_factory=list)

    def accuracy_by_language(self) -> dict[str, dict[str, float]]:
        groups: dict[str, list[CaseResult]] = defaultdict(list)
        for r in self.results:
            groups[r.case.lang].append(r)
        groups["all"] = list(self.results)

        def share(results: list[CaseResult], passed: Callable[[CaseResult], bool]) -> float | None:
            return round(sum(map(passed, results)) / len(results), 4) if results else None

        table = {}
        for lang, rs in groups.items():
            in_scope = [r for r in rs if r.case.expect != OUT_OF_SCOPE]
            table[lang] = {
                "cases": len(rs),
                "accuracy": share(rs, lambda r: r.correct),
                "in_scope_accuracy": share(in_scope, lambda r: r.correct),
                "suggested": share(rs, lambda r: r.suggested),
                "top1": share(in_scope, lambda r: r.top1),
                "among_candidates": share(in_scope, lambda r: r.among_candidates),
                "out_of_scope_answered": share(
                    [r for r in rs if r.case.expect == OUT_OF_SCOPE], lambda r: r.wrongly_answered
                ),
                "language_detected": share(rs, lambda r: r.language == r.case.lang),
            }
        return table

    def confusions(self) -> list[tuple[str, str, int]]:
        """(expected, got, count), most frequent first."""
        counts = Counter((r.case.expect, r.decision.outcome) for r in self.results if not r.correct)
        return [(e, g, n) for (e, g), n in counts.most_common()]

    def as_dict(self) -> dict:
        return {
            "by_language": self.accuracy_by_language(),
            "confusions": [{"expected": e, "got": g, "count": n} for e, g, n in self.confusions()],
            "failures": [
                {
                    "text": r.case.text,
                    "lang": r.case.lang,
                    "detected_language": r.language,
                    "expected": r.case.expect,
                    "got": r.decision.outcome,
                    "why": r.decision.why,
                }
                for r in self.results
                if not r.correct
            ],
        }


def load_cases(path: str | Path) -> list[Case]:
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalFileError(f"{path}: no such file") from None
    except yaml.YAMLError as error:
        raise EvalFileError(f"{path}: not valid YAML: {error}") from None
    raw = document.get("cases") if isinstance(document, dict) else document
    if not isinstance(raw, list):
        raise EvalFileError(f"{path}: expected a list of cases (or a mapping with 'cases')")
    cases = []
    for number, item in enumerate(raw, 1):
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("text", "expect")):
            raise EvalFileError(f"{path}: case {number} needs 'text' and 'expect'")
        cases.append(Case(item["text"], str(item.get("lang", "en")), item["expect"]))
    return cases


def evaluate(
    matcher: Matcher, cases: list[Case], thresholds: FallbackThresholds, detector: LanguageDetector | None = None
) -> Report:
    """Match every case as the bot would; `detector` None means trusting each case's `lang`."""
    results = []
    for case in cases:
        language = detector.detect(case.text).language if detector else case.lang
        result = matcher.match(case.text, language)
        results.append(CaseResult(case, language, decide(result, thresholds), result))
    return Report(results)
