"""Handing a conversation to a person, end to end: a real Rasa server, action server, console API and WebSocket.

The customer speaks socket.io (as the widget does) or REST; the agent uses the console's HTTP API
and WebSocket with a real login. Support hours are open around the clock here and an agent who
does not claim a chat within a few seconds lets it time out, so every path runs in seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
import websocket

from bot.handoff.store import get_handoff, ratings_for
from bot.handoff.webhook import verify
from bot.storage.tables import agent_sessions, handoffs
from bot.tickets.store import get_ticket
from tests.handoff_support import PASSWORD, WAIT_FOR_AGENT_SECONDS, WEBHOOK_SECRET, Console, database
from tests.servers import Browser, RunningBot, bot_buttons, bot_says


@pytest.fixture
def console(handoff_bot: RunningBot) -> Iterator[Console]:
    opened = Console(handoff_bot)
    yield opened
    opened.close()


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages]


def test_a_customer_who_asks_gets_an_agent_who_sees_everything_replies_live_and_hands_back(
    handoff_bot, console, receiver
):
    customer = Browser(handoff_bot).open()
    customer.say("/greet", metadata={"hidden": True})
    customer.say("how do i track my order? it is KL-20481234")
    customer.bot_messages()
    customer.say("I want to talk to a person")
    assert texts(customer.bot_messages()) == [bot_says("utter_handoff_queued", position="1")]

    queued = console.queued(customer.conversation_id)
    assert queued["status"] == "waiting" and queued["reason"] == "asked" and queued["language"] == "en"
    details = console.get(f"/handoffs/{queued['id']}").json()
    packet = details["packet"]
    assert packet["customer"]["order_number"] == "KL-20481234"
    said = [(line["sender"], line["text"]) for line in packet["transcript"]]
    assert ("customer", "how do i track my order? it is KL-20481234") in said
    assert ("customer", "I want to talk to a person") in said
    [considered] = [c for c in packet["faq_candidates"] if c["text"] == "how do i track my order? it is KL-20481234"]
    assert considered["matched"] == "orders.track" and considered["score"] > 0
    assert details["deliveries"][0]["kind"] == "webhook"

    assert console.post(f"/handoffs/{queued['id']}/claim").status_code == 200
    assert texts(customer.bot_messages()) == [bot_says("utter_handoff_agent_joined", agent_name="Maya Tan")]

    reply = "Hi! I can see order KL-20481234. <b>Checking</b> with the courier now."
    sent = console.post(f"/handoffs/{queued['id']}/messages", {"text": reply}).json()["message"]
    assert sent["sender"] == "agent" and sent["text"] == reply
    assert customer.expect("bot_uttered") == {"text": reply, "agent": "Maya Tan"}

    started = time.monotonic()
    assert customer.say("thank you, it was due on Monday") == {"ok": True}
    live = console.frame(lambda f: f["type"] == "message" and f["message"]["sender"] == "customer")
    assert time.monotonic() - started < 1.0  # handling plus relay: the agent sees it within a second
    assert live["handoff_id"] == queued["id"] and live["message"]["text"] == "thank you, it was due on Monday"
    assert customer.bot_messages() == []  # the bot keeps quiet while the agent has the chat

    ended = console.post(f"/handoffs/{queued['id']}/end").json()["handoff"]
    assert ended["status"] == "ended"
    back = customer.bot_messages()
    assert texts(back) == [bot_says("utter_handoff_ended"), bot_says("utter_ask_csat")]
    assert [r["title"] for r in back[1]["quick_replies"]] == bot_buttons("utter_ask_csat")
    customer.say('/rate{"rating": 5}', metadata={"display": "5"})
    assert texts(customer.bot_messages()) == [bot_says("utter_csat_thanks")]
    rating = ratings_for(database(handoff_bot), customer.conversation_id)
    assert [(r["rating"], r["agent"], r["handoff_id"], r["language"]) for r in rating] == [
        (5, "maya", queued["id"], "en")
    ]

    customer.say("how do i track my order")  # the bot answers again
    assert "My orders" in customer.bot_messages()[0]["text"]

    # A reload shows the agent's reply as the agent's.
    again = Browser(handoff_bot).open(token=customer.token)
    assert {"sender": "agent", "text": reply, "agent": "Maya Tan"} in again.history
    assert not [m for m in again.history if "EXTERNAL" in m["text"]]  # the server's hand-back was never typed
    again.close()
    customer.close()

    deadline = time.monotonic() + 20  # the outbox worker runs every 5 s
    while not receiver.packets_for(queued["id"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    [(headers, body)] = receiver.packets_for(queued["id"])
    assert verify(WEBHOOK_SECRET, headers, body, datetime.now(timezone.utc))
    assert json.loads(body)["customer"]["order_number"] == "KL-20481234"


def test_a_second_customer_waits_behind_the_first(handoff_bot, console):
    first, second = Browser(handoff_bot).open(), Browser(handoff_bot).open()
    first.say("talk to a human please")
    assert texts(first.bot_messages()) == [bot_says("utter_handoff_queued", position="1")]
    second.say("can I speak to an agent")
    assert texts(second.bot_messages()) == [bot_says("utter_handoff_queued", position="2")]
    for customer in (first, second):
        handoff = console.queued(customer.conversation_id)
        console.post(f"/handoffs/{handoff['id']}/claim")
        console.post(f"/handoffs/{handoff['id']}/end")
        customer.close()


@pytest.mark.parametrize(
    ("conversation", "offer", "reason"),
    [
        (["asdf qwerty zxcv", "blorp flimflam"], "utter_offer_human_not_understood", "not_understood"),
        (
            ["how do i track my order", "/deny", "how do i reset my password", "/deny"],
            "utter_offer_human",
            "not_helpful",
        ),
        (["THIS IS RIDICULOUS, WHERE IS MY REFUND??? I AM SO ANGRY"], "utter_offer_human_upset", "upset"),
        (["I want to make a complaint"], "utter_offer_human", "needs_person"),
    ],
    ids=["two misses", "not helpful twice", "upset", "faq entry needs a person"],
)
def test_the_bot_offers_a_person_and_hands_over_when_accepted(handoff_bot, console, conversation, offer, reason):
    sender = f"offer-{reason}-{time.monotonic_ns()}"
    replies: list[dict[str, Any]] = []
    for text in conversation:
        replies = handoff_bot.say(text, sender)
    assert replies[-1]["text"] == bot_says(offer)
    assert [b["title"] for b in replies[-1]["buttons"]] == bot_buttons(offer)
    accept = "/human_handoff" if reason == "not_understood" else "yes"
    assert texts(handoff_bot.say(accept, sender)) == [bot_says("utter_handoff_queued", position="1")]
    handoff = console.queued(sender)
    assert handoff["reason"] == reason
    console.post(f"/handoffs/{handoff['id']}/claim")
    console.post(f"/handoffs/{handoff['id']}/end")


def test_declining_the_offer_keeps_the_bot(handoff_bot):
    sender = f"declines-{time.monotonic_ns()}"
    handoff_bot.say("asdf qwerty zxcv", sender)
    handoff_bot.say("blorp flimflam", sender)
    replies = handoff_bot.say("I WANT MY MONEY BACK NOW, THIS IS A SCAM", sender)
    assert replies[-1]["text"] == bot_says("utter_offer_human_upset")
    assert texts(handoff_bot.say("no", sender)) == [bot_says("utter_handoff_declined")]
    assert "My orders" in handoff_bot.say("how do i track my order", sender)[0]["text"]


def test_with_no_agent_online_the_customer_is_offered_a_ticket(handoff_bot):
    with database(handoff_bot).begin() as connection:
        connection.execute(agent_sessions.delete())  # every agent logged out
    sender = f"nobody-{time.monotonic_ns()}"
    replies = handoff_bot.say("let me talk to a person", sender)
    assert len(replies) == 1 and replies[0]["text"].startswith(bot_says("utter_handoff_no_agent", reply_by="")[:40])
    assert [b["payload"] for b in replies[0]["buttons"]] == ["/open_ticket", "/deny"]
    assert handoff_bot.say("/open_ticket", sender)[0]["text"] == bot_says("utter_ticket_intro")
    assert not handoff_bot.tracker(sender).get("paused")


def test_asking_for_a_person_during_the_ticket_form_with_no_agent_online_goes_on_with_the_ticket(handoff_bot):
    with database(handoff_bot).begin() as connection:
        connection.execute(agent_sessions.delete())  # every agent logged out
    sender = f"nobody-in-form-{time.monotonic_ns()}"
    for message in ("open a ticket", "Siti Aminah", "siti@example.com"):
        handoff_bot.say(message, sender)
    replies = handoff_bot.say("I want to talk to a person", sender)
    no_agent = bot_says("utter_handoff_no_agent_in_ticket", reply_by="")
    assert replies[0]["text"].startswith(no_agent[: no_agent.index(":")])  # not "I can open a ticket for you"
    assert not replies[0].get("buttons")
    assert replies[-1]["text"] == bot_says("utter_ask_ticket_category")  # the form goes on where it was
    slots = handoff_bot.tracker(sender)["slots"]
    assert slots["ticket_name"] == "Siti Aminah" and slots["email"] == "siti@example.com"


def test_a_chat_no_agent_claims_in_time_gets_the_ticket_offer(handoff_bot, console):
    customer = Browser(handoff_bot).open()
    customer.say("I need a real person")
    customer.bot_messages()
    handoff = console.queued(customer.conversation_id)
    timed_out = console.frame(
        lambda f: f["type"] == "handoff" and f["handoff"]["id"] == handoff["id"], WAIT_FOR_AGENT_SECONDS + 5
    )
    assert timed_out["handoff"]["status"] == "timed_out"
    offer = customer.expect("bot_uttered")
    assert offer["text"].startswith(bot_says("utter_handoff_no_agent", reply_by="")[:40])
    assert console.post(f"/handoffs/{handoff['id']}/claim").status_code == 409
    customer.say("/deny", metadata={"display": "No, thanks"})
    assert texts(customer.bot_messages()) == [bot_says("utter_handoff_declined")]
    customer.close()


def test_a_chat_whose_agent_has_gone_goes_back_to_the_bot(handoff_bot, console):
    customer = Browser(handoff_bot).open()
    customer.say("talk to a person")
    customer.bot_messages()
    handoff = console.queued(customer.conversation_id)
    console.post(f"/handoffs/{handoff['id']}/claim")
    customer.bot_messages()  # "Maya Tan has joined"
    long_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    with database(handoff_bot).begin() as connection:  # the agent closed the console an hour ago
        connection.execute(agent_sessions.update().values(seen_at=long_ago))
        connection.execute(handoffs.update().where(handoffs.c.id == handoff["id"]).values(claimed_at=long_ago))
    console.frame(
        lambda f: f["type"] == "handoff" and f["handoff"] == {**f["handoff"], "id": handoff["id"], "status": "ended"},
        10,
    )
    offer = customer.expect("bot_uttered")
    assert offer["text"].startswith(bot_says("utter_handoff_no_agent", reply_by="")[:40])
    customer.close()


def test_the_agent_turns_the_chat_into_a_ticket_and_its_note_reaches_the_customer(handoff_bot, console):
    sender = f"ticket-{time.monotonic_ns()}"
    handoff_bot.say("talk to a person", sender)
    handoff = console.queued(sender)
    console.post(f"/handoffs/{handoff['id']}/claim")
    assert console.post(f"/handoffs/{handoff['id']}/ticket").status_code == 400  # no e-mail address yet
    joined = bot_says("utter_handoff_agent_joined", agent_name="Maya Tan")
    assert texts(handoff_bot.say("my email is siti.aminah@example.com", sender)) == [joined]  # REST gets it now
    made = console.post(f"/handoffs/{handoff['id']}/ticket").json()
    ticket = get_ticket(database(handoff_bot), made["ticket_id"])
    assert ticket.email == "siti.aminah@example.com" and "siti.aminah@example.com" in ticket.description
    assert get_handoff(database(handoff_bot), handoff["id"]).ticket_id == ticket.id
    listed = console.get("/tickets?status=open").json()["tickets"]
    assert ticket.id in [t["id"] for t in listed]

    note = "The courier confirmed a new delivery on Friday."
    changed = console.post(f"/tickets/{ticket.id}/status", {"status": "in_progress", "note": note}).json()
    assert changed["ticket"]["status"] == "in_progress" and changed["ticket"]["last_note"] == note
    meanwhile = [
        bot_says(
            "utter_ticket_created", ticket_name="siti.aminah", ticket_id=ticket.id, email=ticket.email, reply_by=""
        ),
        bot_says("utter_handoff_ended"),
        bot_says("utter_ask_csat"),
    ]
    replies = texts(handoff_bot.say("what is the status of my ticket", sender))
    assert replies[0].startswith(meanwhile[0].split(" by ")[0]) and replies[1:] == [
        *meanwhile[1:],
        bot_says("utter_ask_ticket_id"),
    ]
    replies = handoff_bot.say(ticket.id, sender)  # the e-mail address is known from the chat
    assert texts(replies)[-1] == bot_says("utter_ticket_note", note=note)


def close_code(connection: websocket.WebSocket) -> int | None:
    """The code of the close frame the server sends next (None when it sends data instead)."""
    opcode, frame = connection.recv_data_frame(True)
    return int.from_bytes(frame.data[:2], "big") if opcode == websocket.ABNF.OPCODE_CLOSE else None


def test_a_rest_customer_gets_what_was_said_meanwhile_with_the_next_reply(handoff_bot, console):
    sender = f"rest-{time.monotonic_ns()}"
    handoff_bot.say("talk to a person", sender)
    handoff = console.queued(sender)
    console.post(f"/handoffs/{handoff['id']}/claim")
    console.post(f"/handoffs/{handoff['id']}/messages", {"text": "Hello from Maya"})
    replies = handoff_bot.say("hi Maya", sender)
    assert [(r["text"], r.get("agent")) for r in replies] == [
        (bot_says("utter_handoff_agent_joined", agent_name="Maya Tan"), None),
        ("Hello from Maya", "Maya Tan"),
    ]
    live = console.frame(lambda f: f["type"] == "message" and f["message"]["text"] == "hi Maya")
    assert live["handoff_id"] == handoff["id"]
    assert handoff_bot.say("are you there?", sender) == []  # nothing new; the bot stays quiet
    console.post(f"/handoffs/{handoff['id']}/end")
    replies = handoff_bot.say('/rate{"rating": 4}', sender)
    assert texts(replies) == [
        bot_says("utter_handoff_ended"),
        bot_says("utter_ask_csat"),
        bot_says("utter_csat_thanks"),
    ]


def test_the_console_needs_a_login_and_the_csrf_token(handoff_bot, console):
    url = f"{handoff_bot.url}/console/api"
    live = url.replace("http://", "ws://").replace("/api", "/ws")
    assert requests.get(f"{url}/queue", timeout=10).status_code == 401
    assert console.http.post(f"{url}/tickets/TCK-AAAAAA/status", json={}, timeout=10).status_code == 403  # no token
    login = requests.post(f"{url}/login", json={"username": "maya", "password": PASSWORD}, timeout=30)
    set_cookie = login.headers["Set-Cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "path=/console" in set_cookie
    assert close_code(websocket.create_connection(live, origin=handoff_bot.url, timeout=10)) == 4401
    cookie = f"supportbot_console={console.http.cookies.get('supportbot_console')}"
    assert (
        close_code(websocket.create_connection(live, cookie=cookie, origin="https://evil.example", timeout=10)) == 4403
    )
    page = requests.get(f"{handoff_bot.url}/console/", timeout=10)
    assert page.ok and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_an_agent_cannot_take_or_answer_a_colleagues_chat(handoff_bot, console):
    sender = f"colleague-{time.monotonic_ns()}"
    handoff_bot.say("talk to a person", sender)
    handoff = console.queued(sender)
    assert console.post(f"/handoffs/{handoff['id']}/claim").status_code == 200
    colleague = Console(handoff_bot, "sam")
    assert colleague.post(f"/handoffs/{handoff['id']}/claim").status_code == 409
    assert colleague.post(f"/handoffs/{handoff['id']}/messages", {"text": "hello"}).status_code == 409
    assert colleague.post(f"/handoffs/{handoff['id']}/end").status_code == 409
    colleague.close()
    assert console.post(f"/handoffs/{handoff['id']}/messages", {"text": ""}).status_code == 400
    assert console.post(f"/handoffs/{handoff['id']}/messages", {"text": "x" * 2001}).status_code == 400
    assert console.post(f"/handoffs/{handoff['id']}/end").status_code == 200


def test_repeated_wrong_passwords_are_throttled(handoff_bot):
    # Last in this module: it locks the username "sam" for five minutes.
    url = f"{handoff_bot.url}/console/api/login"
    codes = [
        requests.post(url, json={"username": "sam", "password": "wrong password!"}, timeout=30).status_code
        for _ in range(6)
    ]
    assert codes == [401] * 5 + [429]
    assert requests.post(url, json={"username": "sam", "password": PASSWORD}, timeout=30).status_code == 429
    assert requests.post(url, json={"username": "maya", "password": PASSWORD}, timeout=30).status_code == 200
