"""The policies decide the same from a conversation's recent events (bot.rasa_speedups.recent_view)
as from its whole session, at every step of a long, varied conversation."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
from rasa.core.agent import Agent
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import rule_speedups
from bot.rasa_speedups import RecentViews, recent_view
from tests.servers import MODEL, start_bot

pytestmark = pytest.mark.skipif(not MODEL.exists(), reason="no trained model: run `make train` (make test does)")

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WINDOW = 20  # far shorter than the product's, so that almost every prediction is made from a cut view

# Answers, "did you mean", feedback both ways, small talk, a declined offer of a person, a ticket form
# started and cancelled, a change of language, a ticket status request left unanswered.
CONVERSATION = [
    "hi",
    "how long do i have to return something",
    "yes",
    "payment",
    '/faq{"faq_id": "payments.methods"}',
    "no",
    "where is my order",
    "no",
    "no thanks",
    "asdf qwerty",
    "blorp flimflam zxcv",
    "no",
    "i want to open a ticket",
    "cancel",
    "boleh cancel order tak?",
    "ya",
    "what is the status of my ticket",
    "stop",
    "are you a bot?",
    "thanks",
    "how do i reset my password",
    "yes",
    "bye",
]


@pytest.fixture(scope="module")
def long_conversation(tmp_path_factory) -> list[dict]:
    running = start_bot(tmp_path_factory.mktemp("window"), ARTIFACTS / "window")
    try:
        sender = uuid.uuid4().hex
        for text in CONVERSATION:
            running.say(text, sender)
        return running.tracker(sender)["events"]
    finally:
        running.stop()


@pytest.fixture(scope="module")
def agent() -> Agent:
    return Agent.load(str(MODEL))


def predicted_action(agent: Agent, tracker: DialogueStateTracker) -> str:
    prediction = agent.processor._predict_next_with_tracker(tracker)
    return agent.domain.action_names_or_texts[int(np.argmax(prediction.probabilities))]


def test_every_prediction_is_the_same_from_the_recent_events(long_conversation, agent) -> None:
    domain = agent.domain
    events = list(DialogueStateTracker.from_dict("x", long_conversation, domain.slots).events)
    compared = cut_views = 0
    for step, event in enumerate(events):
        if not isinstance(event, ActionExecuted) or step < WINDOW:
            continue
        whole = DialogueStateTracker.from_events("x", events[:step], domain.slots)
        if whole.followup_action:
            continue  # decided by the action before, not by the policies
        recent = recent_view(whole, domain, WINDOW)
        if recent is None:
            continue
        cut_views += 1
        assert len(recent.events) < len(whole.events)
        assert predicted_action(agent, recent) == predicted_action(agent, whole), f"step {step}: {event}"
        compared += 1
    assert compared == cut_views and compared >= 25, (compared, len(events))


def test_a_kept_view_is_extended_message_by_message_and_decides_as_the_whole_conversation(
    long_conversation, agent
) -> None:
    """RecentViews, as the server calls it (a copy of the conversation per message, sharing its
    events): the view is extended until it outgrows the window, and decides as the whole does."""
    domain = agent.domain
    events = list(DialogueStateTracker.from_dict("x", long_conversation, domain.slots).events)
    views, tracker, seen = RecentViews(step=10), DialogueStateTracker("x", domain.slots), []
    for step, event in enumerate(events):
        if isinstance(event, ActionExecuted) and len(tracker.events) > WINDOW and not tracker.followup_action:
            view = views.view(tracker.copy(), domain, WINDOW)
            if view is not None:
                assert len(view.events) < len(tracker.events)
                assert predicted_action(agent, view) == predicted_action(agent, tracker), f"step {step}: {event}"
                seen.append(view)
        tracker.update(event)
    built = len({id(view) for view in seen})
    assert len(seen) >= 25 and built >= 3 and len(seen) - built >= 10, (len(seen), built)


def test_a_replaced_event_builds_a_new_view(long_conversation, agent) -> None:
    domain, views = agent.domain, RecentViews()
    first = DialogueStateTracker.from_dict("x", long_conversation, domain.slots)
    kept = views.view(first, domain, WINDOW)
    assert kept is not None and views.view(first.copy(), domain, WINDOW) is kept
    again = DialogueStateTracker.from_dict("x", long_conversation, domain.slots)  # equal events, other objects
    rebuilt = views.view(again, domain, WINDOW)
    assert rebuilt is not None and rebuilt is not kept
    assert [e.as_dict() for e in rebuilt.events] == [e.as_dict() for e in kept.events]


def test_a_view_unused_for_the_idle_time_is_forgotten(agent) -> None:
    """Views hold their conversations' events: a stream of long conversations must not pile them up."""
    domain, now = agent.domain, [0.0]
    views = RecentViews(idle_seconds=120, clock=lambda: now[0])

    def conversation(sender: str) -> DialogueStateTracker:
        return DialogueStateTracker.from_events(sender, turns(10, 1.0), domain.slots)

    first, second = conversation("first"), conversation("second")
    kept = views.view(first, domain, WINDOW)
    now[0] = 100.0
    views.view(second, domain, WINDOW)
    assert len(views) == 2
    now[0] = 150.0  # "first" idle for 150 s, "second" for 50 s
    views.view(conversation("third"), domain, WINDOW)
    assert len(views) == 2  # "first" forgotten
    assert views.view(first.copy(), domain, WINDOW) is not kept  # built again on its next message
    now[0] = 200.0
    assert views.view(second.copy(), domain, WINDOW) is not None and len(views) == 3  # nothing idle yet


def turns(count: int, start: float) -> list:
    return [
        event
        for n in range(count)
        for event in (
            UserUttered("hi", {"name": "greet"}, timestamp=start + n),
            ActionExecuted("utter_greet", timestamp=start + n + 0.1),
            ActionExecuted("action_listen", timestamp=start + n + 0.2),
        )
    ]


def test_the_view_starts_with_the_slots_as_they_were_at_its_start(agent) -> None:
    domain = agent.domain
    events = [
        ActionExecuted("action_listen", timestamp=0.5),
        SlotSet("ticket_pending", False, timestamp=0.6),
        SlotSet("ticket_pending", True, timestamp=0.7),  # the latest value counts
        SlotSet("language", "ms", timestamp=0.8),
        *turns(10, 1.0),
    ]
    whole = DialogueStateTracker.from_events("x", events, domain.slots)
    recent = recent_view(whole, domain, 9)
    assert recent is not None and len(recent.events) < len(whole.events)
    assert recent.get_slot("ticket_pending") is True and recent.get_slot("language") == "ms"
    assert recent.past_states(domain)[-3:] == whole.past_states(domain)[-3:]


def test_slots_from_before_a_new_session_are_not_restored(agent) -> None:
    domain = agent.domain
    events = [
        SlotSet("ticket_pending", True, timestamp=0.1),
        SessionStarted(timestamp=0.5),
        ActionExecuted("action_listen", timestamp=0.6),
        *turns(10, 1.0),
    ]
    recent = recent_view(DialogueStateTracker.from_events("x", events, domain.slots), domain, 9)
    assert recent is not None and recent.get_slot("ticket_pending") is False


def test_a_form_active_at_the_start_of_the_view_means_the_whole_session(agent) -> None:
    domain = agent.domain
    events = [ActionExecuted("action_listen", timestamp=0.5), ActiveLoop("ticket_form", timestamp=0.6), *turns(10, 1.0)]
    assert recent_view(DialogueStateTracker.from_events("x", events, domain.slots), domain, 9) is None
    closed = [*events[:2], ActiveLoop(None, timestamp=0.7), *turns(10, 1.0)]
    assert recent_view(DialogueStateTracker.from_events("x", closed, domain.slots), domain, 9) is not None


def test_every_prediction_is_the_same_with_the_rule_speedups(long_conversation, agent, monkeypatch) -> None:
    """bot.rule_speedups: RulePolicy's states and rule matches remembered, as the server runs it (the
    events of one tracker, copied and added to message by message), decide as Rasa does at every step."""
    events = list(DialogueStateTracker.from_dict("x", long_conversation, agent.domain.slots).events)

    def predictions() -> list[list[float]]:
        tracker = DialogueStateTracker("x", agent.domain.slots)
        made = []
        for event in events:
            if isinstance(event, ActionExecuted) and not tracker.followup_action:
                for _ in range(2):  # asked twice, as the policies are per message
                    made.append(agent.processor._predict_next_with_tracker(tracker.copy()).probabilities)
            tracker.update(event)
        return made

    rasas = predictions()
    monkeypatch.setattr(Domain, "states_for_tracker_history", Domain.states_for_tracker_history)
    monkeypatch.setattr(RulePolicy, "_get_possible_keys", RulePolicy._get_possible_keys)
    rule_speedups.apply()
    assert predictions() == rasas
    assert len(rasas) >= 80
