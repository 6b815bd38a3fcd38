"""Asking for a person (bot.handoff.flow) on a real SQLite file, the handoff thresholds, and the console's
small pieces (login throttle, the REST customers' mailbox)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.channels.rest import MAILBOX_MESSAGES, Mailbox
from bot.console.agents import add_agent, log_in
from bot.console.api import LOGIN_ATTEMPTS_PER_USER, LoginThrottle
from bot.handoff.flow import Closed, NoAgent, Queued, request_handoff
from bot.handoff.thresholds import HandoffThresholds, load_thresholds
from bot.handoff.webhook import HandoffSettings, deliver_due
from bot.storage.database import create_engine
from bot.storage.outbox import deliveries_about
from bot.tickets.sla import is_open
from tests.test_sla import CALENDAR, kl

ROOT = Path(__file__).resolve().parent.parent
OPEN = kl(2026, 11, 25, 10, 0)  # a Wednesday morning in Kuala Lumpur
CLOSED = kl(2026, 11, 29, 10, 0)  # a Sunday
EVENTS = [
    {"event": "user", "text": "where is my parcel", "timestamp": OPEN.timestamp() - 60, "parse_data": {}},
    {"event": "bot", "text": "Sorry, I don't know.", "timestamp": OPEN.timestamp() - 59},
    {"event": "user", "text": "talk to a person", "timestamp": OPEN.timestamp() - 5, "parse_data": {}},
]
SLOTS = {"ticket_name": "Aisyah", "email": "aisyah@example.my", "order_number": "KL-20481234"}
DEAD_WEBHOOK = HandoffSettings(webhook_url="http://127.0.0.1:9/never", webhook_secret="s" * 32, timeout=1.0)


@pytest.fixture
def engine(tmp_path):
    return create_engine(f"sqlite:///{tmp_path / 'product.db'}")


def ask(engine, now: datetime, conversation_id: str = "c1", deliveries: HandoffSettings | None = None):
    return request_handoff(
        engine,
        CALENDAR,
        deliveries or HandoffSettings(),
        conversation_id=conversation_id,
        reason="not_understood",
        language="ms",
        events=EVENTS,
        slots=SLOTS,
        now=now,
    )


def agent_online(engine, now: datetime) -> None:
    add_agent(engine, "maya", "Maya Tan", "correct horse battery", now)
    assert log_in(engine, "maya", "correct horse battery", now) is not None


def test_support_hours():
    assert is_open(CALENDAR, OPEN)
    assert not is_open(CALENDAR, CLOSED)
    assert not is_open(CALENDAR, kl(2026, 11, 25, 18, 0))  # closing time is closed
    assert not is_open(CALENDAR, kl(2026, 12, 25, 10, 0))  # a holiday


def test_outside_hours_no_one_is_queued_and_the_reply_time_is_promised(engine):
    agent_online(engine, CLOSED)
    outcome = ask(engine, CLOSED)
    assert outcome == Closed(reply_by=kl(2026, 11, 30, 17, 0))  # 8 business hours from Monday 9:00


def test_with_no_agent_online_no_one_is_queued(engine):
    agent_online(engine, OPEN - timedelta(minutes=5))  # logged in, but the console has been silent since
    outcome = ask(engine, OPEN)
    assert isinstance(outcome, NoAgent) and outcome.reply_by == kl(2026, 11, 25, 18, 0)  # 8 open hours later


def test_with_an_agent_online_the_chat_is_queued_with_its_packet(engine):
    agent_online(engine, OPEN)
    first = ask(engine, OPEN)
    assert isinstance(first, Queued) and first.position == 1
    assert first.handoff.customer_name == "Aisyah" and first.handoff.reason == "not_understood"
    packet = first.handoff.packet
    assert packet["customer"]["order_number"] == "KL-20481234" and packet["language"] == "ms"
    assert [line["text"] for line in packet["transcript"]] == [e["text"] for e in EVENTS]
    second = ask(engine, OPEN + timedelta(seconds=1), "c2")
    assert second.position == 2
    again = ask(engine, OPEN + timedelta(seconds=2))  # asking again keeps the place in the queue
    assert again == Queued(first.handoff, 1)


def test_a_dead_webhook_leaves_the_copy_pending_and_visible(engine):
    agent_online(engine, OPEN)
    queued = ask(engine, OPEN, deliveries=DEAD_WEBHOOK)
    assert deliveries_about(engine, queued.handoff.id)[0]["status"] == "pending"
    assert deliver_due(engine, DEAD_WEBHOOK, OPEN) == (0, 1)
    [delivery] = deliveries_about(engine, queued.handoff.id)
    assert delivery["kind"] == "webhook" and delivery["status"] == "pending" and delivery["attempts"] == 1
    assert delivery["last_error"]


def test_thresholds_come_from_endpoints_yml(tmp_path):
    assert load_thresholds(ROOT / "endpoints.yml") == HandoffThresholds()
    path = tmp_path / "endpoints.yml"
    path.write_text("handoff:\n  misses_before_offer: 3\n  wait_for_agent_seconds: 30\n")
    assert load_thresholds(path) == HandoffThresholds(misses_before_offer=3, wait_for_agent_seconds=30.0)
    path.write_text("tracker_store:\n  type: SQL\n")
    assert load_thresholds(path) == HandoffThresholds()
    for bad, named in [
        ("misses_before_offer: 0", "misses_before_offer"),
        ("wait_for_agent_seconds: -1", "wait_for_agent_seconds"),
        ("offer_when_upset: maybe", "offer_when_upset"),
        ("wait_for_agnet_seconds: 5", "wait_for_agnet_seconds"),
    ]:
        path.write_text(f"handoff:\n  {bad}\n")
        with pytest.raises(ValueError, match=named):
            load_thresholds(path)


def test_failed_logins_are_counted_per_username_and_per_address():
    throttle = LoginThrottle()
    for _ in range(LOGIN_ATTEMPTS_PER_USER):
        assert not throttle.blocked("ip:10.0.0.1", "user:sam")
        throttle.failed("ip:10.0.0.1", "user:sam")
    assert throttle.blocked("ip:10.0.0.1", "user:sam")
    assert not throttle.blocked("ip:10.0.0.1", "user:maya")  # colleagues in the same office can still log in
    throttle.succeeded("user:sam")
    assert not throttle.blocked("ip:10.0.0.2", "user:sam")


def test_the_mailbox_keeps_messages_in_order_and_bounded():
    mailbox = Mailbox()
    asyncio.run(mailbox.put("c1", [{"text": "one"}]))
    asyncio.run(mailbox.put("c1", [{"text": str(n)} for n in range(MAILBOX_MESSAGES + 5)]))
    kept = asyncio.run(mailbox.take("c1"))
    assert len(kept) == MAILBOX_MESSAGES and kept[-1]["text"] == str(MAILBOX_MESSAGES + 4)
    assert asyncio.run(mailbox.take("c1")) == []
