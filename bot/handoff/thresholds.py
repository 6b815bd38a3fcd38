"""When the bot offers a person and how long a customer waits for one: the `handoff:` section of endpoints.yml.

Read by the action server (the offers) and the Rasa server (the wait); Rasa itself ignores the section.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class HandoffThresholds:
    misses_before_offer: int = 2  # messages in a row the bot did not understand, then it offers a person
    not_helpful_before_offer: int = 2  # answers marked "not helpful" in a row, then it offers a person
    offer_when_upset: bool = True  # an upset message (angry words, threats, shouting) makes the bot offer a person
    wait_for_agent_seconds: float = 180.0  # a queued chat no agent claims in this time gets the ticket offer instead
    # A claimed chat whose agent's console has been closed this long goes back to the bot (and the ticket offer).
    agent_away_seconds: float = 300.0


def load_thresholds(path: str | Path) -> HandoffThresholds:
    """The thresholds in `path`'s `handoff:` section (defaults when it has none); ValueError names a bad key."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: cannot read the handoff settings: {error}") from None
    section = document.get("handoff") if isinstance(document, dict) else None
    if section is None:
        return HandoffThresholds()
    if not isinstance(section, dict):
        raise ValueError(f"{path}: `handoff:` must be a mapping")
    unknown = set(section) - set(HandoffThresholds.__dataclass_fields__)
    if unknown:
        raise ValueError(f"{path}: unknown handoff setting(s): {', '.join(sorted(unknown))}")
    defaults = HandoffThresholds()
    return HandoffThresholds(
        misses_before_offer=_count(path, section, "misses_before_offer", defaults.misses_before_offer),
        not_helpful_before_offer=_count(path, section, "not_helpful_before_offer", defaults.not_helpful_before_offer),
        offer_when_upset=_flag(path, section, "offer_when_upset", defaults.offer_when_upset),
        wait_for_agent_seconds=_seconds(path, section, "wait_for_agent_seconds", defaults.wait_for_agent_seconds),
        agent_away_seconds=_seconds(path, section, "agent_away_seconds", defaults.agent_away_seconds),
    )


def _count(path: Path, section: dict[str, Any], key: str, default: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{path}: handoff.{key} must be a whole number of at least 1, got {value!r}")
    return value


def _flag(path: Path, section: dict[str, Any], key: str, default: bool) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{path}: handoff.{key} must be true or false, got {value!r}")
    return value


def _seconds(path: Path, section: dict[str, Any], key: str, default: float) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{path}: handoff.{key} must be a positive number of seconds, got {value!r}")
    return float(value)
