"""Rasa's default pipeline (DIET + ResponseSelector + FallbackClassifier), the anchor we compare with.

Writes training data as Rasa YAML and trains with Rasa's own default `config.yml`
(the one `rasa init` ships, pipeline filled in by Rasa's recipe): an NLU-only
project for CLINC150, and a whole assistant (FAQ as a retrieval intent, small talk
as intents with responses, rules and stories) on the same data as ours. Parses
in-process with `RasaParser`.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from actions.faq import small_talk_reply
from benchmarks.training import rasa_train
from bot.knowledge.intents import load_intent_examples
from bot.knowledge.loader import load_knowledge_base
from bot.knowledge.schema import FACT_REFERENCE
from bot.names import ACTION_SMALL_TALK
from tests.servers import ROOT

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


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (example lists, answers) as literal blocks, the way Rasa's own files write them."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_Dumper.add_representer(str, _represent_text)


def _dump(path: Path, document: dict) -> None:
    path.write_text(yaml.dump(document, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000))


def write_nlu_project(folder: Path, intents: Mapping[str, list[str]]) -> None:
    """A Rasa project with only NLU data: one intent per label."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "config.yml").write_text(DEFAULT_CONFIG)
    _dump(folder / "data" / "nlu.yml",
          {"version": "3.1", "nlu": [{"intent": name, "examples": _block(texts)} for name, texts in intents.items()]})
    _dump(folder / "domain.yml", {"version": "3.1", "intents": list(intents)})


def fallback_threshold() -> float:
    """The FallbackClassifier threshold of Rasa's default pipeline, as DEFAULT_CONFIG sets it."""
    pipeline = yaml.safe_load(DEFAULT_CONFIG)["pipeline"]
    return float(next(c for c in pipeline if c["name"] == "FallbackClassifier")["threshold"])


def train_nlu(folder: Path) -> tuple[Path, float]:
    """Train the NLU-only project; returns the model and the seconds it took."""
    return rasa_train(folder, "nlu", folder / "train.log", nlu_only=True)


# What the anchor says for each conversational intent: the product's response for the same turn
# (from data/rules.yml where a rule utters one), else the response named here.
RESPONSE_FOR_INTENT = {
    "human_handoff": "utter_contact_a_person",
    "open_ticket": "utter_contact_a_person",
    "ticket_status": "utter_contact_a_person",
    "out_of_scope": "utter_out_of_scope",
}
FALLBACK_RESPONSE = "utter_dont_know"  # the anchor's answer to nlu_fallback


def retrieval_name(entry_id: str) -> str:
    """`returns.policy` -> `returns_policy`: the anchor's retrieval intent is `faq/returns_policy`."""
    return entry_id.replace(".", "_")


def write_faq_project(folder: Path, faq_path: Path = ROOT / "faq", nlu_path: Path = ROOT / "data" / "nlu") -> dict:
    """The anchor assistant on our data; returns counts of what it was given.

    NLU: our conversational intents (`data/nlu/*.yml`, copied as they are: regexes and entity
    examples included) plus every FAQ entry as the retrieval intent `faq/<id>` with its English
    questions. Responses: `utter_faq/<id>` with the English answer, facts filled in, and one
    response per conversational intent. Dialogue: `faq -> utter_faq`, one rule per conversational
    intent, `nlu_fallback -> utter_dont_know`, and the same turns as one-turn stories so that TED
    and UnexpecTED have stories to learn from, as in any project `rasa init` starts.
    """
    knowledge = load_knowledge_base(faq_path).knowledge
    intents = load_intent_examples(nlu_path)["en"]  # the comparison is in English
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    (folder / "config.yml").write_text(DEFAULT_CONFIG)
    (folder / "credentials.yml").write_text("rest:\n")
    for path in sorted(nlu_path.glob("*.yml")):
        shutil.copy2(path, data / path.name)
    _dump(data / "faq.yml", {"version": "3.1", "nlu": [
        {"intent": f"faq/{retrieval_name(entry.id)}", "examples": _block(entry.questions["en"])}
        for entry in knowledge.entries.values()
    ]})

    product = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    product_texts = {name: variants[0]["text"] for name, variants in product.get("responses", {}).items()}
    uttered = _uttered_by_rules(ROOT / "data" / "rules.yml")

    def filled(text: str) -> str:
        return FACT_REFERENCE.sub(lambda m: knowledge.fact(m.group(1), "en"), text)

    def response_of(intent: str) -> str:
        return uttered.get(intent) or RESPONSE_FOR_INTENT.get(intent, "utter_ok")

    responses = {f"utter_{intent}": [{"text": filled(product_texts[response_of(intent)])}] for intent in intents}
    responses["utter_default"] = [{"text": filled(product_texts[FALLBACK_RESPONSE])}]
    responses.update({
        f"utter_faq/{retrieval_name(entry.id)}": [{"text": knowledge.answer(entry.id, "en")}]
        for entry in knowledge.entries.values()
    })
    turns = [("faq", "utter_faq"), ("nlu_fallback", "utter_default")] + [(i, f"utter_{i}") for i in intents]
    _dump(data / "rules.yml", {"version": "3.1", "rules": [
        {"rule": f"{intent} -> {action}", "steps": [{"intent": intent}, {"action": action}]} for intent, action in turns
    ]})
    _dump(data / "stories.yml", {"version": "3.1", "stories": [
        {"story": f"{intent} -> {action}", "steps": [{"intent": intent}, {"action": action}]}
        for intent, action in turns if intent != "nlu_fallback"
    ]})
    _dump(folder / "domain.yml", {
        "version": "3.1",
        "intents": ["faq", *intents],
        "entities": sorted({e for e in product.get("entities", []) if e != "faq_id"}),
        "responses": responses,
        "actions": ["utter_faq"],
        "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
    })
    return {
        "intents": len(intents),
        "intent_examples": sum(len(v) for v in intents.values()),
        "faq_entries": len(knowledge.entries),
        "faq_questions": sum(len(e.questions["en"]) for e in knowledge.entries.values()),
    }


def _uttered_by_rules(rules_path: Path) -> dict[str, str]:
    """intent -> the response a one-turn rule of ours gives it: an `utter_...` action, or the reply of
    `action_small_talk` to a customer who is not upset."""
    rules = (yaml.safe_load(rules_path.read_text(encoding="utf-8")) or {}).get("rules", [])
    found = {}
    for rule in rules:
        steps = rule.get("steps", [])
        if len(steps) != 2 or "intent" not in steps[0]:
            continue
        intent, action = steps[0]["intent"], str(steps[1].get("action", ""))
        if action == ACTION_SMALL_TALK:
            action = small_talk_reply(intent)
        if action.startswith("utter_"):
            found.setdefault(intent, action)
    return found


def quiet_rasa_logging() -> None:
    """Rasa logs every parse at INFO/DEBUG; that costs time when parsing thousands of messages in-process."""
    logging.getLogger("rasa").setLevel(logging.WARNING)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


class RasaParser:
    """Parses texts with a trained Rasa NLU model, in this process."""

    def __init__(self, model: Path) -> None:
        from rasa.core.agent import Agent  # imported here: TensorFlow takes seconds to load

        quiet_rasa_logging()
        self._loop = asyncio.new_event_loop()
        self._agent = Agent.load(str(model))

    def parse(self, text: str) -> dict:
        return self._loop.run_until_complete(self._agent.parse_message(text))

    def close(self) -> None:
        self._loop.close()
