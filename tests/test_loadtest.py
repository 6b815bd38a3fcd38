"""The load generator (benchmarks/loadtest*.py): its pieces, and a short mixed run against one real process."""

from __future__ import annotations

import json

import pytest

from benchmarks.loadtest import main, parse_mix, parse_pids, require_loopback
from benchmarks.loadtest_conversations import Catalogue, Message, catalogue, kind_schedule, phrasings
from benchmarks.loadtest_monitor import Sample, memory_verdict
from benchmarks.loadtest_report import update_docs
from tests.servers import MODEL, bot_says


def test_only_loopback_targets_are_accepted():
    require_loopback("http://127.0.0.1:5005")
    require_loopback("http://localhost:5005")
    require_loopback("http://[::1]:5005")
    for outside in ("http://10.1.2.3:5005", "http://192.168.0.1", "http://8.8.8.8:80"):
        with pytest.raises(SystemExit, match="only loopback"):
            require_loopback(outside)


def test_the_bots_questions_are_recognised_in_every_language():
    known = catalogue()
    for language in ("en", "ms", "id", "tl", "vi"):
        assert known.names([Message(bot_says("utter_ask_email", language))]) == ["utter_ask_email"]
    offer = bot_says("utter_handoff_no_agent", "vi", reply_by="Thứ Hai 10:00")
    assert known.names([Message(offer)]) == ["utter_handoff_no_agent"]
    assert Catalogue({"utter_x": [{"text": "Hi {name}!"}]}).names([Message("Hi you!"), Message("an answer")]) == [
        "utter_x"
    ]


def test_the_phrasings_come_from_every_language():
    said = phrasings()
    for language in ("en", "ms", "id", "tl", "vi"):
        assert len(said.questions[language]) >= 50 and said.handoff[language] and said.open_ticket[language]


def test_options_and_the_kind_schedule():
    assert parse_mix("faq=2,ticket=1") == {"faq": 2, "ticket": 1}
    assert parse_pids("rasa=12,actions=34") == {"rasa": 12, "actions": 34}
    assert kind_schedule({"faq": 2, "ticket": 1, "handoff": 1}) == ["faq", "ticket", "handoff", "faq"]


def _samples(growth_mb_per_min: float) -> list[Sample]:
    return [Sample(t, {"rasa": 800 + growth_mb_per_min * t / 60 + (t % 7) * 0.1}, {"rasa": 0.0}) for t in range(600)]


def test_memory_is_flat_or_growing_from_the_second_half_trend():
    assert memory_verdict(_samples(0.0), "rasa", 600)["verdict"] == "flat"
    growing = memory_verdict(_samples(3.0), "rasa", 600)
    assert growing["verdict"] == "growing" and growing["slope_mb_per_min"] == pytest.approx(3.0, abs=0.1)


@pytest.mark.skipif(not MODEL.exists(), reason="no trained model: run `make train` (make test does)")
def test_a_short_mixed_run_against_one_process(tmp_path):
    out, docs = tmp_path / "result.json", tmp_path / "loadtest.md"
    status = main(["--customers", "10", "--transport", "mixed", "--duration", "10", "--out", str(out),
                   "--docs", str(docs)])
    result = json.loads(out.read_text())
    phase = result["phases"][0]
    assert phase["errors"] == {} and status == 0
    outcomes = phase["outcomes"]
    assert outcomes.get("faq_answer", 0) > 0 and outcomes.get("ticket_created", 0) > 0
    assert outcomes.get("handoff_ticket_offer", 0) + outcomes.get("handoff_queued", 0) > 0
    assert set(phase["latency_by_transport"]) == {"rest", "socketio"}
    assert phase["throughput_per_s"] > 0 and phase["latency"]["p99_ms"] >= phase["latency"]["p50_ms"] > 0
    for role in ("rasa", "actions"):
        assert phase["server"][role]["rss_end_mb"] > 50 and phase["server"][role]["cpu_s"] > 0
    assert result["memory"] and result["meta"]["load_average_start"]
    report = docs.read_text()
    assert "replies/s" in report and f"| custom | 10 mixed | {phase['replies']} |" in report
    update_docs(docs, result, "custom")  # a second run replaces its section, not appends
    assert docs.read_text().count("<!-- BEGIN loadtest:custom -->") == 1
