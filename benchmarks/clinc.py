"""CLINC150 accuracy: in-scope accuracy and out-of-scope recall, ours and Rasa's default pipeline.

Both learn the same phrasings (the first N training examples of each of the 150 intents).
Ours: the product's own `Matcher` over an in-memory knowledge base with one entry per intent,
with the settings in `config.yml`. The anchor: Rasa's default NLU pipeline trained on them.

A query counts as answered right when its top label is the intent and its score is at least
the threshold; an out-of-scope query counts as recognised when its top score is below it.
Two thresholds: (a) each system's own, as shipped (ours: the FallbackClassifier threshold in
config.yml on the calibrated score; the anchor: its FallbackClassifier, `nlu_fallback` = out of
scope); (b) tuned on val + oos_val to maximise in-scope accuracy + out-of-scope recall, as the
CLINC150 paper does.

Run alone: `python -m benchmarks.clinc [--ours-only] [--sizes 10 100] [--quick] [--docs FILE]` (the
anchor trains DIET for about seven minutes with 10 phrasings and over an hour with 100; `--ours-only`
skips it). `--docs` writes the table into its own section of the file (`make bench` keeps it);
`--from-results DIR` renders it from the per-query results an earlier run saved in DIR instead of
measuring. `python -m benchmarks.run` runs both sizes too (`--skip-rasa-clinc-full` skips the
anchor's hour).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from benchmarks import rasa_default, report
from benchmarks.scale_report import splice_between
from bot.knowledge.schema import FaqEntry, KnowledgeBase
from bot.matching.matcher import Matcher, MatcherSettings
from bot.pipeline_config import PipelineConfig, read_pipeline_config

START, END = "<!-- clinc:start -->", "<!-- clinc:end -->"
OUT_OF_SCOPE = "oos"
SPLITS = ("val", "oos_val", "test", "oos_test")  # val: tuning; test: reported
FALLBACK_INTENT = "nlu_fallback"


@dataclass(frozen=True)
class Prediction:
    text: str
    expect: str  # the intent, or "oos"
    top: str | None  # the system's best intent (before any fallback)
    score: float  # its score: ours calibrated, the anchor's DIET confidence
    fallback: bool  # the system's own verdict as shipped: not answered (out of scope / nlu_fallback)


def load(path: Path) -> dict[str, list[tuple[str, str]]]:
    """The splits of CLINC150's data_full.json as (text, intent) pairs; out-of-scope intents are "oos"."""
    return json.loads(path.read_text(encoding="utf-8"))


def phrasings(train: Sequence[tuple[str, str]], per_intent: int) -> dict[str, list[str]]:
    """The first `per_intent` training texts of each intent, in file order."""
    found: dict[str, list[str]] = {}
    for text, intent in train:
        texts = found.setdefault(intent, [])
        if len(texts) < per_intent:
            texts.append(text)
    return found


def queries(data: Mapping[str, list[tuple[str, str]]], every: int = 1) -> dict[str, list[tuple[str, str]]]:
    """The evaluation splits; `every` > 1 keeps every n-th query (for --quick)."""
    return {split: [tuple(pair) for pair in data[split][::every]] for split in SPLITS}


def knowledge_base(intents: Mapping[str, list[str]]) -> KnowledgeBase:
    """One FAQ entry `clinc.<intent>` per intent, its training texts as the English questions."""
    entries = {
        f"clinc.{intent}": FaqEntry(
            id=f"clinc.{intent}", title={"en": intent}, questions={"en": tuple(texts)}, answer={"en": intent}
        )
        for intent, texts in intents.items()
    }
    return KnowledgeBase(entries=entries, facts={}, fingerprint="clinc150")


def build_matcher(intents: Mapping[str, list[str]], settings: MatcherSettings) -> tuple[Matcher, float]:
    """The product's matcher over the intents' phrasings, and the seconds indexing took (ours' "training")."""
    started = time.perf_counter()
    matcher = Matcher(knowledge_base(intents), intent_examples={}, settings=settings)
    return matcher, time.perf_counter() - started


def predict_ours(
    matcher: Matcher, split_queries: Mapping[str, list[tuple[str, str]]], threshold: float
) -> dict[str, list[Prediction]]:
    """The matcher's best label per query; `threshold` is the FallbackClassifier's, for the shipped verdict."""
    predictions = {}
    for split, pairs in split_queries.items():
        predictions[split] = []
        for text, expect in pairs:
            best = matcher.match(text).best
            top = best.label.removeprefix("clinc.") if best else None
            score = best.score if best else 0.0
            predictions[split].append(Prediction(text, expect, top, score, score < threshold))
    return predictions


def predict_rasa(
    parser: rasa_default.RasaParser, split_queries: Mapping[str, list[tuple[str, str]]]
) -> dict[str, list[Prediction]]:
    """The anchor's best intent per query; its FallbackClassifier's `nlu_fallback` is the shipped verdict."""
    predictions = {}
    for split, pairs in split_queries.items():
        predictions[split] = []
        for text, expect in pairs:
            parsed = parser.parse(text)
            ranking = [r for r in parsed.get("intent_ranking", []) if r.get("name") != FALLBACK_INTENT]
            top = ranking[0] if ranking else {"name": None, "confidence": 0.0}
            fallback = (parsed.get("intent") or {}).get("name") == FALLBACK_INTENT
            predictions[split].append(Prediction(text, expect, top["name"], float(top["confidence"]), fallback))
    return predictions


def _rates(predictions: Sequence[Prediction], answered: np.ndarray) -> tuple[float, float]:
    """(in-scope accuracy, out-of-scope recall), `answered[i]` saying whether prediction i was answered."""
    in_scope = np.array([p.expect != OUT_OF_SCOPE for p in predictions])
    right = np.array([p.top == p.expect for p in predictions])
    accuracy = float(np.mean((right & answered)[in_scope])) if in_scope.any() else 0.0
    recall = float(np.mean(~answered[~in_scope])) if (~in_scope).any() else 0.0
    return accuracy, recall


def at_threshold(predictions: Sequence[Prediction], threshold: float) -> tuple[float, float]:
    return _rates(predictions, np.array([p.score >= threshold for p in predictions]))


def as_shipped(predictions: Sequence[Prediction]) -> tuple[float, float]:
    return _rates(predictions, np.array([not p.fallback for p in predictions]))


def _curve(predictions: Sequence[Prediction]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, in-scope accuracy, out-of-scope recall) at every score and above the highest, ascending."""
    scores = np.array([p.score for p in predictions])
    thresholds = np.unique(np.concatenate([scores, [0.0, np.nextafter(scores.max(), 2.0)]]))
    in_scope = np.array([p.expect != OUT_OF_SCOPE for p in predictions])
    right = np.array([p.top == p.expect for p in predictions]) & in_scope
    answered = scores[None, :] >= thresholds[:, None]  # thresholds x predictions
    accuracy = (answered & right).sum(axis=1) / max(1, in_scope.sum())
    recall = (~answered & ~in_scope).sum(axis=1) / max(1, (~in_scope).sum())
    return thresholds, accuracy, recall


def tune_threshold(predictions: Sequence[Prediction]) -> float:
    """The threshold maximising in-scope accuracy + out-of-scope recall on `predictions` (val + oos_val)."""
    thresholds, accuracy, recall = _curve(predictions)
    return float(thresholds[int(np.argmax(accuracy + recall))])


def accuracy_at_recall(predictions: Sequence[Prediction], recall: float) -> float:
    """In-scope accuracy at the lowest threshold whose out-of-scope recall on `predictions` is at
    least `recall`: a point of the system's accuracy/recall curve, comparable across systems at the
    same recall (the threshold is found on the evaluated queries themselves: not a deployable setting)."""
    _, accuracies, recalls = _curve(predictions)
    reached = np.flatnonzero(recalls >= recall)
    return float(accuracies[reached[0]]) if reached.size else 0.0


CURVE_RECALLS = (0.85, 0.90)  # out-of-scope recall levels the curve is compared at


def evaluate(predictions: Mapping[str, list[Prediction]]) -> dict:
    """Top-1, (a) as shipped, (b) with the threshold tuned on val and points of the curve, on test + oos_test."""
    val = predictions["val"] + predictions["oos_val"]
    test = predictions["test"] + predictions["oos_test"]
    tuned = tune_threshold(val)
    shipped = as_shipped(test)
    at_tuned = at_threshold(test, tuned)
    return {
        "top1": float(np.mean([p.top == p.expect for p in predictions["test"]])),
        "shipped": {"in_scope_accuracy": shipped[0], "oos_recall": shipped[1]},
        "tuned": {"in_scope_accuracy": at_tuned[0], "oos_recall": at_tuned[1], "threshold": tuned},
        "at_recall": {f"{r:.2f}": accuracy_at_recall(test, r) for r in CURVE_RECALLS},
        "queries": {split: len(p) for split, p in predictions.items()},
    }


def save(path: Path, predictions: Mapping[str, list[Prediction]], summary: dict) -> None:
    """Raw per-query results, so a long run can be inspected afterwards."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"summary": summary, "predictions": {s: [asdict(p) for p in ps] for s, ps in predictions.items()}}
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False))


def measure_ours(
    intents: Mapping[str, list[str]], split_queries: Mapping[str, list[tuple[str, str]]],
    config: PipelineConfig, out: Path,
) -> dict:
    """Ours on these phrasings, with the matcher settings and fallback threshold of `config.yml`."""
    matcher, build_seconds = build_matcher(intents, config.matcher)
    began = time.perf_counter()
    predictions = predict_ours(matcher, split_queries, config.fallback.threshold)
    summary = {**evaluate(predictions), "own_threshold": config.fallback.threshold,
               "build_s": build_seconds, "predict_s": time.perf_counter() - began}
    save(out, predictions, summary)
    return summary


def measure_anchor(
    intents: Mapping[str, list[str]], split_queries: Mapping[str, list[tuple[str, str]]], folder: Path, out: Path
) -> dict:
    """Rasa's default NLU pipeline trained (in `folder`) on these phrasings, then parsing in this process."""
    rasa_default.write_nlu_project(folder, intents)
    model, train_seconds = rasa_default.train_nlu(folder)
    parser = rasa_default.RasaParser(model)
    began = time.perf_counter()
    try:
        predictions = predict_rasa(parser, split_queries)
    finally:
        parser.close()
    summary = {**evaluate(predictions), "own_threshold": rasa_default.fallback_threshold(),
               "train_s": train_seconds, "predict_s": time.perf_counter() - began}
    save(out, predictions, summary)
    return summary


def from_results(path: Path) -> dict:
    """A saved run's summary, evaluated again from its per-query results (so newer measures appear)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    predictions = {split: [Prediction(**p) for p in ps] for split, ps in document["predictions"].items()}
    return {**document["summary"], **evaluate(predictions)}


def render_section(results: Mapping[int, Mapping[str, dict]], command: str, when: str) -> str:
    rows = [row for size, cell in sorted(results.items())
            for row in report._clinc_size_rows(f"CLINC-{size} ({size} phrasings/intent)", cell)]
    return (
        f"{START}\n## CLINC150, run on its own\n\nCommand: `{command}`, {when}. The same measurement as "
        "the CLINC150 table above (see how each number is measured), for the sizes this run measured, both "
        f"systems in this one run.\n\n{report.table(rows)}\n{END}\n"
    )


def _line(name: str, summary: dict) -> str:
    shipped, tuned = summary["shipped"], summary["tuned"]
    return (
        f"{name}: top-1 {summary['top1']:.1%}; (a) own threshold: in-scope {shipped['in_scope_accuracy']:.1%}, "
        f"out-of-scope recall {shipped['oos_recall']:.1%}; (b) tuned on val ({tuned['threshold']:.3f}): "
        f"in-scope {tuned['in_scope_accuracy']:.1%}, out-of-scope recall {tuned['oos_recall']:.1%}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.clinc", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/clinc150/data_full.json"),
                        help="CLINC150's data_full.json")
    parser.add_argument("--config", type=Path, default=Path("config.yml"), help="Rasa config with our settings")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100], help="phrasings per intent")
    parser.add_argument("--ours-only", action="store_true", help="skip Rasa's default pipeline (trains DIET)")
    parser.add_argument("--quick", action="store_true", help="every 10th evaluation query")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="folder for per-query JSON")
    parser.add_argument("--docs", type=Path, help="markdown report to write this run's section into")
    parser.add_argument("--from-results", type=Path, metavar="DIR",
                        help="render the per-query results an earlier run saved in DIR instead of measuring")
    args = parser.parse_args(argv)
    command = " ".join(["python -m benchmarks.clinc", *(sys.argv[1:] if argv is None else argv)])
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results: dict[int, dict[str, dict]] = {}
    if args.from_results:
        for size in args.sizes:
            cell = results[size] = {}
            for who in ("ours", "anchor"):
                path = args.from_results / f"clinc{size}_{who}.json"
                cell[who] = from_results(path) if path.exists() else {"not_run": f"no {path.name}"}
        when = f"rendered {when} from the results saved in {args.from_results}"
        print(render_section(results, command, when))
    elif not measure(args, results):
        return 2
    if args.docs:
        splice_between(args.docs, START, END, render_section(results, command, when))
    return 0


def measure(args: argparse.Namespace, results: dict[int, dict[str, dict]]) -> bool:
    """Both systems at each size of `args` into `results`; False when the data is missing."""
    if not args.data.exists():
        print(f"{args.data}: not found (CLINC150's data_full.json from clinc/oos-eval)", file=sys.stderr)
        return False
    data = load(args.data)
    split_queries = queries(data, 10 if args.quick else 1)
    config = read_pipeline_config(args.config)
    for size in args.sizes:
        intents = phrasings(data["train"], size)
        ours = measure_ours(intents, split_queries, config, args.out / f"clinc{size}_ours.json")
        results[size] = {"ours": ours, "anchor": {"not_run": "--ours-only"}}
        print(_line(f"CLINC-{size} ours", ours), flush=True)
        if not args.ours_only:
            with tempfile.TemporaryDirectory() as folder:
                summary = measure_anchor(intents, split_queries, Path(folder), args.out / f"clinc{size}_anchor.json")
            results[size]["anchor"] = summary
            print(_line(f"CLINC-{size} Rasa default pipeline", summary), flush=True)
    return True


if __name__ == "__main__":
    sys.exit(main())
