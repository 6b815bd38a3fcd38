"""Rasa's default pipeline (DIET + ResponseSelector + FallbackClassifier), the anchor we compare with.

Writes training data as Rasa NLU YAML, trains with Rasa's own default `config.yml`
(the one `rasa init` ships, pipeline filled in by Rasa's recipe) in a subprocess
and loads the model in-process to parse.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

# Rasa 3.6's default pipeline and policies, as `rasa init` and Rasa's recipe spell them out.
DEFAULT_CONFIG = """\
recipe: default.v1
language: en
assistant_id: benchmark
pipeline:
  - name: WhitespaceTokenizer
  - name: RegexFeaturizer
  - name: LexicalSyntacticFeaturizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: DIETClassifier
    epochs: 100
    constrain_similarities: true
  - name: EntitySynonymMapper
  - name: ResponseSelector
    epochs: 100
    constrain_similarities: true
  - name: FallbackClassifier
    threshold: 0.3
    ambiguity_threshold: 0.1
policies:
  - name: MemoizationPolicy
  - name: RulePolicy
  - name: UnexpecTEDIntentPolicy
    max_history: 5
    epochs: 100
  - name: TEDPolicy
    max_history: 5
    epochs: 100
    constrain_similarities: true
"""


def _block(examples: Iterable[str]) -> str:
    return "".join(f"- {' '.join(e.split())}\n" for e in examples)


def write_nlu_project(folder: Path, intents: Mapping[str, list[str]]) -> None:
    """A Rasa project with only NLU data: one intent per label."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "config.yml").write_text(DEFAULT_CONFIG)
    nlu = {"version": "3.1", "nlu": [{"intent": name, "examples": _block(texts)} for name, texts in intents.items()]}
    (folder / "data" / "nlu.yml").write_text(yaml.safe_dump(nlu, allow_unicode=True, sort_keys=False))
    domain = {"version": "3.1", "intents": list(intents)}
    (folder / "domain.yml").write_text(yaml.safe_dump(domain, sort_keys=False))


def train_nlu(folder: Path) -> tuple[Path, float]:
    """Train with the `rasa` next to this Python; returns the model and the seconds it took."""
    rasa = Path(sys.executable).with_name("rasa")
    started = time.perf_counter()
    subprocess.run(
        [str(rasa), "train", "nlu", "--config", "config.yml", "--nlu", "data", "--out", "models", "--fixed-model-name", "nlu"],
        cwd=folder, check=True, stdout=subprocess.DEVNULL,
    )
    return folder / "models" / "nlu.tar.gz", time.perf_counter() - started


class RasaParser:
    """Parses texts with a trained Rasa NLU model, in this process."""

    def __init__(self, model: Path) -> None:
        from rasa.core.agent import Agent  # imported here: TensorFlow takes seconds to load

        self._agent = Agent.load(str(model))
        self._loop = asyncio.new_event_loop()

    def parse(self, text: str) -> dict:
        return self._loop.run_until_complete(self._agent.parse_message(text))
