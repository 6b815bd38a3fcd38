"""The widget's socket.io channel: session tokens, Origin, size limits, history, no double handling.

The unit tests check the pieces; the others speak socket.io (websocket, as browsers do) to a
real Rasa server and action server.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import socketio
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

from bot.channels.session_ids import SessionIds
from bot.channels.widget_socket import OriginCheck, message_metadata, transcript
from tests.servers import Browser, RunningBot, bot_says

# --- units ---------------------------------------------------------------------------------------


def test_session_tokens_are_unguessable_and_checked():
    ids = SessionIds("s" * 32)
    conversation_id, token = ids.issue()
    assert len(conversation_id) >= 22  # 16 random bytes, base64url: 128 bits
    assert ids.conversation_of(token) == conversation_id
    assert ids.issue()[0] != conversation_id
    assert ids.conversation_of(conversation_id) is None  # the id alone does not open the conversation
    assert ids.conversation_of(conversation_id + ".forged") is None
    assert ids.conversation_of(token.replace(conversation_id, "another-id")) is None
    assert SessionIds("t" * 32).conversation_of(token) is None  # another server's secret
    assert ids.conversation_of(None) is None and ids.conversation_of(123) is None
    with pytest.raises(ValueError):
        SessionIds("short")


def test_origin_check_allows_the_own_origin_and_the_listed_ones():
    check = OriginCheck(["https://shop.example/"])
    environ = {"HTTP_HOST": "127.0.0.1:5005", "wsgi.url_scheme": "http"}
    assert check("http://127.0.0.1:5005", environ)
    assert check("https://shop.example", environ)
    assert not check("https://evil.example", environ)
    assert not check("http://127.0.0.1:5006", environ)
    assert check(None, environ)  # no Origin: not a browser
    behind_proxy = {**environ, "HTTP_X_FORWARDED_HOST": "bot.shop.example", "HTTP_X_FORWARDED_PROTO": "https"}
    assert check("https://bot.shop.example", behind_proxy)


def test_metadata_from_the_browser_is_limited_to_what_the_widget_uses():
    assert message_metadata({"display": "Yes", "hidden": True, "agent": "x"}) == {"display": "Yes", "hidden": True}
    assert message_metadata({"display": "x" * 500})["display"] == "x" * 200
    assert message_metadata({"hidden": "yes"}) == {}
    assert message_metadata("not a dict") == {}


def test_transcript_shows_typed_text_button_titles_and_bot_messages_only():
    events = [
        UserUttered("/greet", metadata={"hidden": True}),
        ActionExecuted("utter_greet"),
        BotUttered("Hi!"),
        UserUttered("/faq", metadata={"display": "Return policy"}, message_id="m1"),
        UserUttered.create_external("handoff_ended", []),  # the server's hand-back: never typed
        BotUttered("Was this helpful?", data={"buttons": [{"title": "Yes", "payload": "/affirm"}]}),
    ]
    assert transcript(events) == [
        {"sender": "bot", "text": "Hi!"},
        {"sender": "user", "text": "Return policy", "id": "m1"},
        {"sender": "bot", "text": "Was this helpful?", "quick_replies": [{"title": "Yes", "payload": "/affirm"}]},
    ]


# --- a real server -------------------------------------------------------------------------------


def user_events(bot: RunningBot, conversation_id: str) -> list[dict[str, Any]]:
    return [e for e in bot.tracker(conversation_id)["events"] if e["event"] == "user"]


def test_a_new_browser_gets_a_fresh_conversation_and_an_answer(widget_bot):
    browser = Browser(widget_bot).open()
    assert browser.history == []
    assert browser.say("how do i track my order") == {"ok": True}
    replies = browser.bot_messages()
    # One socket.io message per bot message: the answer keeps its paragraphs together.
    assert "**My orders**" in replies[0]["text"] and "\n\n" in replies[0]["text"]
    assert replies[-1]["text"] == bot_says("utter_ask_helpful")
    assert [r["title"] for r in replies[-1]["quick_replies"]] == ["Yes", "No"]
    browser.close()
    assert [e["text"] for e in user_events(widget_bot, browser.conversation_id)] == ["how do i track my order"]


def test_a_forged_token_gets_a_new_conversation_not_the_named_one(widget_bot):
    owner = Browser(widget_bot).open()
    owner.say("my secret order question")
    owner.close()
    for forged in (owner.conversation_id, owner.conversation_id + ".AAAA", "anything"):
        stranger = Browser(widget_bot).open(token=forged)
        assert stranger.conversation_id != owner.conversation_id and stranger.history == []
        stranger.close()


def test_messages_need_a_confirmed_session(widget_bot):
    client = socketio.SimpleClient()
    client.connect(widget_bot.url, transports=["websocket"])
    reply = client.call("user_uttered", {"message": "hello", "session_id": "someone-else"}, timeout=30)
    assert reply == {"ok": False, "error": "no_session"}
    client.disconnect()


def test_a_returning_browser_sees_the_conversation_and_tabs_stay_in_step(widget_bot):
    first_tab = Browser(widget_bot).open()
    first_tab.say("/greet", metadata={"hidden": True})
    first_tab.say("how do i track my order")
    first_tab.say("/affirm", metadata={"display": "Yes"})
    first_tab.bot_messages()
    second_tab = Browser(widget_bot).open(token=first_tab.token)
    assert second_tab.token == first_tab.token
    shown = [(m["sender"], m["text"]) for m in second_tab.history]
    assert shown[0] == ("bot", bot_says("utter_greet"))  # the hidden opening message is not shown
    assert shown[1] == ("user", "how do i track my order")
    assert ("user", "Yes") in shown  # a button's title, not its payload
    # What is typed in one tab, and the bot's reply, appear in the other.
    second_tab.say("thank you")
    assert (first_tab.expect("user_echo"))["text"] == "thank you"
    assert (first_tab.expect("bot_uttered"))["text"] == bot_says("utter_you_are_welcome")
    first_tab.close()
    second_tab.close()


def test_a_message_sent_again_after_a_dropped_connection_is_handled_once(widget_bot):
    browser = Browser(widget_bot).open()
    message = {"message": "how do i return an item", "message_id": uuid.uuid4().hex}
    assert browser.client.call("user_uttered", message, timeout=60) == {"ok": True}
    browser.close()
    again = Browser(widget_bot).open(token=browser.token)
    retry = {**message, "retry": True}
    assert again.client.call("user_uttered", retry, timeout=60) == {"ok": True, "duplicate": True}
    again.close()
    handled = [e for e in user_events(widget_bot, browser.conversation_id) if e["message_id"] == message["message_id"]]
    assert len(handled) == 1


def test_a_too_long_message_is_refused_with_the_limit_and_not_stored(widget_bot):
    browser = Browser(widget_bot).open()
    assert browser.say("x" * 2001) == {"ok": False, "error": "too_long", "limit": 2000}
    assert browser.say("y" * 2000) == {"ok": True}
    browser.close()
    assert [len(e["text"]) for e in user_events(widget_bot, browser.conversation_id)] == [2000]


def test_a_packet_over_64_kib_drops_only_its_own_connection(widget_bot):
    flooder = Browser(widget_bot, reconnection=False).open()
    flooder.client.emit("user_uttered", {"message": "z" * 100_000, "message_id": "flood"})
    deadline = time.monotonic() + 10
    while flooder.client.connected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not flooder.client.connected, "the server kept a connection that sent 100 kB"
    bystander = Browser(widget_bot).open()
    assert bystander.say("hello") == {"ok": True}
    bystander.close()
    assert user_events(widget_bot, flooder.conversation_id) == []


def test_pages_of_other_sites_cannot_connect(widget_bot):
    with pytest.raises(socketio.exceptions.ConnectionError):
        Browser(widget_bot, origin="https://evil.example").open()
    own = Browser(widget_bot).open()  # the demo page's own origin
    own.close()
