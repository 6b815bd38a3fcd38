"""The public surface: Rasa API routes the product never needs are refused, floods and huge messages
get a polite answer, and one noisy client does not hold up the others. Units, then a real server
whose loopback address is rate-limited like any other.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import requests
import socketio
import yaml

from bot.security.api_guard import is_blocked
from bot.security.limits import MessageLimits, Rate, RateLimiter, limits_from_credentials
from tests.servers import MODEL, ROOT, Browser, RunningBot, bot_says, start_bot

# --- units ---------------------------------------------------------------------------------------


def test_a_bucket_allows_the_burst_then_the_sustained_rate():
    limiter = RateLimiter(Rate(per_minute=60, burst=3))
    assert [limiter.allow("c1", now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.allow("c1", now=100.0) == pytest.approx(1.0)  # one token a second
    assert limiter.allow("c2", now=100.0) == 0.0  # another conversation has its own bucket
    assert limiter.allow("c1", now=101.0) == 0.0
    assert limiter.allow("c1", now=200.0) == 0.0  # refilled, but never beyond the burst
    assert [limiter.allow("c1", now=200.0) for _ in range(3)][-1] > 0


def test_the_bucket_table_is_bounded():
    limiter = RateLimiter(Rate(per_minute=60, burst=1), max_buckets=100)
    for n in range(1000):
        limiter.allow(f"flood-{n}", now=1.0)
    assert len(limiter._buckets) == 100


def test_loopback_is_unlimited_unless_configured():
    default = MessageLimits(Rate(per_minute=1, burst=1), Rate(per_minute=1, burst=1))
    assert all(default.wait("c", "127.0.0.1") == 0.0 for _ in range(5))
    strict = limits_from_credentials(
        {"rate_limits": {"per_conversation": {"per_minute": 1, "burst": 1}, "unlimited_addresses": []}}
    )
    assert strict.wait("c", "127.0.0.1") == 0.0 and strict.wait("c", "127.0.0.1") > 0
    with pytest.raises(ValueError, match="per_conversation"):
        limits_from_credentials({"rate_limits": {"per_conversation": {"per_minute": 0, "burst": 1}}})


@pytest.mark.parametrize(
    ("method", "path", "blocked"),
    [
        ("POST", "/conversations/abc/tracker/events", True),
        ("PUT", "/conversations/abc/tracker/events", True),
        ("POST", "/conversations/a/b/execute", True),
        ("POST", "/conversations/abc/trigger_intent", True),
        ("POST", "/conversations/abc/messages", True),
        ("POST", "/model/train", True),
        ("POST", "/model/test/intents", True),
        ("PUT", "/model", True),
        ("DELETE", "/model", True),
        ("GET", "/conversations/abc/tracker", False),
        ("POST", "/model/parse", False),
        ("POST", "/webhooks/rest/webhook", False),
        ("GET", "/status", False),
    ],
)
def test_which_rasa_routes_are_refused(method, path, blocked):
    assert is_blocked(method, path, set()) is blocked


def test_a_callback_url_is_refused_on_any_route():
    assert is_blocked("POST", "/model/parse", {"callback_url"})


# --- a real server -------------------------------------------------------------------------------

LIMIT = Rate(per_minute=6, burst=3)
LOGS = ROOT / "tests" / "artifacts" / "security"


@pytest.fixture(scope="module")
def strict_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    """The product with small limits that apply to loopback too, and a waiting room of one message."""
    if not MODEL.exists():
        pytest.skip("no trained model: run `make train` (make test does)")
    folder = tmp_path_factory.mktemp("security")
    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    limits = {
        "per_conversation": {"per_minute": LIMIT.per_minute, "burst": LIMIT.burst},
        "per_address": {"per_minute": 600, "burst": 200},
        "unlimited_addresses": [],
    }
    for channel in credentials.values():
        channel["rate_limits"] = limits
    (folder / "credentials.yml").write_text(yaml.safe_dump(credentials), encoding="utf-8")
    running = start_bot(
        folder / "bot",
        LOGS,
        # DEBUG: the most a log ever says about a message.
        {"SUPPORTBOT_LOG_LEVEL": "DEBUG", "SUPPORTBOT_MAX_WAITING_MESSAGES": "1"},
        credentials=folder / "credentials.yml",
    )
    yield running
    running.stop()


def rest(bot: RunningBot, sender: str, text: str, **headers: str) -> requests.Response:
    return requests.post(
        f"{bot.url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, headers=headers, timeout=30
    )


def test_a_flood_from_one_conversation_gets_a_polite_wait_and_others_are_served(strict_bot):
    flooder, other = f"flood-{uuid.uuid4().hex}", f"calm-{uuid.uuid4().hex}"
    codes = [rest(strict_bot, flooder, "how do i track my order").status_code for _ in range(LIMIT.burst + 5)]
    assert codes[: LIMIT.burst] == [200] * LIMIT.burst and set(codes[LIMIT.burst :]) == {429}
    refused = rest(strict_bot, flooder, "hello?", **{"Accept-Language": "ms-MY,ms;q=0.9"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.json() == [{"recipient_id": flooder, "text": bot_says("utter_slow_down", "ms")}]
    started = time.monotonic()
    answered = rest(strict_bot, other, "how do i track my order")
    assert answered.status_code == 200 and "My orders" in answered.json()[0]["text"]
    assert time.monotonic() - started < 10  # not queued behind the flood (a generous bound, not a benchmark)
    stored = [e for e in strict_bot.tracker(flooder)["events"] if e["event"] == "user"]
    assert len(stored) == LIMIT.burst  # refused messages never reached the bot


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


def test_when_the_waiting_room_is_full_a_message_is_refused_at_once_politely_and_not_stored(strict_bot):
    """100 customers open a ticket at the same moment. Each message waits on the action server, so 8
    are handled at once and one may wait (this bot's SUPPORTBOT_MAX_WAITING_MESSAGES): the others get
    503 "busy" with Retry-After now, not an answer many seconds late. What is answered is stored;
    what is refused is not. (An FAQ answer runs in process without a pause: such messages are handled
    one after another and never wait at this door.)"""
    senders = [f"crowd-{n}-{uuid.uuid4().hex}" for n in range(100)]

    async def crowd() -> list[Answer]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

            async def send(sender: str) -> Answer:
                body = {"sender": sender, "message": "open a ticket"}
                async with http.post(f"{strict_bot.url}/webhooks/rest/webhook", json=body) as answer:
                    return Answer(answer.status, await answer.json(), dict(answer.headers))

            return list(await asyncio.gather(*(send(sender) for sender in senders)))

    answers = asyncio.run(crowd())
    busy = [(s, a) for s, a in zip(senders, answers, strict=True) if a.status == 503]
    served = [(s, a) for s, a in zip(senders, answers, strict=True) if a.status == 200]
    assert len(busy) + len(served) == len(senders) and busy and len(served) >= 8
    for sender, answer in busy:
        assert answer.body == [{"recipient_id": sender, "text": bot_says("utter_busy")}]
        assert int(answer.headers["Retry-After"]) >= 1
    for sender, answer in [busy[0], served[0]]:
        stored = [e["text"] for e in strict_bot.tracker(sender)["events"] if e["event"] == "user"]
        assert stored == ([] if answer.status == 503 else ["open a ticket"])
    assert rest(strict_bot, senders[0], "how do i track my order").status_code == 200  # the room empties


def shown_by_echo(tab: Browser, seconds: float = 2.0) -> set[str]:
    """The message ids another tab of the conversation shows from echoes, after any withdrawal."""
    shown: set[str] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            event, *data = tab.client.receive(timeout=0.2)
        except socketio.exceptions.TimeoutError:  # nothing more yet
            continue
        if event == "user_echo":
            shown.add(data[0]["id"])
        elif event == "user_echo_withdrawn":
            shown.discard(data[0]["id"])
    return shown


def test_a_widget_message_refused_as_busy_never_stays_in_the_customers_other_tabs(strict_bot):
    """40 customers, each with two tabs open, open a ticket from their first tab at the same moment.
    The busy ones are told so in that tab; their second tab does not keep showing a message the bot
    never took. The answered ones' second tab shows it."""
    first_tabs = [Browser(strict_bot).open() for _ in range(40)]
    second_tabs = [Browser(strict_bot).open(tab.token) for tab in first_tabs]
    ids = [uuid.uuid4().hex for _ in first_tabs]
    with ThreadPoolExecutor(len(first_tabs)) as pool:
        replies = list(pool.map(lambda t, i: t.say("open a ticket", message_id=i), first_tabs, ids))
    busy = [n for n, reply in enumerate(replies) if reply.get("error") == "busy"]
    served = [n for n, reply in enumerate(replies) if reply.get("ok")]
    assert busy and served and len(busy) + len(served) == len(replies), replies
    with ThreadPoolExecutor(len(second_tabs)) as pool:
        shown = list(pool.map(shown_by_echo, second_tabs))
    assert all(ids[n] not in shown[n] for n in busy)
    assert all(ids[n] in shown[n] for n in served)
    for tab in first_tabs + second_tabs:
        tab.close()


def test_a_message_over_the_cap_is_refused_politely_and_not_stored(strict_bot):
    sender = f"long-{uuid.uuid4().hex}"
    answer = rest(strict_bot, sender, "x" * 5000)
    assert answer.status_code == 413
    assert answer.json()[0]["text"] == bot_says("utter_message_too_long", limit="2000")
    assert [e for e in strict_bot.tracker(sender)["events"] if e["event"] == "user"] == []
    huge = rest(strict_bot, sender, "y" * 1_000_000)  # 1 MB: the same polite answer
    assert huge.status_code == 413 and huge.json()[0]["text"] == bot_says("utter_message_too_long", limit="2000")
    oversized = requests.post(f"{strict_bot.url}/model/parse", data=b"x" * (3 * 1024 * 1024), timeout=30)
    assert oversized.status_code == 413  # over 2 MiB: Sanic refuses the body before reading it all


def test_the_widget_channel_limits_too(strict_bot):
    browser = Browser(strict_bot).open()
    replies = [browser.say("hello") for _ in range(LIMIT.burst + 1)]
    assert replies[: LIMIT.burst] == [{"ok": True}] * LIMIT.burst
    assert replies[-1]["ok"] is False and replies[-1]["error"] == "rate_limited" and replies[-1]["retry_after"] > 0
    browser.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/conversations/victim/tracker/events"),
        ("PUT", "/conversations/victim/tracker/events"),
        ("POST", "/conversations/victim/execute"),
        ("POST", "/conversations/victim/trigger_intent"),
        ("POST", "/model/train"),
        ("PUT", "/model"),
        ("DELETE", "/model"),
    ],
)
def test_dangerous_rasa_routes_are_refused_even_with_the_token(strict_bot, method, path):
    answer = requests.request(
        method, f"{strict_bot.url}{path}", params={"token": strict_bot.token}, json={"event": "restart"}, timeout=30
    )
    assert answer.status_code == 403


def test_the_routes_the_product_uses_still_work(strict_bot):
    assert strict_bot.parse("refund")["faq"]["language"] == "en"
    parse = requests.post(
        f"{strict_bot.url}/model/parse",
        params={"token": strict_bot.token, "callback_url": "http://127.0.0.1:1/steal"},
        json={"text": "refund"},
        timeout=30,
    )
    assert parse.status_code == 403
    assert requests.post(f"{strict_bot.url}/model/parse", json={"text": "refund"}, timeout=30).status_code == 401


def test_personal_data_never_reaches_the_logs(strict_bot):
    sender = f"pii-{uuid.uuid4().hex}"
    said = "my email is siti.pii@gmail.com, phone 012-345 6789, card 4111 1111 1111 1111, order KL-20481234"
    assert rest(strict_bot, sender, said).status_code == 200
    assert rest(strict_bot, sender, "/open_ticket").status_code == 200  # the action server logs too
    logs = (LOGS / "rasa.log").read_text(errors="replace") + (LOGS / "actions.log").read_text(errors="replace")
    for secret in ("siti.pii@gmail.com", "345 6789", "4111 1111", "KL-20481234"):
        assert secret not in logs
    assert "[email]" in logs  # the message was logged, redacted
    stored = [e["text"] for e in strict_bot.tracker(sender)["events"] if e["event"] == "user"]
    assert said in stored  # the conversation itself keeps what the customer wrote


def test_the_action_server_answers_only_the_rasa_server(strict_bot):
    call = {"next_action": "action_submit_ticket", "sender_id": "x", "tracker": {"sender_id": "x", "events": []}}
    assert requests.post(strict_bot.action_url, json=call, timeout=30).status_code == 401
    forged = {"X-Supportbot-Action-Token": "guess-guess-guess-guess"}
    assert requests.post(strict_bot.action_url, json=call, headers=forged, timeout=30).status_code == 401
    assert requests.get(strict_bot.action_url.replace("/webhook", "/health"), timeout=30).ok
    assert "My orders" in rest(strict_bot, f"ok-{uuid.uuid4().hex}", "how do i track my order").json()[0]["text"]


# --- hostile inputs, each with its safe outcome ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(document.cookie)</script>",
        '"><img src=x onerror=alert(1)>',
        "'; DROP TABLE tickets; --",
        "1 OR 1=1",
        "\x00\x01\x1b[31mred\x07",
        "\u202eevil\u202c",
        "👍" * 500,
        "/faq" + '{"faq_id": "../../../../etc/passwd"}',
        '/faq{"faq_id": "returns.policy\' OR 1=1 --"}',
        '/rate{"rating": 999999999999}',
        '/inform{"ticket_category": {"$ne": null}}',
    ],
)
def test_hostile_messages_get_an_answer_and_are_kept_as_text(strict_bot, text):
    sender = f"hostile-{uuid.uuid4().hex}"
    answer = rest(strict_bot, sender, text)
    assert answer.status_code == 200 and isinstance(answer.json(), list)
    assert all("Traceback" not in m.get("text", "") for m in answer.json())
    stored = [e for e in strict_bot.tracker(sender)["events"] if e["event"] == "user"]
    assert stored and stored[-1]["text"] == text  # kept exactly, never interpreted
    assert rest(strict_bot, sender, "how do i track my order").status_code == 200  # the conversation goes on


def test_invalid_utf8_and_broken_json_are_refused_cleanly(strict_bot):
    url = f"{strict_bot.url}/webhooks/rest/webhook"
    for body in (b'{"sender": "x", "message": "\xff\xfe broken"}', b"{not json", b"[]", b'{"sender": 5}'):
        answer = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
        assert answer.status_code < 500, (body, answer.status_code, answer.text[:200])
    assert rest(strict_bot, f"after-{uuid.uuid4().hex}", "how do i track my order").status_code == 200
