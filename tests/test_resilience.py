"""When the action server is down FAQ answers still work; what needs it gets an apology in the customer's
language, and nothing is lost."""

from __future__ import annotations

import concurrent.futures
import secrets
import signal
import sqlite3
import time
import uuid
from pathlib import Path

import pytest
import requests
import yaml

from bot.action_server import TOKEN_HEADER
from tests.servers import MODEL, ROOT, RunningBot, bot_says, start_bot

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


def test_was_this_helpful_is_recorded_without_the_action_server(bot_without_actions):
    """Also run in the Rasa process: one INSERT into the product database."""
    bot, sender = bot_without_actions, uuid.uuid4().hex
    bot.say("how long do i have to return something", sender)
    assert [m.get("text") for m in bot.say("yes", sender)] == [bot_says("utter_feedback_thanks")]
    with sqlite3.connect(bot.workdir / "var" / "supportbot.db") as database:
        stored = database.execute("select faq_id, helpful from faq_feedback where conversation_id = ?", (sender,))
        assert stored.fetchall() == [("returns.policy", 1)]


def test_what_needs_the_action_server_gets_an_apology_and_the_message_is_kept(bot_without_actions, knowledge):
    """The apology says nothing is lost and offers the alternatives: questions, or the shop's e-mail."""
    bot, sender = bot_without_actions, uuid.uuid4().hex
    bot.say("how long do i have to return something", sender)
    apology = bot_says("utter_technical_problem", support_email=knowledge.fact("support_email", "en"))
    # A person is queued by the action server (the handoff is written with its outbox deliveries).
    assert [m.get("text") for m in bot.say("i want to talk to a person", sender)] == [apology]
    assert "help@kedailumina.example" in apology
    # A complaint is answered and a person offered, in Malay; taking the offer needs the action server.
    assert "buttons" in bot.say("saya nak buat tiket aduan", sender)[-1]
    malay_email = knowledge.fact("support_email", "ms")
    assert bot.say("ya", sender)[-1]["text"] == bot_says("utter_technical_problem", "ms", support_email=malay_email)
    said = [e["text"] for e in bot.tracker(sender)["events"] if e["event"] == "user"]
    assert said == [
        "how long do i have to return something",
        "i want to talk to a person",
        "saya nak buat tiket aduan",
        "ya",
    ]


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


# --- an action server that hangs, or waits for the database -------------------------------------------

ACTION_TOKEN = secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def bot_with_short_action_timeout(tmp_path_factory) -> RunningBot:
    """The product with endpoints.yml's action timeout at 2 s (shipped: 30 s) and a known action token."""
    folder = tmp_path_factory.mktemp("hung-actions")
    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    assert endpoints["action_endpoint"]["timeout"] == 30  # the shipped setting this test shortens
    endpoints["action_endpoint"]["timeout"] = 2
    (folder / "endpoints.yml").write_text(yaml.safe_dump(endpoints), encoding="utf-8")
    extra_env = {"SUPPORTBOT_ENDPOINTS": str(folder / "endpoints.yml"), "SUPPORTBOT_ACTION_TOKEN": ACTION_TOKEN}
    running = start_bot(folder / "bot", ARTIFACTS / "hung-actions", extra_env=extra_env)
    yield running
    running.stop()


def _submit_ticket(bot: RunningBot, sender: str) -> requests.Response:
    """action_submit_ticket called as the Rasa server calls it, with the form's slots filled."""
    slots = {
        "ticket_name": "Siti Aminah",
        "email": "siti@example.com",
        "ticket_description": "the blender I received does not turn on",
        "ticket_category": "damaged",
        "language": "en",
    }
    call = {
        "next_action": "action_submit_ticket",
        "sender_id": sender,
        "tracker": {"sender_id": sender, "slots": slots, "events": [], "latest_message": {}},
        "domain": {},
    }
    return requests.post(bot.action_url, json=call, headers={TOKEN_HEADER: ACTION_TOKEN}, timeout=60)


def test_an_action_waiting_for_the_database_does_not_hold_up_the_other_calls(bot_with_short_action_timeout):
    """A ticket waiting for a locked database waits alone: health checks and other actions answer meanwhile
    (bot.action_server runs plain-function actions in threads), and the ticket is stored once it can be."""
    bot = bot_with_short_action_timeout
    assert _submit_ticket(bot, uuid.uuid4().hex).ok  # the action server's database is open and migrated
    database = sqlite3.connect(bot.workdir / "var" / "supportbot.db", isolation_level=None)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        database.execute("BEGIN EXCLUSIVE")  # another writer holds the database
        try:
            waiting = pool.submit(_submit_ticket, bot, sender := uuid.uuid4().hex)
            time.sleep(0.5)  # the submission is inside the action server, waiting for the lock
            health = requests.get(bot.action_url.replace("/webhook", "/health"), timeout=5)
            offer = {"next_action": "action_offer_human", "sender_id": "x", "tracker": {"sender_id": "x", "events": []}}
            other = requests.post(bot.action_url, json=offer, headers={TOKEN_HEADER: ACTION_TOKEN}, timeout=5)
            assert health.ok and other.ok
            assert not waiting.done()  # still waiting for the database: the others did not wait for it
        finally:
            database.execute("ROLLBACK")
        stored = waiting.result(timeout=30)
    assert stored.ok
    assert [r.get("response") for r in stored.json()["responses"]] == ["utter_ticket_created"]
    assert database.execute("SELECT count(*) FROM tickets WHERE conversation_id = ?", (sender,)).fetchone() == (1,)


def test_a_hung_action_server_gets_an_apology_after_the_timeout_and_the_chat_goes_on(
    bot_with_short_action_timeout, knowledge
):
    """Rasa would wait five minutes, with this conversation's next messages stuck behind the lock."""
    bot, sender = bot_with_short_action_timeout, uuid.uuid4().hex
    action_server = bot.processes[0]
    bot.say("how long do i have to return something", sender)
    apology = bot_says("utter_technical_problem", support_email=knowledge.fact("support_email", "en"))
    action_server.send_signal(signal.SIGSTOP)  # hung: connections are accepted, nothing is answered
    try:
        # A person is queued by the action server.
        assert [m.get("text") for m in bot.say("i want to talk to a person", sender)] == [apology]
        first_paragraph = knowledge.answer("orders.track", "en").split("\n\n")[0]
        assert bot.say("how do i track my order", sender)[0]["text"] == first_paragraph
    finally:
        action_server.send_signal(signal.SIGCONT)
    said = [e["text"] for e in bot.tracker(sender)["events"] if e["event"] == "user"]
    assert said == ["how long do i have to return something", "i want to talk to a person", "how do i track my order"]


def test_a_ticket_stored_late_by_a_hung_action_server_is_not_stored_twice_when_the_customer_retries(
    bot_with_short_action_timeout, knowledge
):
    """The action server resumes after Rasa gave up on it and stores the ticket; the customer, told it did not
    work and to try again, asks again: they get that ticket's id, and there is one ticket and one e-mail."""
    bot, sender = bot_with_short_action_timeout, uuid.uuid4().hex
    address = f"rina.{sender[:8]}@example.co.id"
    for message in ("open a ticket", "Rina", address, '/inform{"ticket_category": "tech"}'):
        bot.say(message, sender)
    bot.say("the app closes every time I open my cart", sender)
    apology = bot_says("utter_technical_problem", support_email=knowledge.fact("support_email", "en"))
    action_server = bot.processes[0]
    action_server.send_signal(signal.SIGSTOP)
    try:
        assert [m.get("text") for m in bot.say("/affirm", sender)] == [apology]  # "send it": Rasa gave up after 2 s
    finally:
        action_server.send_signal(signal.SIGCONT)  # ...and the action server goes on to store the ticket
    database = sqlite3.connect(bot.workdir / "var" / "supportbot.db", isolation_level=None)
    stored = "SELECT id FROM tickets WHERE conversation_id = ?"
    deadline = time.monotonic() + 20
    while not database.execute(stored, (sender,)).fetchall() and time.monotonic() < deadline:
        time.sleep(0.2)
    [(ticket_id,)] = database.execute(stored, (sender,)).fetchall()
    retried = " ".join(m.get("text", "") for m in bot.say("open a ticket", sender))
    assert ticket_id in retried
    assert database.execute(stored, (sender,)).fetchall() == [(ticket_id,)]
    emails = database.execute("SELECT count(*) FROM outbox WHERE destination = ?", (address,)).fetchone()
    assert emails == (1,)
