"""The benchmark report's hot-reload rows: the target holds for the slowest round, and a round never live misses it."""

from benchmarks.report import edit_live_rows


def cell(*seconds: float | None) -> dict:
    live = [s for s in seconds if s is not None]
    return {
        "rounds": len(seconds),
        "never_live": len(seconds) - len(live),
        "median_s": sorted(live)[len(live) // 2] if live else None,
        "max_s": max(live) if live else None,
        "all_s": list(seconds),
    }


def test_the_slowest_round_decides():
    rows = edit_live_rows({"edit_live": {"answer": cell(0.4, 0.9, 0.5), "question": cell(1.2, 2.3, 1.4)}})
    assert [r.status for r in rows] == ["**met**", "**MISSED**"]
    assert rows[1].ours == "1.40 s median, 2.30 s max of 3"


def test_a_round_never_live_is_a_miss():
    rows = edit_live_rows({"edit_live": {"answer": cell(0.4, None), "question": cell(None, None)}})
    assert rows[0].status == "**MISSED**" and "never live in 1 of 2" in rows[0].ours
    assert rows[1].ours.startswith("—") and rows[1].status == "**MISSED**"


def test_not_measured_is_said():
    rows = edit_live_rows({"not_run": "training failed"})
    assert all(r.ours == "not run (training failed)" for r in rows)
