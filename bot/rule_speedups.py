"""RulePolicy decides as Rasa's does, without recomputing what it already knows.

Each message asks RulePolicy for two or three predictions, and each one rebuilt the state of every
turn of the conversation (a replay of its events and `Domain.get_active_state` per turn), then
filtered every rule against every turn, although no rule looks back further than a few turns. That
was a fifth of the server's time per message. Applied by `bot.rasa_speedups.apply`, never in training.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import ActionExecuted, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.bounded import remember_latest

# Conversations whose turn states are kept (the tracker store keeps as many trackers).
CONVERSATIONS_KEPT = 2000
# Rule lookups kept: one per distinct recent history, a few hundred in practice.
LOOKUPS_KEPT = 4096


def _mutable_part(event: Event) -> Any:
    """What of an event can change after it was logged and still change a turn's state: Rasa sets a
    user message's text-or-intent flag afterwards (DefinePrevUserUtteredFeaturization) and appends
    to its entities (EntitiesAdded). Every other event stays as it was logged."""
    if isinstance(event, UserUttered):
        return event.use_text_for_featurization, len(event.entities), event.intent_name
    return None


@dataclass
class _TurnStates:
    """The states computed for one conversation, and the events they were computed from."""

    domain: Domain
    omit_unset_slots: bool
    events: list[Event]  # the applied events, held so that their identity can be compared
    marks: list[Any]  # `_mutable_part` of each event at the time
    states: dict[int, State]  # the state before the event at each position (and after the last)
    replayed: DialogueStateTracker  # the conversation replayed up to its last event


def _copied(state: State) -> State:
    # Callers edit the states they get (the featurizer deletes a turn's text or intent).
    return {kind: dict(sub_state) for kind, sub_state in state.items()}


def _common_prefix(seen: _TurnStates, events: list[Event], marks: list[Any]) -> tuple[int, int]:
    """How many of `events` are the very events the states were computed from; and how many are
    that and unchanged since (`marks`: the events' `_mutable_part` now)."""
    count = min(len(seen.events), len(events))
    same = 0
    while same < count and seen.events[same] is events[same]:
        same += 1
    unchanged = next((i for i in range(same) if seen.marks[i] != marks[i]), same)
    return same, unchanged


def states_once_per_turn(kept: int = CONVERSATIONS_KEPT) -> None:
    """`Domain.states_for_tracker_history` for RulePolicy computes the state of a turn once.

    A turn's state depends only on the events before it. The states of a conversation's last call are
    kept with those events (compared by identity: the tracker store's copies share them), and a call
    computes the states of the turns after the first event that is new or changed. Calls that hide
    rule-only turns (the ML policies', where turns depend on each other) are Rasa's own.
    """
    full = Domain.states_for_tracker_history
    seen_by_conversation: OrderedDict[str, _TurnStates] = OrderedDict()

    def states_for_tracker_history(
        self: Domain,
        tracker: DialogueStateTracker,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: dict[str, Any] | None = None,
    ) -> list[State]:
        if ignore_rule_only_turns:
            return full(self, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        events = tracker.applied_events()
        marks = [_mutable_part(event) for event in events]
        # Taken out while it is worked on: an error half-way leaves nothing half-updated behind.
        seen = seen_by_conversation.pop(tracker.sender_id, None)
        known: dict[int, State] = {}
        start, replayed = 0, None
        if seen is not None and seen.domain is self and seen.omit_unset_slots == omit_unset_slots:
            same, unchanged = _common_prefix(seen, events, marks)
            known = {position: state for position, state in seen.states.items() if position <= unchanged}
            # Only new events, and every earlier turn's state still right: the replay goes on from where
            # it stopped. (A message changed since, as Rasa does before the next action, is replayed the
            # same; only states after it would differ.)
            turns_after_a_change = any(isinstance(e, ActionExecuted) for e in events[unchanged + 1 : same])
            if same == len(seen.events) and not turns_after_a_change:
                start, replayed = same, seen.replayed
        if replayed is None:
            replayed = tracker.init_copy()
        states = {position: state for position, state in known.items() if position < start}

        def state_at(position: int) -> State:
            if position not in known:
                known[position] = self.get_active_state(replayed, omit_unset_slots=omit_unset_slots)
            return known[position]

        # As Rasa's generate_all_prior_trackers: a state before each action, and one after the last event.
        for position in range(start, len(events)):
            event = events[position]
            if isinstance(event, ActionExecuted):
                states[position] = state_at(position)
            replayed.update(event)
        states[len(events)] = state_at(len(events))

        seen = _TurnStates(self, omit_unset_slots, events, marks, states, replayed)
        remember_latest(seen_by_conversation, tracker.sender_id, seen, kept)
        return [_copied(states[position]) for position in sorted(states)]

    Domain.states_for_tracker_history = states_for_tracker_history  # type: ignore[method-assign]


def _frozen(states: list[State]) -> tuple:
    return tuple(
        tuple(sorted((kind, tuple(sorted(sub_state.items()))) for kind, sub_state in state.items())) for state in states
    )


def rules_matched_on_recent_turns(kept: int = LOOKUPS_KEPT) -> None:
    """`RulePolicy._get_possible_keys` looks at the turns its longest rule spans, and remembers.

    Rasa filters every rule against every turn of the conversation, but a rule is applicable at any
    turn further back than its own length: the result depends on the last few turns only, and
    conversations repeat the same few turns all the time.
    """
    original = RulePolicy._get_possible_keys
    longest: dict[int, tuple[dict, int]] = {}  # id(lookup) -> (lookup, its longest rule in turns)
    found: OrderedDict[tuple, frozenset[str]] = OrderedDict()

    def _get_possible_keys(self: RulePolicy, lookup: dict[str, str], states: list[State]) -> set[str]:
        held = longest.get(id(lookup))
        if held is None or held[0] is not lookup:  # the lookup is held, so its id is not reused
            held = (lookup, max((len(self._rule_key_to_state(key)) for key in lookup), default=0))
            longest[id(lookup)] = held
        recent = states[len(states) - held[1] :] if held[1] < len(states) else states
        try:
            key = (id(lookup), _frozen(recent))
        except TypeError:  # a feature value that cannot be hashed: decide without remembering
            return original(self, lookup, states)
        keys = found.get(key)
        if keys is None:
            keys = remember_latest(found, key, frozenset(original(self, lookup, recent)), kept)
        else:
            found.move_to_end(key)
        return set(keys)

    RulePolicy._get_possible_keys = _get_possible_keys  # type: ignore[method-assign]


def apply() -> None:
    states_once_per_turn()
    rules_matched_on_recent_turns()
