"""What the bot does with a match: answer, ask "did you mean", or admit it does not know.

In the running bot Rasa's `FallbackClassifier` applies the two thresholds and
the dialogue rules act on its verdict; this module states the same decision in
plain Python for `supportbot faq eval` and the benchmarks, reading the same
thresholds from `config.yml`. An integration test checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.matching.matcher import MatchResult

ANSWER = "answer"  # an FAQ entry is answered
INTENT = "intent"  # a conversational intent (greet, human_handoff, out_of_scope, …) is acted on
SUGGEST = "suggest"  # "did you mean" with candidates
DONT_KNOW = "dont_know"  # nothing close enough


@dataclass(frozen=True)
class FallbackThresholds:
    """Rasa FallbackClassifier's settings, as in `config.yml`."""

    threshold: float = 0.5  # below this top score the message is a fallback
    ambiguity_threshold: float = 0.1  # top two closer than this: a fallback too


@dataclass(frozen=True)
class Decision:
    kind: str  # ANSWER, INTENT, SUGGEST or DONT_KNOW
    label: str | None  # the FAQ id answered or the intent acted on
    why: str  # the evidence in words, for eval output and logs

    @property
    def outcome(self) -> str:
        """What `faq eval` compares with `expect`: an FAQ id, an intent, or "out_of_scope"."""
        if self.kind in (ANSWER, INTENT) and self.label:
            return self.label
        return "out_of_scope" if self.kind == DONT_KNOW else "did_you_mean"


def decide(result: MatchResult, thresholds: FallbackThresholds) -> Decision:
    best = result.best
    if best is None:
        return Decision(DONT_KNOW, None, "no word of the message is in the knowledge base")
    if best.score < thresholds.threshold:
        return _fallback(result, f"top score {best.score:.2f} < {thresholds.threshold}")
    if len(result.ranking) > 1 and best.score - result.ranking[1].score < thresholds.ambiguity_threshold:
        second = result.ranking[1]
        return _fallback(result, f"{best.label} {best.score:.2f} and {second.label} {second.score:.2f} too close")
    why = f"{best.label} {best.score:.2f}, nearest phrasing {best.phrasing!r}"
    return Decision(ANSWER if best.is_faq else INTENT, best.label, why)


def _fallback(result: MatchResult, why: str) -> Decision:
    candidates = result.faq_candidates
    if candidates:
        return Decision(SUGGEST, candidates[0].label, why + "; suggesting " + ", ".join(c.label for c in candidates))
    return Decision(DONT_KNOW, None, why + "; no FAQ entry close enough to suggest")
