"""Measure how well the knowledge base answers a file of test cases (`supportbot faq eval`).

A case is `{text, lang, expect}`; `expect` is an FAQ id, an intent such as
`human_handoff` or `open_ticket`, or `out_of_scope` (the bot must not answer).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.matching.decision import Decision, FallbackThresholds, decide
from bot.matching.matcher import Matcher


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
    decision: Decision

    @property
    def correct(self) -> bool:
        return self.decision.outcome == self.case.expect

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
        return {
            lang: {
                "cases": len(rs),
                "accuracy": round(sum(r.correct for r in rs) / len(rs), 4),
                "suggested": round(sum(r.suggested for r in rs) / len(rs), 4),
            }
            for lang, rs in groups.items()
            if rs
        }

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


def evaluate(matcher: Matcher, cases: list[Case], thresholds: FallbackThresholds) -> Report:
    return Report([CaseResult(case, decide(matcher.match(case.text, case.lang), thresholds)) for case in cases])
