"""The speed-ups change nothing Rasa decides: a copied tracker is the tracker, replayed or not."""

from __future__ import annotations

import asyncio
import gc
from datetime import datetime, timezone

import pytest
from rasa.core.agent import Agent
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from bot import rasa_speedups
from bot.handoff.packet import build_packet


def conversation(domain: Domain) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        "c1",
        [
            ActionExecuted("action_listen", timestamp=1),
            UserUttered("open a ticket", {"name": "open_ticket", "confidence": 1.0}, timestamp=2),
            ActionExecuted("ticket_form", timestamp=3),
            ActiveLoop("ticket_form", timestamp=4),
            SlotSet("requested_slot", "ticket_name", timestamp=5),
            SlotSet("language", "ms", timestamp=6),
            BotUttered("Nama anda?", timestamp=7),
            ActionExecuted("action_listen", timestamp=8),
            UserUttered("berhenti", {"name": "stop_form", "confidence": 1.0}, timestamp=9),
            LoopInterrupted(True, timestamp=10),
            FollowupAction("action_cancel_ticket", timestamp=11),
        ],
        domain.slots,
    )


@pytest.fixture
def fast_copies():
    original = DialogueStateTracker.copy
    rasa_speedups.copy_trackers_without_replay()
    yield
    DialogueStateTracker.copy = original


def test_a_copied_tracker_is_the_replayed_one(domain, fast_copies) -> None:
    tracker = conversation(domain)
    copied, replayed = tracker.copy(), tracker.travel_back_in_time(float("inf"))
    assert copied.current_state(EventVerbosity.ALL) == replayed.current_state(EventVerbosity.ALL)
    assert copied.current_slot_values() == replayed.current_slot_values()
    assert copied.active_loop == replayed.active_loop and copied.active_loop.is_interrupted is True
    assert copied.followup_action == replayed.followup_action == "action_cancel_ticket"


def test_changing_the_copy_leaves_the_tracker_alone(domain, fast_copies) -> None:
    tracker = conversation(domain)
    before = tracker.current_state(EventVerbosity.ALL)
    copied = tracker.copy()
    copied.update(SlotSet("language", "vi", timestamp=12))
    copied.update(ActiveLoop(None, timestamp=13))
    copied.update(ActionExecuted("action_cancel_ticket", timestamp=14))
    assert tracker.current_state(EventVerbosity.ALL) == before
    assert tracker.get_slot("language") == "ms" and tracker.active_loop_name == "ticket_form"
    assert len(copied.events) == len(tracker.events) + 3


def test_messages_are_admitted_a_few_at_a_time_in_arrival_order(monkeypatch) -> None:
    running: list[int] = []
    most_at_once = 0
    started: list[int] = []

    async def handle(self: Agent, message: int) -> int:
        nonlocal most_at_once
        started.append(message)
        running.append(message)
        most_at_once = max(most_at_once, len(running))
        await asyncio.sleep(0.01 if message % 2 else 0.002)  # uneven work, as with action-server calls
        running.remove(message)
        return message

    monkeypatch.setattr(Agent, "handle_message", handle)
    admission = rasa_speedups.Admission(limit=3, max_waiting=30)
    rasa_speedups.admit_in_arrival_order(admission)
    agent = Agent.__new__(Agent)

    async def flood() -> list[int]:
        return list(await asyncio.gather(*(agent.handle_message(n) for n in range(20))))

    assert asyncio.run(flood()) == list(range(20))
    assert most_at_once == 3
    assert started == list(range(20))  # nobody overtakes at the door
    assert admission.waiting == 0


def test_beyond_the_waiting_room_a_message_is_refused_at_once(monkeypatch) -> None:
    async def handle(self: Agent, message: int) -> int:
        await asyncio.sleep(0.01)  # e.g. waiting for the action server
        return message

    monkeypatch.setattr(Agent, "handle_message", handle)
    admission = rasa_speedups.Admission(limit=3, max_waiting=5)
    rasa_speedups.admit_in_arrival_order(admission)
    agent = Agent.__new__(Agent)

    async def flood() -> list[int | str]:
        results = await asyncio.gather(*(agent.handle_message(n) for n in range(12)), return_exceptions=True)
        return [r if isinstance(r, int) else type(r).__name__ for r in results]

    assert asyncio.run(flood()) == [0, 1, 2, 3, 4, 5, 6, 7] + ["AdmissionFull"] * 4  # 3 inside, 5 waiting
    assert admission.waiting == 0 and not admission.full()


def test_the_waiting_room_size_comes_from_the_environment() -> None:
    assert rasa_speedups.max_waiting_from({}) == rasa_speedups.DEFAULT_MAX_WAITING
    assert rasa_speedups.max_waiting_from({"SUPPORTBOT_MAX_WAITING_MESSAGES": "40"}) == 40
    with pytest.raises(ValueError, match="SUPPORTBOT_MAX_WAITING_MESSAGES"):
        rasa_speedups.max_waiting_from({"SUPPORTBOT_MAX_WAITING_MESSAGES": "lots"})


def test_applied_events_from_the_last_answer_are_rasas_at_every_step(monkeypatch) -> None:
    """The incremental `applied_events` against Rasa's own after every event of a conversation with
    a form, a rewound message, a reverted action, a restart, a new session and a copied tracker."""
    rasas = DialogueStateTracker.applied_events
    monkeypatch.setattr(DialogueStateTracker, "applied_events", rasas)  # put back after the test
    rasa_speedups.applied_events_incrementally()
    listen = ActionExecuted(ACTION_LISTEN_NAME)
    events = [
        SessionStarted(), listen, UserUttered("hi"), ActionExecuted("utter_greet"), BotUttered("hello"), listen,
        UserUttered("open a ticket"), ActionExecuted("ticket_form"), ActiveLoop("ticket_form"),
        SlotSet("requested_slot", "ticket_name"), listen, UserUttered("Siti"), ActionExecuted("ticket_form"),
        SlotSet("ticket_name", "Siti"), listen, UserUttered("oops"), UserUtteranceReverted(), listen,
        UserUttered("siti@example.com"), ActionExecuted("ticket_form"), ActiveLoop(None),
        ActionExecuted("action_submit_ticket"), ActionReverted(), listen, UserUttered("status?"),
        ActionExecuted("ticket_status_form"), ActiveLoop("ticket_status_form"), listen, Restarted(), listen,
        UserUttered("again"), ActionExecuted("action_answer_faq"), SessionStarted(), listen, UserUttered("bye"),
    ]  # fmt: skip
    tracker = DialogueStateTracker("c", [])
    copies = []
    for number, event in enumerate(events):
        tracker.update(event)
        assert DialogueStateTracker.applied_events(tracker) == rasas(tracker), number
        if number % 7 == 3:
            copies.append(tracker.copy())
    for number, duplicate in enumerate(copies):  # a copy goes on from its own events
        duplicate.update(UserUttered(f"copy {number}"))
        duplicate.update(ActionExecuted("ticket_form"))
        assert DialogueStateTracker.applied_events(duplicate) == rasas(duplicate), number


def long_conversation(turns: int) -> DialogueStateTracker:
    tracker = DialogueStateTracker("c", [])
    tracker.update(SessionStarted())
    for number in range(turns):  # four events a turn
        tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
        tracker.update(UserUttered(f"question {number}", timestamp=1000.0 + number))
        tracker.update(SlotSet("last_faq", f"faq.{number}"))
        tracker.update(BotUttered(f"answer {number}", timestamp=1000.5 + number))
    tracker.update(ActiveLoop("ticket_form"))
    return tracker


def test_custom_actions_see_the_recent_events() -> None:
    tracker = long_conversation(150)
    view = rasa_speedups.recent_for_action(tracker, "action_record_feedback")
    state, whole = view.current_state(EventVerbosity.ALL), tracker.current_state(EventVerbosity.ALL)
    assert state["events"] == whole["events"][-rasa_speedups.RECENT_EVENTS_FOR_ACTIONS :]
    assert {k: v for k, v in state.items() if k != "events"} == {k: v for k, v in whole.items() if k != "events"}
    assert len(tracker.events) == 602  # the conversation itself is untouched


def test_the_ticket_and_handoff_get_the_messages_their_transcripts_keep() -> None:
    tracker = long_conversation(400)  # 1,602 events, 800 messages
    for needs_transcript in ("action_submit_ticket", "action_start_handoff"):
        view = rasa_speedups.recent_for_action(tracker, needs_transcript)
        state, whole = view.current_state(EventVerbosity.ALL), tracker.current_state(EventVerbosity.ALL)
        recent = whole["events"][-rasa_speedups.RECENT_EVENTS_FOR_ACTIONS :]
        earlier = [e for e in whole["events"][: -len(recent)] if e["event"] in ("user", "bot")]
        assert state["events"] == earlier[-rasa_speedups.EARLIER_MESSAGES_FOR_TRANSCRIPTS :] + recent
        assert {k: v for k, v in state.items() if k != "events"} == {k: v for k, v in whole.items() if k != "events"}

        def packet(events: list[dict]) -> dict:
            return build_packet(handoff_id="h", conversation_id="c", reason="asked", language="en", events=events,
                                slots={}, created_at=datetime(2026, 11, 26, tzinfo=timezone.utc))  # fmt: skip

        assert packet(state["events"]) == packet(whole["events"])
        assert packet(state["events"])["transcript_truncated"]


def test_what_was_loaded_is_frozen_and_later_cycles_are_still_collected() -> None:
    loaded = [{"model": i} for i in range(1000)]  # stands for the agent: alive for the whole run
    try:
        rasa_speedups.freeze_loaded_objects()
        assert gc.get_freeze_count() >= len(loaded)
        garbage: list = []
        garbage.append(garbage)  # a cycle made after start-up
        del garbage
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
