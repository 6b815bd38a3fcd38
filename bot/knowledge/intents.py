"""Read the conversational intents' examples (greet, thanks, …) from `data/nlu/`.

The files are Rasa's own NLU YAML, so Rasa validates them at `rasa train`; this
reader only needs the intent names and example texts for the fuzzy matcher,
without importing Rasa.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

# `[12345](order_number)` annotations in examples: keep the text only.
_ENTITY_ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\{[^}]*\}")


def load_intent_examples(folder: str | Path) -> dict[str, list[str]]:
    """Intent name -> example texts from every `*.yml` file in `folder`."""
    examples: dict[str, list[str]] = {}
    for path in sorted(Path(folder).glob("*.yml")):
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
