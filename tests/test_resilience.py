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


def test_what_needs_the_action_server_gets_an_apology_and_the_message_is_kept(bot_without_actions, knowledge):
    """The apology says nothing is lost and offers the alternatives: questions, or the shop's e-mail."""
    bot, sender = bot_without_actions, uuid.uuid4().hex
    bot.say("how long do i have to return something", sender)
    # "Was this helpful?" - "yes" is recorded in the database by the action server.
    apology = bot_says("utter_technical_problem", support_email=knowledge.fact("support_email", "en"))
    assert [m.get("text") for m in bot.say("yes", sender)] == [apology]
    assert "help@kedailumina.example" in apology
    malay = bot.say("saya nak buat tiket aduan", sender)
    malay_email = knowledge.fact("support_email", "ms")
    assert malay[-1]["text"] == bot_says("utter_technical_problem", "ms", support_email=malay_email)
    said = [e["text"] for e in bot.tracker(sender)["events"] if e["event"] == "user"]
    assert said == ["how long do i have to return something", "yes", "saya nak buat tiket aduan"]


def test_responses_that_need_no_action_server_still_work(bot_without_actions):
    replies = bot_without_actions.say("hello", uuid.uuid4().hex)
    assert replies[0]["text"].startswith("Hi! I'm Kedai Lumina's support assistant")


def test_a_form_stops_with_one_apology_instead_of_asking_on_unchecked(bot_without_actions, knowledge):
    """The ticket form's checks run on the action server: without it the form apologises once and
    stops (Rasa would otherwise go on asking, storing whatever was typed unchecked)."""
    bot, sender = bot_without_actions, uuid.uuid4().hex
    apology = bot_says("utter_technical_problem", support_email=knowledge.fact("support_email", "en"))
    assert [m["text"] for m in bot.say("open a ticket", sender)] == [bot_says("utter_ticket_intro"), apology]
    tracker = bot.tracker(sender)
    assert tracker["active_loop"] in ({}, None) or tracker["active_loop"].get("name") is None
    first_paragraph = knowledge.answer("orders.track", "en").split("\n\n")[0]
    assert bot.say("how do i track my order", sender)[0]["text"] == first_paragraph
