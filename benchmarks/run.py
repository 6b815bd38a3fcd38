"""`make bench`: measure ours against Rasa's default pipeline in one run and write docs/benchmarks.md.

    python -m benchmarks.run [--quick] [--skip-rasa-clinc-full] [--skip-languages] [--clinc PATH]
                             [--out docs/benchmarks.md]

Order: train both; serve the seeded knowledge base (ours, then the anchor: start-up, parse
latency, REST load, how fast an edit of faq/ is live (ours), memory); serve a generated
100,000-phrasing knowledge base (ours); CLINC150 accuracy (ours, then the anchor, which trains
DIET per size); the five languages (`benchmarks.languages`). A measurement that fails is
reported as failed and the run goes on. Every server started is stopped, every temporary folder
removed; raw results go to benchmarks/results/<time>/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

os.environ["RASA_TELEMETRY_ENABLED"] = "false"  # before anything imports Rasa; children inherit it

from benchmarks import (
    clinc,
    conversation_length,
    edit_live,
    generated_kb,
    languages,
    latency,
    rasa_default,
    rasa_floor,
    report,
    scale_report,
)
from benchmarks.servers import Server, start_anchor, start_ours
from benchmarks.training import copy_our_project, rasa_train
from bot.evaluation import load_cases
from bot.pipeline_config import read_pipeline_config
from tests.servers import ROOT

RESULTS = ROOT / "benchmarks" / "results"
HELDOUT = ROOT / "tests" / "data" / "heldout_en.yml"
DEFAULT_CLINC = Path("../shared/data/clinc150/data_full.json")
CONCURRENCY = (1, 8, 32)
LEVEL_SECONDS = 30.0  # each REST level stops after this many seconds, or its message count, whichever first
PARSE_SECONDS = 120.0  # the parse test stops after this many seconds, or its request count
WARMUP = 20
GENERATED_STARTUP_TIMEOUT = 1200.0  # seconds: loading and indexing 100,000 phrasings takes minutes on 2 cores


class Counts:
    """How much of each thing to do: full, or small for a smoke run (--quick)."""

    def __init__(self, quick: bool) -> None:
        self.our_train_runs = 1 if quick else 3  # the anchor trains once: it takes a quarter of an hour
        self.parse_requests = 100 if quick else 500
        self.rest_messages = 60 if quick else 400
        self.generated_entries = 1_000 if quick else 10_000
        self.generated_phrasings = 10
        self.generated_queries = 100 if quick else 500
        self.clinc_every = 10 if quick else 1  # keep every n-th evaluation query


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the support bot against Rasa's default pipeline.")
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--skip-rasa-clinc-full", action="store_true",
                        help="do not train DIET on all 15,000 CLINC150 phrasings (over an hour on 2 cores)")
    parser.add_argument("--clinc", type=Path, default=DEFAULT_CLINC,
                        help="CLINC150 data_full.json (relative paths: from the project root)")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"), help="markdown report to write")
    parser.add_argument("--skip-languages", action="store_true",
                        help="keep the report's five-languages section as it is (`make bench-languages` redoes it)")
    args = parser.parse_args(argv)
    flags = sys.argv[1:] if argv is None else argv
    # SIGTERM unwinds like Ctrl-C, so every server started is stopped and the temporary folder removed.
    signal.signal(signal.SIGTERM, _interrupt)

    started = time.perf_counter()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    raw = RESULTS / stamp
    raw.mkdir(parents=True, exist_ok=True)
    counts = Counts(args.quick)
    results: dict = {"concurrency_levels": list(CONCURRENCY), "meta": _meta(flags, args.quick)}
    print(f"Benchmark run {stamp}; raw results and logs in {raw}", flush=True)

    with tempfile.TemporaryDirectory(prefix="supportbot-bench-") as temp:
        work = Path(temp)
        models = _train(work, raw, counts, results)
        _seeded(work, raw, models, counts, results)
        _generated(work, raw, models.get("ours"), counts, args.clinc, results)
        _clinc(work, raw, counts, args, results)

    results["meta"]["duration_min"] = (time.perf_counter() - started) / 60
    results["meta"]["load_average_end"] = os.getloadavg()
    (raw / "summary.json").write_text(json.dumps(results, indent=1, default=str))
    markdown = report.render(results)
    out = args.out if args.out.is_absolute() else ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = out.read_text(encoding="utf-8") if out.exists() else ""
    out.write_text(markdown)
    print(markdown)
    if args.skip_languages:
        if languages.START in previous:  # keep the last languages section
            languages.splice(out, languages.START + previous.split(languages.START, 1)[1].split(languages.END)[0]
                             + languages.END + "\n")
    else:
        languages.main(["--out", str(out)] + (["--quick"] if args.quick else []))
    # Sections other benchmarks write (`make bench-scale`, `make bench-length`, `make bench-floor`,
    # `benchmarks.clinc --docs`): kept.
    kept_sections = [(scale_report.START, scale_report.END), (conversation_length.START, conversation_length.END),
                     (rasa_floor.START, rasa_floor.END), (clinc.START, clinc.END)]
    for start, end in kept_sections:
        if start in previous and end in previous:
            kept = previous.split(start, 1)[1].split(end, 1)[0]
            scale_report.splice_between(out, start, end, start + kept + end + "\n")
    note_misses_elsewhere(out)
    print(f"Wrote {out} in {(time.perf_counter() - started) / 60:.1f} min", flush=True)
    return 0


def note_misses_elsewhere(out: Path) -> None:
    """The targets line counts this run's rows; the misses of the CLINC150 run kept from an earlier
    command (the anchor's CLINC-100 trains for over an hour, so it runs on its own) are named there too."""
    text = out.read_text(encoding="utf-8")
    if clinc.START not in text or clinc.END not in text:
        return
    section = text.split(clinc.START, 1)[1].split(clinc.END, 1)[0]
    missed = [line.split("|")[1].strip() for line in section.splitlines() if "**MISSED**" in line]
    if missed:
        note = (f" in this run; the CLINC150 run on its own (its section below) **misses {len(missed)}**: "
                + "; ".join(missed))
        text = re.sub(r"(- Targets \(from the issue\): \*\*\d+ met, \d+ missed\*\*)", lambda m: m.group(1) + note,
                      text, count=1)
        out.write_text(text, encoding="utf-8")


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def _meta(flags: list[str], quick: bool) -> dict:
    command = " ".join(["python -m benchmarks.run", *flags])
    note = " (`make bench` runs `python -m benchmarks.run`" + (
        f"; this run added {' '.join(flags)})" if flags else ")")
    return {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "command": command,
        "command_note": note,
        "machine": report.machine(),
        "mode_note": "- **Smoke run (--quick): small counts; do not quote these numbers.**\n" if quick else "",
    }


def _attempt(what: str, function: Callable, *args):
    """Run one measurement; on failure print why and return `{"error": ...}` so the report says so."""
    print(f"[{time.strftime('%H:%M:%S')}] {what} ...", flush=True)
    began = time.perf_counter()
    try:
        result = function(*args)
    except Exception as error:  # one failed measurement must not lose the others
        traceback.print_exc()
        return {"error": f"{type(error).__name__}: {str(error)[:200]}"}
    print(f"[{time.strftime('%H:%M:%S')}] {what}: done in {time.perf_counter() - began:.1f} s", flush=True)
    return result


# ---- 1. training -----------------------------------------------------------------------------

def _train(work: Path, raw: Path, counts: Counts, results: dict) -> dict[str, tuple[Path, Path]]:
    """Train ours and the anchor; returns role -> (project folder, model)."""
    models: dict[str, tuple[Path, Path]] = {}
    train: dict = {}

    def ours():
        runs = []
        for attempt in range(counts.our_train_runs):  # seconds each: the median of a few is steadier
            project = copy_our_project(work / f"ours-project-{attempt}")
            model, seconds = rasa_train(project, "supportbot", raw / "logs" / f"train-ours-{attempt}.log")
            models["ours"] = (project, model)
            runs.append(seconds)
        train["ours_runs"] = runs
        return statistics.median(runs)

    def anchor():
        project = work / "anchor-project"
        train["anchor_data"] = rasa_default.write_faq_project(project)
        model, seconds = rasa_train(project, "anchor", raw / "logs" / "train-anchor.log")
        models["anchor"] = (project, model)
        return seconds

    train["ours"] = _attempt("rasa train: ours", ours)
    train["anchor"] = _attempt("rasa train: Rasa default pipeline on the same data", anchor)
    results["train"] = train
    return models


# ---- 2-5. serving ----------------------------------------------------------------------------

def _seeded(work: Path, raw: Path, models: dict, counts: Counts, results: dict) -> None:
    cases = load_cases(HELDOUT)
    texts = [c.text for c in cases]
    questions = [c.text for c in cases if "." in c.expect]  # FAQ ids look like topic.name
    seeded: dict = {}
    for role in ("ours", "anchor"):
        if role not in models:
            seeded[role] = {"not_run": "training failed"}
            continue
        project, model = models[role]
        faq_dir = None
        if role == "ours":
            start = partial(start_ours, work / "ours-seeded", model, raw / "logs" / "ours-seeded")
            faq_dir = work / "ours-seeded" / "faq"  # its own copy: edited to time hot reload
        else:
            start = partial(start_anchor, project, model, raw / "logs" / "anchor-seeded")
        seeded[role] = _attempt(f"serve seeded KB: {role}", _serve, start, texts, questions, counts, True, faq_dir)
        if "parse_responses" in seeded[role]:
            del seeded[role]["parse_responses"]
    results["seeded"] = seeded


def _serve(
    start: Callable[[], Server], texts: list[str], questions: list[str], counts: Counts, rest: bool,
    faq_dir: Path | None = None,
) -> dict:
    """Start-up, parse and REST latency, memory; with `faq_dir` (the server's faq/), how fast an edit is live."""
    server = start()
    try:
        cell: dict = {"startup_s": server.startup_seconds["rasa"], "startup_all_s": server.startup_seconds}
        print(f"    up in {cell['startup_s']:.1f} s", flush=True)
        parse = latency.parse_latency(server.url, server.token, texts, counts.parse_requests, WARMUP, PARSE_SECONDS)
        cell["parse"] = parse.summary()
        cell["parse_responses"] = parse.responses
        print(f"    parse: {_brief(cell['parse'])}", flush=True)
        if rest:
            latency.rest_load(server.url, questions, 1, 10, LEVEL_SECONDS)  # warm-up, not measured
            cell["rest"] = {}
            for level in CONCURRENCY:
                run = latency.rest_load(server.url, questions, level, counts.rest_messages, LEVEL_SECONDS)
                cell["rest"][str(level)] = run.summary()
                print(f"    REST x{level}: {_brief(cell['rest'][str(level)])}", flush=True)
        if faq_dir is not None:
            cell["edit_live"] = edit_live.measure(server.url, server.token, faq_dir)
            print(f"    edit live: {cell['edit_live']}", flush=True)
        cell["rss_rasa_mb"] = server.rss_mb("rasa")
        if "actions" in server.processes:
            cell["rss_actions_mb"] = server.rss_mb("actions")
        return cell
    finally:
        server.stop()


def _brief(summary: dict) -> str:
    rate = summary.get("throughput_per_s") or 0
    p50, p99 = summary.get("p50_ms") or 0, summary.get("p99_ms") or 0
    return (f"{summary['requests']} requests, {summary['errors']} errors, p50 {p50:.1f} ms, "
            f"p99 {p99:.1f} ms, {rate:.1f}/s")


def _generated(work: Path, raw: Path, ours: tuple[Path, Path] | None, counts: Counts, clinc_path: Path,
               results: dict) -> None:
    generated: dict = {"entries": counts.generated_entries, "phrasings_per_entry": counts.generated_phrasings}
    results["generated"] = generated
    if ours is None:
        generated["ours"] = {"not_run": "training failed"}
        return
    def serve():
        words: list[str] = []
        path = clinc_path if clinc_path.is_absolute() else ROOT / clinc_path
        if path.exists():
            words = generated_kb.topic_words(text for text, _ in clinc.load(path)["train"])
        folder = work / "generated-faq"
        phrasings = generated_kb.generate(folder, counts.generated_entries, counts.generated_phrasings, words)
        queries = generated_kb.noisy_queries(phrasings, counts.generated_queries)
        print(f"    generated {len(phrasings):,} phrasings in {folder}", flush=True)
        start = partial(start_ours, work / "ours-generated", ours[1], raw / "logs" / "ours-generated", folder,
                        GENERATED_STARTUP_TIMEOUT)
        cell = _serve(start, [q.text for q in queries], [], counts, rest=False)
        responses = cell.pop("parse_responses")
        right = [((r.get("faq") or {}).get("id") == q.entry_id) for q, r in zip(queries, responses, strict=False)]
        cell["top1"] = sum(right) / len(right) if right else None
        (raw / "generated_queries.json").write_text(json.dumps(
            [{"text": q.text, "expect": q.entry_id, "got": (r.get("faq") or {}).get("id")}
             for q, r in zip(queries, responses, strict=False)], indent=1))
        return cell

    size = counts.generated_entries * counts.generated_phrasings
    generated["ours"] = _attempt(f"serve generated KB ({size:,} phrasings): ours", serve)


# ---- 6. CLINC150 -----------------------------------------------------------------------------

def _clinc(work: Path, raw: Path, counts: Counts, args: argparse.Namespace, results: dict) -> None:
    path = args.clinc if args.clinc.is_absolute() else ROOT / args.clinc
    if not path.exists():
        print(f"CLINC150 data not found at {path}: it is data_full.json from the clinc/oos-eval repository "
              "(https://github.com/clinc/oos-eval, data/data_full.json); skipping the accuracy part.", flush=True)
        results["clinc"] = {"not_run": f"{path} not found (CLINC150 data_full.json from clinc/oos-eval)"}
        return
    data = clinc.load(path)
    split_queries = clinc.queries(data, counts.clinc_every)
    config = read_pipeline_config(ROOT / "config.yml")
    results["clinc"] = {}
    for size in (10, 100):
        intents = clinc.phrasings(data["train"], size)
        cell = results["clinc"][str(size)] = {}
        cell["ours"] = _attempt(f"CLINC-{size}: ours", clinc.measure_ours, intents, split_queries, config,
                                raw / f"clinc{size}_ours.json")
        _print_clinc(cell["ours"])
        if size == 100 and args.skip_rasa_clinc_full:
            cell["anchor"] = {"not_run": "--skip-rasa-clinc-full"}
            continue
        cell["anchor"] = _attempt(
            f"CLINC-{size}: Rasa default pipeline (trains DIET)", clinc.measure_anchor,
            intents, split_queries, work / f"anchor-clinc{size}", raw / f"clinc{size}_anchor.json",
        )
        _print_clinc(cell["anchor"])


def _print_clinc(summary: dict) -> None:
    if "error" in summary:
        return
    shipped, tuned = summary["shipped"], summary["tuned"]
    print(f"    top-1 {summary['top1']:.3f}; own threshold: in-scope {shipped['in_scope_accuracy']:.3f}, "
          f"oos recall {shipped['oos_recall']:.3f}; tuned {tuned['threshold']:.3f}: in-scope "
          f"{tuned['in_scope_accuracy']:.3f}, oos recall {tuned['oos_recall']:.3f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
