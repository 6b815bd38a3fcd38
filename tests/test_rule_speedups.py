"""RulePolicy's speed-ups (bot.rule_speedups) give exactly Rasa's states and rule matches."""

from __future__ import annotations

import json

import pytest
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    DefinePrevUserUtteredFeaturization,
    EntitiesAdded,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot import rasa_speedups, rule_speedups


@pytest.fixture
def rasas_states(monkeypatch):
    """Rasa's own `states_for_tracker_history`; the speed-ups are installed for the test and removed after."""
    rasas = Domain.states_for_tracker_history
    monkeypatch.setattr(Domain, "states_for_tracker_history", rasas)
    monkeypatch.setattr(DialogueStateTracker, "applied_events", DialogueStateTracker.applied_events)
    monkeypatch.setattr(DialogueStateTracker, "copy", DialogueStateTracker.copy)
    rasa_speedups.applied_events_incrementally()
    rasa_speedups.copy_trackers_without_replay()  # as the server runs: copies share their events
    rule_speedups.states_once_per_turn()
    return rasas


def user(text: str, intent: str, entities: list[dict] | None = None) -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 1.0}, entities or [])


def conversation() -> list:
    """A form, a rewound message, a reverted action, a restart, a new session; Rasa's policies adding to
    a logged message (its featurization flag, an entity) before the next action, as they do."""
    listen = ActionExecuted(ACTION_LISTEN_NAME)
    return [
        SessionStarted(), listen, user("hi", "greet"), DefinePrevUserUtteredFeaturization(False),
        ActionExecuted("utter_greet"), BotUttered("hello"), listen, user("wie lange rückgabe", "faq"),
        DefinePrevUserUtteredFeaturization(True), EntitiesAdded([{"entity": "faq_id", "value": "returns.policy"}]),
        ActionExecuted("action_answer_faq"), SlotSet("language", "en"), SlotSet("ticket_pending", True), listen,
        user("open a ticket", "open_ticket"), ActionExecuted("ticket_form"), ActiveLoop("ticket_form"),
        SlotSet("requested_slot", "ticket_name"), listen, user("Siti", "inform"), ActionExecuted("ticket_form"),
        SlotSet("ticket_name", "Siti"), listen, user("oops", "deny"), UserUtteranceReverted(), listen,
        user("siti@example.com", "inform", [{"entity": "email", "value": "x"}]), ActionExecuted("ticket_form"),
        ActiveLoop(None), ActionExecuted("action_submit_ticket"), ActionReverted(), listen,
        user("status?", "ticket_status"), ActionExecuted("ticket_status_form"), ActiveLoop("ticket_status_form"),
        listen, Restarted(), listen, user("again", "faq"), ActionExecuted("action_answer_faq"), SessionStarted(),
        listen, user("bye", "goodbye"),
    ]  # fmt: skip


def test_the_states_are_rasas_after_every_event_of_a_conversation(domain, rasas_states) -> None:
    tracker = DialogueStateTracker("c", domain.slots)
    for number, event in enumerate(conversation()):
        tracker.update(event)
        # Asked more than once per event, as the policies do (the second time from what is kept).
        for _ in range(2):
            assert domain.states_for_tracker_history(tracker) == rasas_states(domain, tracker), number


def test_copies_that_go_their_own_ways_each_get_their_own_states(domain, rasas_states) -> None:
    """The tracker store's copies share event objects; a copy that goes on differently, under the same
    conversation id, is not mistaken for the other."""
    tracker = DialogueStateTracker("c", domain.slots)
    branches = []
    for number, event in enumerate(conversation()):
        tracker.update(event)
        domain.states_for_tracker_history(tracker)
        if number % 6 == 2:
            branches.append(tracker.copy())
    for number, branch in enumerate(branches):
        other = branch.copy()  # the two go on alike, with different messages
        for mine, theirs in [
            (SlotSet("ticket_pending", True), SlotSet("ticket_pending", False)),
            (ActionExecuted(ACTION_LISTEN_NAME), ActionExecuted(ACTION_LISTEN_NAME)),
            (user(f"copy {number}", "thanks"), user(f"other {number}", "greet")),
            (ActionExecuted("utter_you_are_welcome"), ActionExecuted("utter_greet")),
        ]:
            branch.update(mine)
            other.update(theirs)
            for each in (branch, other, tracker):
                assert domain.states_for_tracker_history(each) == rasas_states(domain, each), number


@pytest.mark.parametrize(
    "change",
    [DefinePrevUserUtteredFeaturization(True), EntitiesAdded([{"entity": "faq_id", "value": "returns.policy"}])],
)
def test_a_message_changed_through_another_copy_changes_the_states(domain, rasas_states, change) -> None:
    """Copies share the logged message: Rasa changing it in one copy changes the other's states too."""
    tracker = DialogueStateTracker("c", domain.slots)
    for event in (ActionExecuted(ACTION_LISTEN_NAME), user("returns?", "faq")):
        tracker.update(event)
    domain.states_for_tracker_history(tracker)
    tracker.copy().update(change)
    assert domain.states_for_tracker_history(tracker) == rasas_states(domain, tracker)


def test_states_handed_out_can_be_changed_by_the_caller(domain, rasas_states) -> None:
    tracker = DialogueStateTracker("c", domain.slots)
    for event in conversation()[:12]:
        tracker.update(event)
    first = domain.states_for_tracker_history(tracker)
    for state in first:  # as the featurizer does with the last user turn's text or intent
        state.get("user", {}).pop("intent", None)
        state.clear()
    assert domain.states_for_tracker_history(tracker) == rasas_states(domain, tracker)


def test_rules_matched_on_the_recent_turns_are_those_matched_on_all(domain, rasas_states, monkeypatch) -> None:
    rasas_keys = RulePolicy._get_possible_keys
    monkeypatch.setattr(RulePolicy, "_get_possible_keys", rasas_keys)
    rule_speedups.rules_matched_on_recent_turns()
    listen = ActionExecuted(ACTION_LISTEN_NAME)
    # Rules of up to three turns, as RulePolicy learns them (its lookup maps a rule's states to an action).
    rules = [
        [{"prev_action": {"action_name": "action_listen"}, "user": {"intent": "greet"}}],
        [
            {"prev_action": {"action_name": "action_answer_faq"}},
            {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "affirm"}},
        ],
        [
            {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "faq"}},
            {"prev_action": {"action_name": "action_answer_faq"}, "user": {"intent": "faq"}},
            {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "affirm"}},
        ],
    ]
    lookup = {json.dumps(rule, sort_keys=True): f"action_{n}" for n, rule in enumerate(rules)}
    policy = RulePolicy.__new__(RulePolicy)
    tracker = DialogueStateTracker("c", domain.slots)
    compared = 0
    for event in [listen, user("hi", "greet"), *[e for _ in range(4) for e in (
        ActionExecuted("utter_greet"), listen, user("returns?", "faq"), ActionExecuted("action_answer_faq"),
        listen, user("yes", "affirm"), ActionExecuted("action_record_feedback"), listen, user("hi", "greet"),
    )]]:  # fmt: skip
        tracker.update(event)
        states = domain.states_for_tracker_history(tracker)
        for _ in range(2):  # the second time from what was remembered
            assert RulePolicy._get_possible_keys(policy, lookup, states) == rasas_keys(policy, lookup, states)
        compared += 1
    assert compared > 30
