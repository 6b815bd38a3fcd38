"""Read the matcher's and the fallback's settings from `config.yml`, where the thresholds live.

Used outside Rasa (CLI, benchmarks) so that they decide exactly as the bot does.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from bot.language.detection import DetectorSettings
from bot.matching.decision import FallbackThresholds
from bot.matching.index import IndexSettings
from bot.matching.matcher import MatcherSettings

DETECTOR = "bot.nlu.language_detector.LanguageDetectorComponent"
CLASSIFIER = "bot.nlu.faq_classifier.FuzzyFaqClassifier"
FALLBACK = "FallbackClassifier"


class ConfigError(Exception):
    """config.yml lacks something the bot needs; the message names it."""


@dataclass(frozen=True)
class PipelineConfig:
    faq_path: Path
    nlu_path: Path
    matcher: MatcherSettings
    fallback: FallbackThresholds
    detector: DetectorSettings


def _component(pipeline: list[dict[str, Any]], name: str, path: Path) -> dict[str, Any]:
    for component in pipeline:
        if component.get("name") == name:
            return component
    raise ConfigError(f"{path}: the pipeline has no {name!r} component")


def _pick(settings_class: type, entry: dict[str, Any], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    names = {f.name for f in fields(settings_class)} - set(skip)
    return {k: v for k, v in entry.items() if k in names}


def matcher_settings(classifier: dict[str, Any]) -> MatcherSettings:
    """The matcher's settings from the classifier's entry in `config.yml` (missing keys: defaults)."""
    picked = _pick(MatcherSettings, classifier, skip=("index",))
    for key in ("courtesy_intents", "form_intents"):
        if key in picked:
            picked[key] = tuple(picked[key])
    return MatcherSettings(index=IndexSettings(**_pick(IndexSettings, classifier)), **picked)


def detector_settings(detector: dict[str, Any]) -> DetectorSettings:
    """The language detector's settings from its entry in `config.yml` (missing keys: defaults)."""
    return DetectorSettings(**_pick(DetectorSettings, detector))


def read_pipeline_config(path: str | Path = "config.yml") -> PipelineConfig:
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path} not found; run from the project folder or pass --config") from None
    pipeline = document.get("pipeline") or []
    classifier = _component(pipeline, CLASSIFIER, path)
    fallback = _component(pipeline, FALLBACK, path)
    matcher = matcher_settings(classifier)
    base = path.parent
    return PipelineConfig(
        faq_path=base / classifier.get("faq_path", "faq"),
        nlu_path=base / classifier.get("nlu_path", "data/nlu"),
        matcher=matcher,
        fallback=FallbackThresholds(**_pick(FallbackThresholds, fallback)),
        detector=detector_settings(_component(pipeline, DETECTOR, path)),
    )
