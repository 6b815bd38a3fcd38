"""Render one run's results as markdown: ours and the anchor side by side, the ratio, the target and whether it is met.

`results` is the plain dict `benchmarks.run` fills in; a measurement that did not run holds
`{"not_run": why}` or `{"error": what}` and is shown as such, never as a number.
"""

from __future__ import annotations

import os
import platform
from dataclasses import astuple, dataclass
from pathlib import Path

PAPER = (  # CLINC150 paper (Larson et al., EMNLP 2019), Table 2, full data: in-scope accuracy / out-of-scope recall
    ("SVM (bag of words)", 88.2, 18.0),
    ("Rasa (2019: spaCy + sklearn)", 90.9, 31.2),
    ("BERT", 96.2, 52.3),
)


@dataclass(frozen=True)
class Row:
    name: str
    ours: str
    anchor: str
    ratio: str = ""
    target: str = ""
    status: str = ""


def machine() -> dict:
    meminfo = Path("/proc/meminfo").read_text().splitlines() if Path("/proc/meminfo").exists() else []
    total_kb = next((int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:")), 0)
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "ram_gib": round(total_kb / 1024 / 1024, 1),
        "cpu": model or platform.processor(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


# ---- cell formatting -------------------------------------------------------------------------

def _missing(cell) -> str | None:
    if cell is None:
        return "—"
    if isinstance(cell, dict) and "not_run" in cell:
        return f"not run ({cell['not_run']})"
    if isinstance(cell, dict) and "error" in cell:
        return f"failed: {cell['error']}"
    return None


def _value(cell, key: str | None = None):
    if _missing(cell) is not None:
        return None
    return cell.get(key) if key and isinstance(cell, dict) else cell


def _fmt(value, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "%":
        return f"{100 * value:.1f} %"
    if unit == "ms":
        return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"
    if unit == "s":
        return f"{value:.1f} s"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "msg/s":
        return f"{value:.1f} msg/s"
    return str(value)


def _cell(cell, key: str | None, unit: str) -> str:
    return _missing(cell) or _fmt(_value(cell, key), unit)


def _ratio(ours, anchor, lower_is_better: bool, unit: str) -> str:
    if ours is None or anchor is None:
        return ""
    if unit == "%":
        return f"{100 * (ours - anchor):+.1f} pts"
    if not ours or not anchor:
        return ""
    factor = anchor / ours if lower_is_better else ours / anchor
    better = {"s": "faster", "ms": "faster", "MB": "less", "msg/s": "more"}.get(unit, "better")
    worse = {"s": "slower", "ms": "slower", "MB": "more", "msg/s": "less"}.get(unit, "worse")
    return f"{factor:.1f}× {better}" if factor >= 1 else f"{1 / factor:.1f}× {worse}"


def _status(ok: bool | None) -> str:
    return "" if ok is None else ("**met**" if ok else "**MISSED**")


def _within(value, limit: float) -> bool | None:
    return None if value is None else value <= limit


# ---- tables ----------------------------------------------------------------------------------

def speed_rows(results: dict) -> list[Row]:
    train = results.get("train", {})
    ours, anchor = results.get("seeded", {}).get("ours"), results.get("seeded", {}).get("anchor")
    rows = []

    def pair(name, o_cell, a_cell, key, unit, lower=True, target="", check=None):
        o, a = _value(o_cell, key), _value(a_cell, key)
        ok = check(o, a) if check else None
        rows.append(Row(name, _cell(o_cell, key, unit), _cell(a_cell, key, unit), _ratio(o, a, lower, unit),
                        target, _status(ok)))

    pair("`rasa train` (s)", train.get("ours"), train.get("anchor"), None, "s", target="≤ 15 s",
         check=lambda o, a: _within(o, 15))
    if len(train.get("ours_runs", [])) > 1:
        runs = ", ".join(f"{s:.1f}" for s in train["ours_runs"])
        rows[-1] = Row(rows[-1].name, f"{rows[-1].ours} (median of {runs})", *astuple(rows[-1])[2:])
    pair("start-up to `/status` 200 (s)", ours, anchor, "startup_s", "s", target="≤ 15 s",
         check=lambda o, a: _within(o, 15))
    rows += edit_live_rows(ours)
    pair("Rasa server RSS after the load tests", ours, anchor, "rss_rasa_mb", "MB")
    rows.append(Row("action server RSS after the load tests", _cell(ours, "rss_actions_mb", "MB"), "no action server"))
    o_parse, a_parse = _value(ours, "parse") or {}, _value(anchor, "parse") or {}
    pair("`/model/parse` p50, seeded KB (ms)", o_parse or ours, a_parse or anchor, "p50_ms", "ms")
    pair("`/model/parse` p99, seeded KB (ms)", o_parse or ours, a_parse or anchor, "p99_ms", "ms", target="≤ 10 ms",
         check=lambda o, a: _within(o, 10))
    for level in results.get("concurrency_levels", []):
        o_rest = (_value(ours, "rest") or {}).get(str(level)) if _value(ours, "rest") is not None else ours
        a_rest = (_value(anchor, "rest") or {}).get(str(level)) if _value(anchor, "rest") is not None else anchor
        target, check = ("", None)
        if level == 1:
            target, check = "p50 ≤ 10 ms", (lambda o, a: _within(o, 10))
        pair(f"REST p50, concurrency {level} (ms)", o_rest, a_rest, "p50_ms", "ms", target=target, check=check)
        pair(f"REST p99, concurrency {level} (ms)", o_rest, a_rest, "p99_ms", "ms")
        target, check = ("", None)
        if level == max(results.get("concurrency_levels", [level])):
            target, check = "≥ 5× anchor", _five_times
        pair(f"REST throughput, concurrency {level}", o_rest, a_rest, "throughput_per_s", "msg/s", lower=False,
             target=target, check=check)
        rows.append(Row(f"REST errors / messages, concurrency {level}", _errors(o_rest), _errors(a_rest)))
    return rows


def edit_live_rows(ours) -> list[Row]:
    """Seconds from saving a faq/ edit to the running server using it (benchmarks/edit_live.py); the target
    holds for the slowest round."""
    edit = _value(ours, "edit_live")
    rows = []
    for key, name in (("answer", "an answer changed"), ("question", "a new way to ask, the label model refitted")):
        cell = (edit or {}).get(key) if edit is not None else ours
        if _missing(cell) is not None or cell is None:
            rows.append(Row(f"knowledge-base edit live: {name} (s)", _missing(cell) or "—", "not measured"))
            continue
        never = f", never live in {cell['never_live']} of {cell['rounds']}" if cell["never_live"] else ""
        shown = "—" if cell["max_s"] is None else f"{cell['median_s']:.2f} s median, {cell['max_s']:.2f} s max"
        ok = not cell["never_live"] and cell["max_s"] is not None and cell["max_s"] <= 2
        rows.append(Row(f"knowledge-base edit live: {name} (s)", f"{shown} of {cell['rounds']}{never}",
                        "not measured (retrains)", "", "≤ 2 s", _status(ok)))
    return rows


def _five_times(ours, anchor) -> bool | None:
    return None if ours is None or anchor is None else ours >= 5 * anchor


def _errors(cell) -> str:
    return _missing(cell) or f"{cell['errors']} / {cell['requests']}"


def generated_rows(results: dict) -> list[Row]:
    generated = results.get("generated") or {}
    ours = generated.get("ours")
    anchor = {"not_run": "DIET training on 100k phrasings takes hours"}
    size = f"{generated.get('entries', 0):,} entries × {generated.get('phrasings_per_entry', 0)} phrasings"
    parse = _value(ours, "parse") or ours
    p99 = _value(parse, "p99_ms")
    return [
        Row(f"knowledge base: {size}", "", _missing(anchor)),
        Row("start-up to `/status` 200 (s)", _cell(ours, "startup_s", "s"), ""),
        Row("Rasa server RSS after the parse test", _cell(ours, "rss_rasa_mb", "MB"), ""),
        Row("`/model/parse` p50 (ms)", _cell(parse, "p50_ms", "ms"), ""),
        Row("`/model/parse` p99 (ms)", _cell(parse, "p99_ms", "ms"), "", "", "≤ 30 ms", _status(_within(p99, 30))),
        Row("top FAQ id right on the noisy queries", _cell(ours, "top1", "%"), ""),
    ]


def clinc_rows(results: dict) -> list[Row]:
    clinc = results.get("clinc") or {}
    if _missing(clinc) and clinc:
        return [Row("CLINC150", _missing(clinc), _missing(clinc))]
    rows: list[Row] = []
    for size in ("10", "100"):
        if clinc.get(size) is not None:
            rows += _clinc_size_rows(f"CLINC-{size} ({size} phrasings/intent)", clinc[size])
    return rows


def _clinc_size_rows(label: str, run: dict) -> list[Row]:
    ours, anchor = run.get("ours"), run.get("anchor")
    rows = []

    def add(name, o_cell, a_cell, key, above=False):
        o, a = _value(o_cell, key), _value(a_cell, key)
        ok = None if not above or o is None or a is None else o > a
        target = "" if not above else "above anchor" + (" (anchor not run)" if a is None else "")
        rows.append(Row(f"{label}: {name}", _cell(o_cell, key, "%"), _cell(a_cell, key, "%"),
                        _ratio(o, a, False, "%"), target, _status(ok)))

    add("top-1 accuracy", ours, anchor, "top1")
    shipped_o, shipped_a = _sub(ours, "shipped"), _sub(anchor, "shipped")
    tuned_o, tuned_a = _sub(ours, "tuned"), _sub(anchor, "tuned")
    add("in-scope accuracy, (a) own threshold", shipped_o, shipped_a, "in_scope_accuracy", True)
    add("out-of-scope recall, (a) own threshold", shipped_o, shipped_a, "oos_recall", True)
    add("in-scope accuracy, (b) tuned on val", tuned_o, tuned_a, "in_scope_accuracy", True)
    add("out-of-scope recall, (b) tuned on val", tuned_o, tuned_a, "oos_recall", True)
    curve_o, curve_a = _sub(ours, "at_recall"), _sub(anchor, "at_recall")
    for recall in sorted({key for cell in (curve_o, curve_a) if not _missing(cell) for key in cell}):
        add(f"in-scope accuracy at {float(recall):.0%} out-of-scope recall (threshold set on test)",
            curve_o, curve_a, recall)
    rows.append(Row(f"{label}: thresholds (a) / (b)", _thresholds(ours, "ours"), _thresholds(anchor, "anchor")))
    rows.append(Row(f"{label}: training (ours: indexing)", _cell(ours, "build_s", "s"), _cell(anchor, "train_s", "s"),
                    _ratio(_value(ours, "build_s"), _value(anchor, "train_s"), True, "s")))
    return rows


def _sub(cell, key: str):
    return cell if _missing(cell) else cell.get(key)


def _thresholds(cell, who: str) -> str:
    if _missing(cell):
        return _missing(cell)
    own = cell.get("own_threshold")
    if who == "ours":
        own_text = f"{own:g} (FallbackClassifier, calibrated score)"
    else:
        own_text = f"nlu_fallback (threshold {own:g})"
    return f"{own_text} / {cell['tuned']['threshold']:.3f}"


def table(rows: list[Row]) -> str:
    lines = ["| measurement | ours | Rasa default pipeline | ratio | target | |", "|---|---|---|---|---|---|"]
    lines += [f"| {r.name} | {r.ours} | {r.anchor} | {r.ratio} | {r.target} | {r.status} |" for r in rows]
    return "\n".join(lines)


def render(results: dict) -> str:
    meta = results["meta"]
    m = meta["machine"]
    paper = "\n".join(f"| {name} | {acc:.1f} % | {rec:.1f} % |" for name, acc, rec in PAPER)
    speed, generated, accuracy = speed_rows(results), generated_rows(results), clinc_rows(results)
    statuses = [r.status for r in speed + generated + accuracy]
    met, missed = statuses.count(_status(True)), statuses.count(_status(False))
    end_load = ", ".join(f"{x:.2f}" for x in meta.get("load_average_end", ()))
    return f"""# Benchmarks

Ours (rule-based NLU: fuzzy matcher over `faq/`, RulePolicy only; the FAQ actions in process) against
**Rasa's default pipeline** (DIET + ResponseSelector + FallbackClassifier; TED, Memoization,
Rule and UnexpecTED policies: `DEFAULT_CONFIG` in `benchmarks/rasa_default.py`), both trained on
the same data and measured **in the same run, on the same machine**. Other work may share the
CPU, so absolute numbers are noisy; the ratios are the point.

- Date: {meta['date']} (run took {meta.get('duration_min', 0):.0f} min)
- Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM, {m['system']}, Python {m['python']}; \
load average {', '.join(f'{x:.2f}' for x in m['load_average'])} at the start, {end_load} at the end
- Command: `{meta['command']}`{meta['command_note']}
- Targets (from the issue): **{met} met, {missed} missed**
{meta.get('mode_note', '')}
## Speed and footprint (seeded knowledge base: `faq/`)

{table(speed)}

## Large knowledge base (generated, ours only)

{table(generated)}

## CLINC150 accuracy

{table(accuracy)}

Published figures for comparison (CLINC150 paper, Larson et al. 2019, Table 2, trained on the
full data, 100 phrasings per intent; threshold tuned on val):

| classifier | in-scope accuracy | out-of-scope recall |
|---|---|---|
{paper}

## How each number is measured

{HOW}
"""


HOW = """\
- **`rasa train`**: wall time of the training subprocess in a fresh temporary folder (empty Rasa
  cache), for both systems the product's `python -m bot.training` (what `make train` runs: `rasa
  train` with each YAML text parsed and schema-checked once, bot/training.py; before 2026-11-26 plain
  `rasa train`); ours is the median of 3 runs (1 with --quick), each in its own folder, the anchor one run.
  Ours: copies of `config.yml`, `domain.yml` and `data/`. The anchor: the same conversational
  intents (`data/nlu/*.yml`, as they are) plus every FAQ entry as the retrieval intent `faq/<id>` with
  its English questions and `utter_faq/<id>` with its English answer (facts filled in), one response
  per conversational intent, rules `faq -> utter_faq`, one rule per conversational intent,
  `nlu_fallback -> utter_default`, and the same one-turn exchanges as stories so that TED and
  UnexpecTED have stories to learn from.
- **Start-up**: seconds from starting the Rasa server process until `GET /status?token=…` answers 200
  (polled every 50 ms). Ours: `python -m bot.server` with its action server started at the same time,
  as `tests/servers.py` does, from the model trained above. The anchor: `rasa run --enable-api`.
- **Each system as it ships**: ours with its SQL tracker store (SQLite in the temporary work folder)
  and its action server (an FAQ answer is rendered by `action_answer_faq` there); the anchor with
  Rasa's defaults (in-memory tracker store, answers from the ResponseSelector, no action server).
- **RSS**: `VmRSS` from `/proc/<pid>/status` of the server process (and any children) after the load
  tests.
- **`/model/parse`**: sequential requests from one client (aiohttp, loopback), cycling through the
  texts of `tests/data/heldout_en.yml`, after 20 unmeasured warm-up requests; latency at the client.
- **REST**: `POST /webhooks/rest/webhook` with N simulated customers at once (N = concurrency), each
  sending held-out FAQ questions one after another and waiting for the reply; a customer ends its
  conversation after 5 messages and a new sender id takes over (Rasa's time per message grows with a
  conversation's length). Each level is bounded by a message count and 30 s. Throughput = successful
  replies / wall time; errors = non-200 or no reply within 30 s.
- **Generated knowledge base**: `benchmarks/generated_kb.py` writes seeded, customer-like phrasings
  ("how do i cancel my jacket ...", topic words from CLINC150's training texts) into the server's
  `faq/`; queries are phrasings with a word dropped or two letters swapped.
- **CLINC150** (`data_full.json`): each system learns the first N training texts of each of the 150
  intents (ours: an in-memory knowledge base with one entry per intent, matched by the product's own
  `Matcher` with the settings from `config.yml`; the anchor: Rasa's default NLU pipeline trained on
  them). Evaluated on test (4,500) + oos_test (1,000). In-scope accuracy = share of in-scope queries
  whose top intent is right and scores at least the threshold; out-of-scope recall = share of
  out-of-scope queries scoring below it. (a) each system's own threshold as shipped: ours the
  FallbackClassifier threshold in `config.yml` on the calibrated score, the anchor its
  FallbackClassifier (`nlu_fallback` = out of scope, which also fires on ambiguity); (b) the
  threshold maximising in-scope accuracy + out-of-scope recall on val (3,000) + oos_val (100),
  which rests on 100 out-of-scope queries: its recall on test moves by several points between
  near-equal thresholds. The curve points (in-scope accuracy at 85 % and 90 % out-of-scope recall,
  each system's threshold set on test itself) compare the two systems at equal recall.
  Per-query results are written to `benchmarks/results/` (not in git).
"""
