"""When the action server is down FAQ answers still work; what needs it gets an apology in the customer's
language, and nothing is lost."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.servers import MODEL, RunningBot, bot_says, start_bot

pytestmark = pytest.mark.skipif(not MODEL.exists(), reason="no trained model: run `make train` (make test does)")

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module")
def bot_without_actions(tmp_path_factory) -> RunningBot:
    running = start_bot(tmp_path_factory.mktemp("resilience"), ARTIFACTS / "resilience")
    action_server = running.processes[0]
    action_server.terminate()  # the action server crashes; the Rasa server stays up
    action_server.wait(timeout=20)
    yield running
    running.stop()


def test_faq_answers_do_not_need_the_action_server(bot_without_actions, knowledge):
    """They run in the Rasa process (endpoints.yml `in_process_actions`)."""
    replies = bot_without_actions.say("how long do i have to retrun somethng", uuid.uuid4().hex)
    assert replies[0]["text"] == knowledge.answer("returns.policy", "en").split("\n\n")[0]
    assert replies[-1]["text"] == bot_says("utter_ask_helpful")


def test_what_needs_the_action_server_gets_an_apology_and_the_message_is_kept(bot_without_actions):
    bot, sender = bot_without_actions, uuid.uuid4().hex
    bot.say("how long do i have to return something", sender)
    # "Was this helpful?" - "yes" is recorded in the database by the action server.
    assert [m.get("text") for m in bot.say("yes", sender)] == [bot_says("utter_technical_problem")]
    malay = bot.say("saya nak buat tiket aduan", sender)
    assert malay[-1]["text"] == bot_says("utter_technical_problem", "ms")
    said = [e["text"] for e in bot.tracker(sender)["events"] if e["event"] == "user"]
    assert said == ["how long do i have to return something", "yes", "saya nak buat tiket aduan"]


def test_responses_that_need_no_action_server_still_work(bot_without_actions):
    replies = bot_without_actions.say("hello", uuid.uuid4().hex)
    assert replies[0]["text"].startswith("Hi! I'm Kedai Lumina's support assistant")
