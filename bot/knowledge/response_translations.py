"""Check that every bot response in `domain.yml` exists in every language (`supportbot faq lint`).

A response is translated with Rasa's conditional response variations on the
`language` slot; a language without its variant gets the plain (English) one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from bot.knowledge.loader import Problem
from bot.knowledge.schema import DEFAULT_LANGUAGE, LANGUAGES, Location
from bot.names import SLOT_LANGUAGE


def missing_response_translations(domain_path: str | Path) -> list[Problem]:
    """A warning per response that lacks a variant for some language; an error if the file is unreadable."""
    path = Path(domain_path)
    try:
        domain = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        return [Problem(Location(str(path), 0), f"cannot read the domain: {error}", rule="response-translation")]
    problems = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for name, variants in (domain.get("responses") or {}).items():
        languages = {_language_of(v) for v in variants or []}
        missing = [lang for lang in LANGUAGES if lang != DEFAULT_LANGUAGE and lang not in languages]
        if missing:
            line = next((i for i, text in enumerate(lines, 1) if text.strip() == f"{name}:"), 0)
            problems.append(
                Problem(
                    Location(str(path), line),
                    f"response {name!r} has no {', '.join(missing)} variant; those customers get the English one",
                    "warning",
                    rule="response-translation",
                )
            )
    return problems


def _language_of(variant: dict) -> str | None:
    for condition in variant.get("condition") or []:
        if condition.get("type") == "slot" and condition.get("name") == SLOT_LANGUAGE:
            return str(condition.get("value"))
    return None


def variant_for(variants: list[dict], language: str) -> dict | None:
    """The variant written for `language` (English: the one without a language condition), or None."""
    wanted = None if language == DEFAULT_LANGUAGE else language
    return next((v for v in variants if _language_of(v) == wanted), None)


def response_text(responses: Mapping[str, list[dict]], name: str, language: str, default: str) -> str:
    """A response's text in `language`: its variant for that language, else the English one, else `default`."""
    variants = responses.get(name) or []
    variant = variant_for(variants, language) or variant_for(variants, DEFAULT_LANGUAGE)
    return variant.get("text", default) if variant else default
