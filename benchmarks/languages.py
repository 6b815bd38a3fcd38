"""Five languages: accuracy per language and language detection, ours against Rasa's default pipeline.

    python -m benchmarks.languages [--quick] [--out docs/benchmarks.md]

Both are given the same multilingual data: every FAQ entry's phrasings in all five languages
and the conversational intents' examples in all five. Both are tested on the held-out sets
`tests/data/heldout_<lang>.yml` (written blind to `faq/`); ours detects each message's
language as the bot does (a first message, no conversation yet). Detection is also scored on
the held-out conversations `tests/data/conversations_<lang>.yml` (message by message, with the
conversation's language carried over), and timed per message in this process.

Rasa's default pipeline has no "did you mean": its "among the candidates" is its top three
labels. The section is written between markers into the report, so the rest of
`docs/benchmarks.md` (from `make bench`) stays as it was.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

os.environ["RASA_TELEMETRY_ENABLED"] = "false"  # before anything imports Rasa

import yaml

from benchmarks import rasa_default
from bot.evaluation import OUT_OF_SCOPE, Case, evaluate, load_cases
from bot.knowledge.intents import load_intent_examples
from bot.knowledge.loader import load_knowledge_base
from bot.language.detection import LanguageDetector
from bot.matching.live import matcher_with_intents
from bot.pipeline_config import read_pipeline_config
from tests.servers import ROOT

LANGUAGES = ("en", "ms", "id", "tl", "vi")
DATA = ROOT / "tests" / "data"
RESULTS = ROOT / "benchmarks" / "results"
START, END = "<!-- languages:start -->", "<!-- languages:end -->"
FALLBACK_INTENT = "nlu_fallback"


def held_out(language: str) -> list[Case]:
    return load_cases(DATA / f"heldout_{language}.yml")


def conversations(language: str) -> list[list[dict]]:
    path = DATA / f"conversations_{language}.yml"
    if not path.exists():
        return []
    return [c["messages"] for c in yaml.safe_load(path.read_text(encoding="utf-8"))["conversations"]]


def measure_ours(repeats: int) -> dict:
    config = read_pipeline_config(ROOT / "config.yml")
    knowledge = load_knowledge_base(config.faq_path).knowledge
    intents = load_intent_examples(config.nlu_path)
    matcher = matcher_with_intents(knowledge, config.nlu_path, config.matcher, intents)
    detector = LanguageDetector.for_knowledge(knowledge, intents, config.detector)
    accuracy = {}
    for language in LANGUAGES:
        row = evaluate(matcher, held_out(language), config.fallback, detector).accuracy_by_language()["all"]
        accuracy[language] = row
    detection = {}
    for language in LANGUAGES:
        messages = right = whole = 0
        convs = conversations(language)
        for conversation in convs:
            previous, all_right = None, True
            for message in conversation:
                detected = detector.detect(message["text"], previous).language
                previous = detected
                messages += 1
                right += detected == message["lang"]
                all_right &= detected == message["lang"]
            whole += all_right
        detection[language] = {
            "messages": messages,
            "per_message": right / messages if messages else None,
            "conversations": len(convs),
            "per_conversation": whole / len(convs) if convs else None,
        }
    texts = [c.text for language in LANGUAGES for c in held_out(language)]
    detect_ms = _time_each(lambda t: detector.detect(t, "en"), texts, repeats)
    match_ms = _time_each(lambda t: matcher.match(t, "en"), texts, repeats)
    return {"accuracy": accuracy, "detection": detection, "detect_ms": detect_ms, "match_ms": match_ms}


def _time_each(function: Callable[[str], object], texts: list[str], repeats: int) -> dict:
    for text in texts[:50]:  # warm-up: caches and lazy loads
        function(text)
    samples = []
    gc.collect()
    gc.disable()  # a collection pause is the interpreter's, not the detector's; the bot's process has them too
    try:
        for _ in range(repeats):
            for text in texts:
                began = time.perf_counter()
                function(text)
                samples.append((time.perf_counter() - began) * 1000)
    finally:
        gc.enable()
    samples.sort()
    return {
        "count": len(samples),
        "p50": statistics.median(samples),
        "p99": samples[int(0.99 * (len(samples) - 1))],
    }


def anchor_training_data() -> dict[str, list[str]]:
    """Label -> phrasings in every language: FAQ ids and conversational intents, as ours sees them."""
    knowledge = load_knowledge_base(ROOT / "faq").knowledge
    labels: dict[str, list[str]] = {}
    for entry in knowledge.entries.values():
        labels[entry.id] = [q for questions in entry.questions.values() for q in questions]
    for examples in load_intent_examples(ROOT / "data" / "nlu").values():
        for intent, texts in examples.items():
            labels.setdefault(intent, []).extend(texts)
    return {label: list(dict.fromkeys(texts)) for label, texts in labels.items()}


def measure_anchor(folder: Path) -> dict:
    data = anchor_training_data()
    faq_ids = {label for label in data if "." in label}
    rasa_default.write_nlu_project(folder, data)
    model, train_seconds = rasa_default.train_nlu(folder)
    parser = rasa_default.RasaParser(model)
    try:
        accuracy = {language: _anchor_scores(parser, held_out(language), faq_ids) for language in LANGUAGES}
    finally:
        parser.close()
    return {"accuracy": accuracy, "train_s": train_seconds, "phrasings": sum(map(len, data.values()))}


def _anchor_scores(parser: rasa_default.RasaParser, cases: list[Case], faq_ids: set[str]) -> dict:
    correct = top1 = among = in_scope = in_scope_right = oos = oos_answered = 0
    for case in cases:
        parsed = parser.parse(case.text)
        ranking = [r["name"] for r in parsed.get("intent_ranking", []) if r.get("name") != FALLBACK_INTENT]
        top = ranking[0] if ranking else None
        fell_back = (parsed.get("intent") or {}).get("name") == FALLBACK_INTENT
        answered = None if fell_back else top
        is_right = answered == case.expect or (case.expect == OUT_OF_SCOPE and answered in (None, OUT_OF_SCOPE))
        correct += is_right
        if case.expect == OUT_OF_SCOPE:
            oos += 1
            oos_answered += answered in faq_ids
        else:
            in_scope += 1
            in_scope_right += is_right
            top1 += top == case.expect
            among += is_right or case.expect in ranking[:3]
    return {
        "cases": len(cases),
        "accuracy": correct / len(cases),
        "in_scope_accuracy": in_scope_right / in_scope if in_scope else None,
        "top1": top1 / in_scope if in_scope else None,
        "among_candidates": among / in_scope if in_scope else None,
        "out_of_scope_answered": oos_answered / oos if oos else None,
    }


def render(summary: dict) -> str:
    ours, anchor = summary["ours"], summary.get("anchor") or {}
    percent = lambda v: "–" if v is None else f"{v:.1%}"  # noqa: E731
    lines = [
        START,
        "## Five languages",
        "",
        f"Command: `{summary['command']}` ({summary['when']}, {summary['duration_min']:.1f} min). Held-out sets: "
        "`tests/data/heldout_<lang>.yml` (3 phrasings per FAQ entry, 2 per intent, 10 out-of-scope, per language, "
        "written blind to `faq/`). Ours detects each message's language; Rasa's default pipeline (DIET) is trained "
        f"on the same {anchor.get('phrasings', '?')} multilingual phrasings"
        + (f" in {anchor['train_s']:.0f} s" if "train_s" in anchor else "")
        + (f" (results reused from {summary['anchor_from']})." if "anchor_from" in summary else ".")
        + " Its candidates are its top three labels (it has no \"did you mean\").",
        "",
        "| language | cases | top-1 ours | top-1 Rasa | in candidates ours | in candidates Rasa "
        "| answered right ours | answered right Rasa | in-scope answered right ours | in-scope answered right Rasa "
        "| out-of-scope answered ours | out-of-scope answered Rasa | language detected |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for language in LANGUAGES:
        o = ours["accuracy"][language]
        a = (anchor.get("accuracy") or {}).get(language, {})
        lines.append(
            f"| {language} | {o['cases']} | {percent(o['top1'])} | {percent(a.get('top1'))} "
            f"| {percent(o['among_candidates'])} | {percent(a.get('among_candidates'))} "
            f"| {percent(o['accuracy'])} | {percent(a.get('accuracy'))} "
            f"| {percent(o.get('in_scope_accuracy'))} | {percent(a.get('in_scope_accuracy'))} "
            f"| {percent(o['out_of_scope_answered'])} | {percent(a.get('out_of_scope_answered'))} "
            f"| {percent(o['language_detected'])} |"
        )
    lines += [
        "",
        "Targets: top-1 ≥ 90% and in candidates ≥ 97% in every language, out-of-scope answered ≤ 5%; "
        "in English, 95% of the in-scope phrasings answered right (issue 3). \"Answered right\" counts every case, "
        "out-of-scope ones included (ours is right only when it says it does not know: \"did you mean\" counts as "
        "wrong).",
        "",
        "Language detection on the held-out conversations (the conversation's language carried over):",
        "",
        "| language | messages | right per message | conversations | all messages right |",
        "|---|---|---|---|---|",
    ]
    for language, row in ours["detection"].items():
        lines.append(
            f"| {language} | {row['messages']} | {percent(row['per_message'])} | {row['conversations']} "
            f"| {percent(row['per_conversation'])} |"
        )
    d, m = ours["detect_ms"], ours["match_ms"]
    lines += [
        "",
        f"Detection time per message, in process, {d['count']} calls: p50 {d['p50']:.3f} ms, p99 {d['p99']:.3f} ms "
        f"(target ≤ 1 ms p99); matching the same messages: p50 {m['p50']:.3f} ms, p99 {m['p99']:.3f} ms.",
        "Targets: detection ≥ 95% per message on the held-out set, ≥ 99% per conversation.",
        END,
    ]
    return "\n".join(lines) + "\n"


def splice(report: Path, section: str) -> None:
    """Replace the languages section of `report` (or append it), leaving the rest untouched."""
    text = report.read_text(encoding="utf-8") if report.exists() else ""
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    report.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Accuracy per language and language detection, vs Rasa's default.")
    parser.add_argument("--quick", action="store_true", help="skip training Rasa's default pipeline")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"), help="report to write the section into")
    parser.add_argument("--anchor-from", type=Path,
                        help="reuse Rasa's results from an earlier run's raw JSON (its accuracy does not change "
                             "unless the data does; training it takes half an hour)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    summary: dict = {
        "command": "python -m benchmarks.languages" + (" --quick" if args.quick else ""),
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "ours": measure_ours(repeats=3 if args.quick else 20),
    }
    if args.anchor_from:
        summary["anchor"] = json.loads(args.anchor_from.read_text())["anchor"]
        summary["anchor_from"] = str(args.anchor_from)
        summary["command"] += f" --anchor-from {args.anchor_from}"
    elif not args.quick:
        with tempfile.TemporaryDirectory(prefix="supportbot-bench-languages-") as temp:
            summary["anchor"] = measure_anchor(Path(temp) / "anchor")
    summary["duration_min"] = (time.perf_counter() - started) / 60
    raw = RESULTS / f"languages-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps(summary, indent=1))
    section = render(summary)
    out = args.out if args.out.is_absolute() else ROOT / args.out
    splice(out, section)
    print(section)
    print(f"Wrote the languages section of {out}; raw results in {raw}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
