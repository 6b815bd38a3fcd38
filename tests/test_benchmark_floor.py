"""`make bench-floor` measures a real server: the floor bot trains, answers under our runtime, and is counted."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from benchmarks import rasa_floor


@pytest.fixture(scope="module")
def floor_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("floor")
    rasa_floor.write_floor_project(folder)
    return folder, rasa_floor.train_floor(folder)


def test_the_floor_bot_answers_under_our_runtime_and_is_measured(floor_model):
    folder, model = floor_model
    server = rasa_floor.start_floor(folder, model)
    try:
        texts = itertools.cycle(["hello", "bye", "what?"])  # "what?" has no keyword: the fallback, no reply
        level = asyncio.run(rasa_floor.load(server, customers=2, seconds=1.0, next_text=lambda: next(texts)))
    finally:
        server.stop()
    assert level.replies > 10 and level.throughput_per_s > 0 and level.server_cpu_ms_per_reply > 0
    assert level.errors > 0  # an empty reply is an error, not a fast answer
    assert (folder / "models" / "floor.tar.gz").exists()
    assert any(folder.glob("tracker-*.db")), "our runtime keeps the floor bot's trackers in SQLite"
    table = rasa_floor.render({"date": "now", "command": "c", "load_average": (0.1, 0, 0), "levels": [level.__dict__]})
    assert f"| floor, our runtime | 2 | {level.throughput_per_s:.1f} |" in table


def test_the_product_is_asked_faq_questions_only():
    questions = rasa_floor.faq_questions()
    assert len(questions) > 300 and "what's the weather like today" not in questions
