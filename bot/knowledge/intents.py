"""Read the conversational intents' examples (greet, thanks, …) from `data/nlu/`.

The files are Rasa's own NLU YAML, so Rasa validates them at `rasa train`; this
reader only needs the intent names and example texts for the fuzzy matcher,
without importing Rasa. Files directly in the folder are English; a subfolder
named after a language code (`data/nlu/ms/`) holds that language's examples.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.knowledge.schema import DEFAULT_LANGUAGE, LANGUAGES
from bot.names import DATA_ENTITIES

# `[12345](order_number)` annotations in examples: keep the text only.
_ENTITY_ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\{[^}]*\}")


def _language_folder(folder: Path, language: str) -> Path:
    return folder if language == DEFAULT_LANGUAGE else folder / language


def intent_files(folder: str | Path) -> list[Path]:
    """The NLU files the matcher reads: English ones in `folder`, others in its language subfolders."""
    return [p for lang in LANGUAGES for p in sorted(_language_folder(Path(folder), lang).glob("*.yml"))]


def load_intent_examples(folder: str | Path) -> dict[str, dict[str, list[str]]]:
    """Language -> intent name -> example texts, from `intent_files(folder)`."""
    examples = {}
    for language in LANGUAGES:
        found = _read_examples(sorted(_language_folder(Path(folder), language).glob("*.yml")))
        if found:
            examples[language] = found
    return examples


def _read_examples(paths: list[Path]) -> dict[str, list[str]]:
    examples: dict[str, list[str]] = {}
    for path in paths:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in document.get("nlu", []) or []:
            if "intent" not in item:
                continue  # synonyms, regexes and lookups are for Rasa's own components
            texts = examples.setdefault(str(item["intent"]), [])
            for line in str(item.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    texts.append(_ENTITY_ANNOTATION.sub(lambda m: m.group(1) or m.group(2), line[2:].strip()))
    return examples


def load_data_patterns(folder: str | Path) -> dict[str, tuple[re.Pattern[str], ...]]:
    """Entity -> the `regex:` patterns of the customer's data (order numbers, e-mails, ...) in `folder`'s
    English files, as Rasa's RegexEntityExtractor uses them (`case_sensitive: false`)."""
    patterns: dict[str, list[re.Pattern[str]]] = {}
    for path in sorted(Path(folder).glob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in document.get("nlu", []) or []:
            if item.get("regex") in DATA_ENTITIES:
                for line in str(item.get("examples", "")).splitlines():
                    if line.strip().startswith("- "):
                        patterns.setdefault(item["regex"], []).append(re.compile(line.strip()[2:], re.IGNORECASE))
    return {entity: tuple(found) for entity, found in patterns.items()}
