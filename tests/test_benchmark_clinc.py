"""The CLINC150 benchmark's arithmetic, on predictions small enough to check by hand."""

from __future__ import annotations

from benchmarks.clinc import Prediction, accuracy_at_recall, at_threshold, tune_threshold


def prediction(expect: str, top: str, score: float) -> Prediction:
    return Prediction(text="", expect=expect, top=top, score=score, fallback=False)


PREDICTIONS = [
    prediction("a", "a", 0.9),  # right, confident
    prediction("b", "b", 0.6),  # right
    prediction("c", "d", 0.5),  # wrong intent
    prediction("oos", "a", 0.7),  # out of scope, scored high
    prediction("oos", "b", 0.3),
    prediction("oos", "c", 0.2),
]


def test_rates_at_a_threshold():
    assert at_threshold(PREDICTIONS, 0.55) == (2 / 3, 2 / 3)  # a and b answered; two oos below
    assert at_threshold(PREDICTIONS, 0.8) == (1 / 3, 1.0)


def test_accuracy_at_a_recall_is_the_curve_point_with_the_lowest_threshold_reaching_it():
    assert accuracy_at_recall(PREDICTIONS, 0.6) == 2 / 3  # threshold 0.5: recall 2/3, a and b right
    assert accuracy_at_recall(PREDICTIONS, 1.0) == 1 / 3  # threshold above 0.7: only a answered
    assert accuracy_at_recall(PREDICTIONS[:3], 1.0) == 0.0  # no oos at all: recall 1 is never reached


def test_the_tuned_threshold_maximises_accuracy_plus_recall():
    threshold = tune_threshold(PREDICTIONS)
    accuracy, recall = at_threshold(PREDICTIONS, threshold)
    assert accuracy + recall == max(sum(at_threshold(PREDICTIONS, p.score)) for p in PREDICTIONS)


def test_the_report_header_names_the_misses_of_the_clinc_run_kept_from_an_earlier_command(tmp_path):
    from benchmarks import clinc
    from benchmarks.run import note_misses_elsewhere

    report = tmp_path / "benchmarks.md"
    rows = "| CLINC-100: in-scope accuracy | 79.9 % | 88.4 % | -8.5 pts | above anchor | **MISSED** |\n"
    rows += "| CLINC-100: out-of-scope recall | 82.8 % | 42.2 % | +40.6 pts | above anchor | **met** |\n"
    report.write_text(f"- Targets (from the issue): **10 met, 0 missed**\n\n{clinc.START}\n{rows}{clinc.END}\n")
    note_misses_elsewhere(report)
    header = report.read_text().splitlines()[0]
    assert header.endswith(
        "in this run; the CLINC150 run on its own (its section below) **misses 1**: CLINC-100: in-scope accuracy"
    )
