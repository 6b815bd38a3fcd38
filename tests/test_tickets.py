"""Tickets through the real Rasa server and action server: the form, the store, the e-mail, the status."""

from __future__ import annotations

import email
import email.policy
import json
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from bot.handoff.store import ratings_for
from bot.storage.database import create_engine
from tests.servers import MODEL, ROOT, RunningBot, bot_says, free_port, start_bot

pytestmark = pytest.mark.skipif(not MODEL.exists(), reason="no trained model: run `make train` (make test does)")

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
TICKET_ID = re.compile(r"TCK-[2-9A-HJ-NP-TW-Z]{6}")


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls this for each message
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = f"{message['subject']}\n{message.get_content()}"  # decoded: the body may be base64
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), text))
        return "250 OK"


@pytest.fixture(scope="module")
def inbox():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture(scope="module")
def bot(tmp_path_factory, inbox) -> RunningBot:
    _, port = inbox
    extra = {
        "SUPPORTBOT_SMTP_HOST": "127.0.0.1",
        "SUPPORTBOT_SMTP_PORT": str(port),
        "SUPPORTBOT_DATABASE_TIMEOUT": "1",  # a locked database fails fast in the unavailable-database test
    }
    running = start_bot(tmp_path_factory.mktemp("tickets"), ARTIFACTS / "tickets", extra)
    yield running
    running.stop()


def new_sender() -> str:
    return uuid.uuid4().hex


def texts(messages: list[dict]) -> list[str]:
    return [m.get("text", "") for m in messages]


def conversation(bot: RunningBot, sender: str, *messages: str) -> list[list[str]]:
    return [texts(bot.say(message, sender)) for message in messages]


def supportbot(bot: RunningBot, *args: str) -> subprocess.CompletedProcess:
    database = f"sqlite:///{bot.workdir / 'var' / 'supportbot.db'}"
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "tickets", *args, "--database", database],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_ticket_in_malay_with_a_wrong_email_on_the_way(bot, inbox):
    sender = new_sender()
    replies = conversation(
        bot,
        sender,
        "hai, sy nak buka tiket",
        "Siti Aminah",
        "siti.aminah@gmail",  # not an address
        "siti.aminah@gmail.com",
        '/inform{"ticket_category": "returns"}',
        "KL-20481234",
        "blender yg sy terima jag dia retak dan bocor bila isi air",
        "/affirm",
    )
    assert replies[0] == [bot_says("utter_ticket_intro", "ms"), bot_says("utter_ask_ticket_name", "ms")]
    assert replies[2][0] == bot_says("utter_invalid_email", "ms")
    assert replies[3][0] == bot_says("utter_ask_ticket_category", "ms")
    assert replies[6][0].startswith(bot_says("utter_ticket_summary", "ms").split("\n")[0])
    confirmation = replies[7][0]
    ticket_id = TICKET_ID.search(confirmation).group(0)
    assert confirmation.startswith(bot_says("utter_ticket_created", "ms").split("{")[0])
    assert "siti.aminah@gmail.com" in confirmation

    shown = supportbot(bot, "show", ticket_id, "--json")
    assert shown.returncode == 0, shown.stderr
    ticket = json.loads(shown.stdout)
    assert ticket["name"] == "Siti Aminah" and ticket["email"] == "siti.aminah@gmail.com"
    assert ticket["order_number"] == "KL-20481234" and ticket["category"] == "returns" and ticket["language"] == "ms"
    assert ticket["status"] == "open" and [e["status"] for e in ticket["history"]] == ["open"]
    assert any("jag dia retak" in line["text"] for line in ticket["transcript"])
    # The promise in the chat is the one stored (weekday and time in Malay).
    assert ticket["reply_by"] and re.search(r"(Isnin|Selasa|Rabu|Khamis|Jumaat|Sabtu|Ahad) \d\d:\d\d", confirmation)

    handler, _ = inbox
    messages = handler.messages
    deadline = time.monotonic() + 30  # the outbox is delivered every few seconds
    while time.monotonic() < deadline and not any(ticket_id in m[2] for m in messages):
        time.sleep(0.5)
    mail = next((m for m in messages if ticket_id in m[2]), None)
    assert mail is not None, f"no e-mail with {ticket_id} in {messages}"
    assert mail[1] == ["siti.aminah@gmail.com"]
    assert "Siti Aminah" in mail[2] and "jag dia retak" in mail[2]  # in Malay, with what the customer told us

    # The status, in English, in another conversation: with the right e-mail, and with a wrong one.
    other = new_sender()
    status = conversation(bot, other, f"what's the status of {ticket_id}?", "siti.aminah@gmail.com")
    assert status[0] == [bot_says("utter_ask_ticket_status_form_email")]  # the address on the ticket
    assert status[1][0].startswith(f"Ticket {ticket_id} is open")
    pasted = conversation(bot, new_sender(), ticket_id.lower(), "siti.aminah@gmail.com")  # the number alone
    assert pasted[0] == [bot_says("utter_ask_ticket_status_form_email")]
    assert pasted[1][0].startswith(f"Ticket {ticket_id} is open")
    refused = conversation(bot, new_sender(), f"status of ticket {ticket_id} please", "someone.else@gmail.com")
    assert refused[1] == [bot_says("utter_ticket_not_found")]


def test_the_same_field_refused_twice_offers_a_person(bot):
    # Not "not an email": the bot reads that as "I'm not getting e-mails" and answers it (a clear question).
    sender = new_sender()
    replies = conversation(bot, sender, "I want to report a problem", "Tan Wei Ming", "tanweiming at gmail", "still no")
    assert replies[2] == [bot_says("utter_invalid_email"), bot_says("utter_ask_email")]
    assert replies[3][0] == bot_says("utter_invalid_email")
    assert "+60 3-2788 4100" in replies[3][-1]  # the ways to reach a person, instead of a third try
    slots = bot.tracker(sender)["slots"]
    assert slots["ticket_name"] == "Tan Wei Ming"  # kept for a person who takes the chat
    assert slots["requested_slot"] is None and not slots["ticket_failures"]
    # Trying again later: the name is not asked again, and the e-mail gets two fresh tries.
    again = conversation(bot, sender, "open a ticket", "tanweiming at gmail")
    assert again[0][-1] == bot_says("utter_ask_email")
    assert again[1] == [bot_says("utter_invalid_email"), bot_says("utter_ask_email")]


def test_a_short_description_is_asked_about_once_and_then_taken_as_it_is(bot):
    sender = new_sender()
    replies = conversation(
        bot,
        sender,
        "open a ticket",
        "Ann Lee",
        "ann.lee@example.com",
        '/inform{"ticket_category": "account"}',  # no order number for an account question
        "cannot log in",
        "still cannot log in",
    )
    assert replies[4] == [bot_says("utter_description_too_short"), bot_says("utter_ask_ticket_description")]
    summary = replies[5][0]  # not "this isn't working": the name and e-mail are not thrown away
    assert summary.startswith(bot_says("utter_ticket_summary").split("\n")[0])
    assert "- Name: Ann Lee" in summary and "- What happened: still cannot log in" in summary


def test_an_email_typo_gets_a_suggestion_and_the_same_address_again_is_accepted(bot):
    replies = conversation(bot, new_sender(), "open a ticket", "Maria Santos", "maria@gmial.com", "maria@gmial.com")
    assert replies[2][0] == bot_says("utter_email_typo", suggestion="maria@gmail.com")
    assert replies[3][0] == bot_says("utter_ask_ticket_category")


def test_a_field_can_be_corrected_before_sending(bot):
    sender = new_sender()
    conversation(
        bot,
        sender,
        "open a ticket",
        "Nguyen An",
        "an.nguyen@example.com",
        '/inform{"ticket_category": "account"}',  # no order number for an account question
        "I cannot change my phone number in my profile page",
    )
    changed = conversation(bot, sender, '/change_ticket{"ticket_field": "email"}', "an.nguyen@example.vn", "/affirm")
    assert changed[0] == [bot_says("utter_ask_email")]
    assert "an.nguyen@example.vn" in changed[1][0] and "Order" in changed[1][0]
    assert "an.nguyen@example.vn" in changed[2][0] and TICKET_ID.search(changed[2][0])


def test_cancel_at_any_point(bot):
    sender = new_sender()
    replies = conversation(bot, sender, "open a ticket", "Ahmad", "cancel")
    assert replies[2] == [bot_says("utter_ticket_cancelled")]
    slots = bot.tracker(sender)["slots"]
    assert slots["ticket_name"] is None and slots["requested_slot"] is None


def test_a_question_instead_of_the_ticket_number_is_answered_and_ends_the_status_check(bot, knowledge):
    """A customer without the number at hand asks something else: it is answered, not refused as a number."""
    sender = new_sender()
    replies = conversation(bot, sender, "check my ticket", "how do I send an item back?", "yes")
    assert replies[0] == [bot_says("utter_ask_ticket_id")]
    assert replies[1][0].startswith(knowledge.entries["returns.how_to"].answer["en"][:40])
    assert bot.tracker(sender)["active_loop"] in ({}, None)  # the status check is over
    assert replies[2] == [bot_says("utter_feedback_thanks")]  # "yes" is about the answer, not a ticket number


def test_opening_a_ticket_instead_of_giving_the_ticket_number_starts_the_ticket_form(bot):
    replies = conversation(bot, new_sender(), "any update on my ticket?", "actually I want to open a new ticket")
    assert replies[1] == [bot_says("utter_ticket_intro"), bot_says("utter_ask_ticket_name")]


def test_a_question_asked_in_the_middle_of_the_ticket_form_is_answered_and_the_form_goes_on(bot, knowledge):
    """Where an e-mail or order number was asked: the answer (the customer may need no ticket after all),
    then the same question again; nothing counted as a wrong e-mail."""
    sender = new_sender()
    replies = conversation(
        bot, sender, "open a ticket", "Ali Baba", "how long do refunds take?", "ali.baba@example.com"
    )
    assert replies[2][0] == knowledge.answer("returns.refund_time", "en").split("\n\n")[0]  # a paragraph a message
    assert replies[2][-2:] == [bot_says("utter_back_to_ticket"), bot_says("utter_ask_email")]
    assert replies[3] == [bot_says("utter_ask_ticket_category")]
    assert not (bot.tracker(sender)["slots"]["ticket_failures"] or {}).get("email")
    # An order number in a question is the order number asked for, not a question to answer.
    replies = conversation(bot, sender, '/inform{"ticket_category": "orders"}', "where is my order KL20481234?")
    assert replies[0] == [bot_says("utter_ask_order_number")]
    assert replies[1] == [bot_says("utter_ask_ticket_description")]
    assert bot.tracker(sender)["slots"]["order_number"] == "KL20481234"


def test_the_language_can_change_in_the_middle_of_the_form(bot):
    sender = new_sender()
    replies = conversation(bot, sender, "hai, sy nak buka tiket", "Siti", "can we speak English?", "siti@example.com")
    assert replies[1] == [bot_says("utter_ask_email", "ms")]
    assert replies[2] == [bot_says("utter_language_switched"), bot_says("utter_ask_email")]
    assert replies[3] == [bot_says("utter_ask_ticket_category")]


def test_what_the_customer_said_before_is_not_asked_again(bot):
    sender = new_sender()
    conversation(bot, sender, "my email is lim.mei@example.com and my order is KL-55512345")
    replies = conversation(bot, sender, "I want to report a problem", "Lim Mei", '/inform{"ticket_category": "orders"}')
    assert replies[1] == [bot_says("utter_ask_ticket_category")]  # e-mail known: not asked
    assert replies[2] == [bot_says("utter_ask_ticket_description")]  # order number known: not asked


def test_an_unavailable_database_loses_nothing_and_a_retry_saves_it(bot):
    sender = new_sender()
    conversation(
        bot,
        sender,
        "open a ticket",
        "Rina",
        "rina@example.co.id",
        '/inform{"ticket_category": "tech"}',
        "the app closes every time I open my cart",
    )
    database = sqlite3.connect(bot.workdir / "var" / "supportbot.db", timeout=1)
    database.execute("BEGIN EXCLUSIVE")  # another writer holds the database: the bot's write must wait, then fail
    try:
        failed = texts(bot.say("/affirm", sender))
    finally:
        database.rollback()
        database.close()
    assert failed == [bot_says("utter_ticket_not_saved")]
    assert bot.tracker(sender)["slots"]["ticket_description"] == "the app closes every time I open my cart"
    saved = texts(bot.say("yes", sender))
    ticket_id = TICKET_ID.search(saved[0]).group(0)
    listed = supportbot(bot, "list")
    assert ticket_id in listed.stdout


def test_staff_change_the_status_and_the_customer_sees_it(bot):
    sender = new_sender()
    replies = conversation(
        bot,
        sender,
        "open a ticket",
        "Jose Cruz",
        "jose.cruz@example.ph",
        '/inform{"ticket_category": "billing"}',
        "I need an official receipt with my company name on it",
        "/affirm",
    )
    ticket_id = TICKET_ID.search(replies[-1][0]).group(0)
    assert supportbot(bot, "set-status", ticket_id, "resolved", "--by", "amir", "--note", "sent").returncode == 0
    assert texts(bot.say(f"status of {ticket_id}", sender)) == [
        bot_says("utter_ticket_status_resolved", ticket_id=ticket_id),
        bot_says("utter_ticket_note", note="sent"),  # the staff's note, for the customer
        bot_says("utter_ask_csat"),  # the ticket is resolved: how was the help?
    ]
    assert texts(bot.say('/rate{"rating": 2}', sender)) == [bot_says("utter_csat_thanks")]
    [rating] = ratings_for(create_engine(f"sqlite:///{bot.workdir / 'var' / 'supportbot.db'}"), sender)
    assert (rating["ticket_id"], rating["rating"], rating["handoff_id"]) == (ticket_id, 2, None)
    # Asked once: the next status request does not ask again.
    assert bot_says("utter_ask_csat") not in texts(bot.say(f"status of {ticket_id}", sender))
    history = json.loads(supportbot(bot, "show", ticket_id, "--json").stdout)["history"]
    assert [(e["status"], e["actor"]) for e in history] == [("open", "customer"), ("resolved", "amir")]


def test_the_category_is_inferred_from_the_question_answered_before(bot):
    sender = new_sender()
    conversation(bot, sender, "how do I send back a jacket that doesn't fit?", "no")
    replies = conversation(bot, sender, "I want to report a problem", "Aisyah", "aisyah@example.com")
    # The returns answer came first: the topic is returns, so the form goes on to the order number.
    assert replies[2] == [bot_says("utter_ask_order_number")]
    assert bot.tracker(sender)["slots"]["ticket_category"] == "returns"


def test_a_problem_told_instead_of_the_name_is_kept_as_what_happened_and_not_asked_again(bot):
    sender = new_sender()
    problem = "the blender I got yesterday arrived with a cracked jug"
    category = '/inform{"ticket_category": "returns"}'
    answers = ("Ali bin Abu", "ali@example.com", category, "KL-20485678")
    replies = conversation(bot, sender, "open a ticket", problem, *answers)
    assert replies[1] == [bot_says("utter_description_noted"), bot_says("utter_ask_ticket_name")]
    assert replies[2] == [bot_says("utter_ask_email")]
    # After the order number comes the summary: "what happened?" is not asked again.
    summary = replies[5][0]
    assert summary.startswith(bot_says("utter_ticket_summary").split("\n")[0])
    assert "- Name: Ali bin Abu" in summary and f"- What happened: {problem}" in summary


def test_a_short_problem_instead_of_the_name_is_asked_about_later_and_a_name_typed_twice_is_a_name(bot):
    sender = new_sender()
    problem = "my parcel arrived broken"
    replies = conversation(bot, sender, "I want to report a problem", problem, problem)
    assert replies[1] == [bot_says("utter_name_first"), bot_says("utter_ask_ticket_name")]  # too short to keep
    assert replies[2] == [bot_says("utter_ask_email")]  # typed again: the customer means it
    assert bot.tracker(sender)["slots"]["ticket_name"] == problem
