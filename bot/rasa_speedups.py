"""Changes to how Rasa 3.6 runs a message that make it faster and change nothing it decides.

Each one removes a cost measured in the profile of one REST message (docs/latency-profile.md);
the behaviour tests run with them on. Applied once by `bot.server`, never during training.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import logging
import time
import types
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from rasa.core import processor
from rasa.core.actions.action import RemoteAction
from rasa.core.agent import Agent
from rasa.core.channels import rest
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.core.policies import rule_policy
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.slots import Slot
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import rule_speedups
from bot.bounded import remember_latest
from bot.handoff.packet import MAX_MESSAGES
from bot.names import ACTION_START_HANDOFF, ACTION_SUBMIT_TICKET
from bot.settings import positive_whole_number

# Kept shorter than the action server's keep-alive (bot.action_server.KEEP_ALIVE_SECONDS), so the
# client never reuses a connection the server has just closed.
CLIENT_KEEP_ALIVE_SECONDS = 20.0


def resolve_event_types_once() -> None:
    """`Event.resolve_by_type` walks every Event subclass, recursively, for each event it reads;
    the answer for a type name never changes while the process runs."""
    original = Event.resolve_by_type
    known: dict[str, type[Event]] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        found = known.get(type_name)
        if found is None:
            found = original(type_name, None)
            if found is None:
                return original(type_name, default)  # unknown: Rasa's own warning or error
            known[type_name] = found
        return found

    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign]


def copy_slots_directly() -> None:
    """Every tracker Rasa builds (several per prediction) copies each slot with `copy.copy`, whose
    generic path (`__reduce_ex__`) is slow; a slot's shallow copy is its attributes, copied."""

    def shallow_copy(slot: Slot) -> Slot:
        duplicate = slot.__class__.__new__(slot.__class__)
        duplicate.__dict__.update(slot.__dict__)
        return duplicate

    Slot.__copy__ = shallow_copy  # type: ignore[attr-defined]


def copy_trackers_without_replay() -> None:
    """Rasa copies the tracker before every action by replaying all its events into a new one
    (`travel_back_in_time(inf)`), which grows with the conversation. The state is already there:
    copy it, with its own event list, slots and loop state."""

    def copy_tracker(self: DialogueStateTracker) -> DialogueStateTracker:
        duplicate = copy.copy(self)
        duplicate.events = self._create_events(list(self.events))
        duplicate.slots = self.slots.__class__((name, copy.copy(slot)) for name, slot in self.slots.items())
        duplicate.active_loop = copy.copy(self.active_loop)
        duplicate.latest_action = dict(self.latest_action) if self.latest_action else self.latest_action
        return duplicate

    DialogueStateTracker.copy = copy_tracker  # type: ignore[method-assign]


# Events after which Rasa's `applied_events` must look at the whole conversation again.
_REWINDING = (Restarted, SessionStarted, ActionReverted, UserUtteranceReverted)


def applied_events_incrementally() -> None:
    """`DialogueStateTracker.applied_events` from the previous answer plus the new events.

    Rasa computes it from the first event on every call: several times a message, so a long
    conversation makes every message slower (a quarter of the server's time at message 500). Events
    are only ever appended, so the last answer stays right for the events it saw; the new events are
    appended to it unless one of them can undo earlier ones (a restart, a new session, a rewind, a
    form's repeated execution or a new form), in which case Rasa's own computation runs.
    """
    full = DialogueStateTracker.applied_events

    def applied_events(self: DialogueStateTracker) -> list[Event]:
        events = self.events
        count = len(events)
        cached = self.__dict__.get("_supportbot_applied")
        if cached is not None:
            seen, last, applied, loops = cached
            if seen == count and (count == 0 or events[-1] is last):
                return list(applied)
            if 0 < seen < count and events[seen - 1] is last:
                new = [events[index] for index in range(seen, count)]
                if not any(_may_undo(event, loops) for event in new):
                    applied = applied + new
                    self.__dict__["_supportbot_applied"] = (count, events[-1], applied, loops)
                    return list(applied)
        applied = full(self)
        loops = frozenset(e.name for e in events if isinstance(e, ActiveLoop) and e.name)
        self.__dict__["_supportbot_applied"] = (count, events[-1] if count else None, applied, loops)
        return list(applied)

    DialogueStateTracker.applied_events = applied_events  # type: ignore[method-assign]


def _may_undo(event: Event, loops: frozenset[str]) -> bool:
    if isinstance(event, _REWINDING):
        return True
    if isinstance(event, ActiveLoop):
        return bool(event.name) and event.name not in loops  # a new form changes which executions count
    return isinstance(event, ActionExecuted) and event.action_name in loops


# Custom actions are sent the conversation's last events only: serialising a long conversation for
# every action call was a quarter of the server's time at message 500. Slots, the latest message
# and the form's state are sent whole either way.
RECENT_EVENTS_FOR_ACTIONS = 200  # ~20 turns: far more than any other action looks back (a form's last answer)
# These two put the transcript into the ticket or the handoff packet, which keep the last
# MAX_MESSAGES messages: they also get the customer's and the bot's messages before the recent
# events, up to twice that many (some, such as a button's payload, show no line).
ACTIONS_NEEDING_THE_TRANSCRIPT = frozenset({ACTION_START_HANDOFF, ACTION_SUBMIT_TICKET})
EARLIER_MESSAGES_FOR_TRANSCRIPTS = 2 * MAX_MESSAGES
_SAID = frozenset({UserUttered.type_name, BotUttered.type_name})


def recent_for_action(tracker: DialogueStateTracker, action_name: str) -> DialogueStateTracker:
    """`tracker` as custom action `action_name` needs to see it."""
    count = len(tracker.events)
    if count <= RECENT_EVENTS_FOR_ACTIONS:
        return tracker
    events = list(tracker.events)
    cut = count - RECENT_EVENTS_FOR_ACTIONS
    sent = events[cut:]
    if action_name in ACTIONS_NEEDING_THE_TRANSCRIPT:
        said = [event for event in events[:cut] if event.type_name in _SAID]
        sent = [*said[-EARLIER_MESSAGES_FOR_TRANSCRIPTS:], *sent]
    view = copy.copy(tracker)  # the same slots, latest message and loop; fewer events
    view.events = tracker._create_events(sent)
    view.__dict__.pop("_supportbot_applied", None)
    return view


def send_actions_recent_events() -> None:
    call_format = RemoteAction._action_call_format

    def recent_call_format(self: RemoteAction, tracker: DialogueStateTracker, domain: Domain) -> dict[str, Any]:
        return call_format(self, recent_for_action(tracker, self.name()), domain)

    RemoteAction._action_call_format = recent_call_format  # type: ignore[method-assign]


def run_graphs_without_dask() -> None:
    """Run the prediction graph's nodes in a cached order with plain calls.

    Rasa builds a dask graph and its minimal schema again for every parse and prediction (about
    1 ms each, 3 per message); the nodes and their order are the same every time.
    """
    plans: dict[tuple[int, tuple[str, ...]], list[tuple[str, list[str]]]] = {}

    def plan(runner: DaskGraphRunner, targets: tuple[str, ...]) -> list[tuple[str, list[str]]]:
        key = (id(runner), targets)
        if key not in plans:
            schema = runner._graph_schema.minimal_graph_schema(list(targets))
            order: list[tuple[str, list[str]]] = []
            seen: set[str] = set()

            def visit(name: str) -> None:
                if name in seen or name not in schema.nodes:
                    return
                seen.add(name)
                needs = list(schema.nodes[name].needs.values())
                for need in needs:
                    visit(need)
                order.append((name, needs))

            for target in targets:
                visit(target)
            plans[key] = order
        return plans[key]

    def run(self: DaskGraphRunner, inputs: dict[str, Any] | None = None, targets: list[str] | None = None) -> dict:
        run_targets = tuple(targets or self._graph_schema.target_names)
        # As in dask: a node's result is (its name, its output); an input is (its name, its value).
        values: dict[str, Any] = {name: (name, value) for name, value in (inputs or {}).items()}
        nodes = self._instantiated_nodes
        try:
            for name, needs in plan(self, run_targets):
                values[name] = nodes[name](*[values.get(need, need) for need in needs])
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error
        return dict(values[target] for target in run_targets)

    DaskGraphRunner.run = run  # type: ignore[method-assign]


def skip_copies_for_silent_debug_logs() -> None:
    """Rasa deep-copies events and parse data as arguments of `structlogger.debug(...)`, which are
    built even when debug logging is off, and RulePolicy formats every turn's state as text for one.
    Above DEBUG those copies and texts are never read."""
    if logging.getLogger("rasa").getEffectiveLevel() <= logging.DEBUG:
        return
    no_copies = types.SimpleNamespace(deepcopy=lambda value, memo=None: value, copy=copy.copy)
    processor.copy = no_copies  # type: ignore[attr-defined]
    rest.copy = no_copies  # type: ignore[attr-defined]
    rule_policy.copy = no_copies  # type: ignore[attr-defined]
    rule_policy.RulePolicy.format_tracker_states = staticmethod(lambda states: "")  # type: ignore[method-assign]


def check_domain_emptiness_once() -> None:
    """Rasa asks whether the domain is empty for every message (`_check_for_unseen_features`), and
    answers by building an empty Domain and comparing both as dicts; a loaded domain never changes."""
    is_empty = Domain.is_empty
    answers: dict[int, tuple[Domain, bool]] = {}  # id -> (the domain, held so the id is not reused; answer)

    def is_empty_once(self: Domain) -> bool:
        held = answers.get(id(self))
        if held is None or held[0] is not self:
            held = answers[id(self)] = (self, is_empty(self))
        return held[1]

    Domain.is_empty = is_empty_once  # type: ignore[method-assign]


class _SharedSession:
    """`async with endpoint.session()` handing out one kept-open session instead of a new one."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(self, *exc: object) -> None:
        return None


_sessions: dict[int, aiohttp.ClientSession] = {}


def keep_action_server_connections() -> None:
    """One aiohttp session, with kept-alive connections, per endpoint: Rasa opens a new session and
    TCP connection for every custom action call. Created inside the running loop on first use."""

    def session(self: EndpointConfig) -> Any:
        shared = _sessions.get(id(self))
        if shared is None or shared.closed:
            # As EndpointConfig.session builds it, plus a keep-alive shorter than the server's.
            auth = (
                aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
            )
            shared = aiohttp.ClientSession(
                headers=self.headers,
                auth=auth,
                timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=CLIENT_KEEP_ALIVE_SECONDS),
            )
            _sessions[id(self)] = shared
        return _SharedSession(shared)

    EndpointConfig.session = session  # type: ignore[method-assign]


async def close_kept_sessions(*_: object) -> None:
    """Sanic `after_server_stop` listener: close the kept sessions."""
    for shared in list(_sessions.values()):
        await shared.close()
    _sessions.clear()


# The policies see at most about this many of a conversation's latest events; the longest rule in
# data/rules.yml spans a handful of turns (under 40 events), so they decide as with the whole session.
PREDICTION_WINDOW_EVENTS = 80
# The window's start moves in steps of about this many events. In between, each message extends the
# same view by its own events: the view is not rebuilt, and RulePolicy's remembered turn states
# (bot.rule_speedups) go on from where they were.
WINDOW_STEP_EVENTS = 40
VIEWS_KEPT = 2000  # conversations; as many as the tracker store keeps
# A view holds its conversation's recent events (~90 KB), also after the tracker store has let the
# conversation go: a view unused this long is forgotten, or a steady stream of long conversations
# grew the server by ~3 MB a minute until 2,000 were kept (make soak). An idle conversation's next
# message builds its view again, once.
VIEW_IDLE_SECONDS = 120.0
# Compared by type name: isinstance against Rasa's abstract Event classes is slow, and these scans
# pass over every event of a long session.
_RESETS = frozenset({SessionStarted.type_name, Restarted.type_name, AllSlotsReset.type_name})


def predict_from_recent_events(window: int = PREDICTION_WINDOW_EVENTS) -> None:
    """The policies predict from the conversation's recent turns, with the slots as they were.

    RulePolicy rebuilds the states of the whole session for every prediction, so each message
    cost more than the one before (13 ms at message 1, 35 ms at message 50 here). Rules look a
    few turns back; the slots they test are restored at the start of the window. With a form
    active at the window's start, the whole session is used (its interruption flags live only
    in the full replay).
    """
    predict = processor.MessageProcessor._predict_next_with_tracker
    views = RecentViews()

    def _predict_next_with_tracker(self: processor.MessageProcessor, tracker: DialogueStateTracker) -> Any:
        if tracker.followup_action or len(tracker.events) <= window:
            return predict(self, tracker)
        recent = views.view(tracker, self.domain, window)
        return predict(self, recent if recent is not None else tracker)

    processor.MessageProcessor._predict_next_with_tracker = _predict_next_with_tracker  # type: ignore[method-assign]


def recent_view(tracker: DialogueStateTracker, domain: Domain, window: int) -> DialogueStateTracker | None:
    """A tracker of the events from the first turn start within the last `window` events, preceded by
    the slot values of that moment; None when there is no such view (no turn start, a form active)."""
    events = list(tracker.events)
    cut = _turn_start(events, window)
    return None if cut is None else _view_from(tracker.sender_id, events, cut, domain)


def _turn_start(events: list[Event], window: int) -> int | None:
    return next(
        (
            i
            for i in range(max(0, len(events) - window), len(events))
            if events[i].type_name == ActionExecuted.type_name and events[i].action_name == ACTION_LISTEN_NAME
        ),
        None,
    )


def _view_from(sender_id: str, events: list[Event], cut: int, domain: Domain) -> DialogueStateTracker | None:
    slots: dict[str, Any] = {}
    latest_loop_seen = False
    for event in reversed(events[:cut]):  # the latest value of each slot before the cut
        kind = event.type_name
        if kind in _RESETS:
            break
        if kind == ActiveLoop.type_name and not latest_loop_seen:
            if event.name:
                return None
            latest_loop_seen = True
        elif kind == SlotSet.type_name and event.key not in slots:
            slots[event.key] = event.value
    restored = [SlotSet(name, value, timestamp=events[cut].timestamp) for name, value in slots.items()]
    return DialogueStateTracker.from_events(sender_id, [*restored, *events[cut:]], domain.slots)


@dataclass
class _KeptView:
    domain: Domain
    window: int
    start: int  # where the view's events begin among the conversation's
    source: list[Event]  # the conversation's events replayed into the view, compared by identity
    view: DialogueStateTracker
    used: float = 0.0  # clock() when last handed out


class RecentViews:
    """`recent_view` of each conversation, extended by the events added since the last call.

    A message's events are added to the tracker the store handed out, which shares the event
    objects of the one before: a view whose events are the very objects at the same positions is
    still right, and only the events after them are replayed into it. Anything else (an event
    replaced, a shorter conversation, another domain, the window outgrown) builds a new view.
    """

    def __init__(
        self,
        kept: int = VIEWS_KEPT,
        step: int = WINDOW_STEP_EVENTS,
        idle_seconds: float = VIEW_IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kept: OrderedDict[str, _KeptView] = OrderedDict()
        self._size, self._step = kept, step
        self._idle_seconds, self._clock = idle_seconds, clock

    def __len__(self) -> int:
        return len(self._kept)

    def view(self, tracker: DialogueStateTracker, domain: Domain, window: int) -> DialogueStateTracker | None:
        events = list(tracker.events)
        # Taken out while it is worked on: an error half-way leaves nothing half-updated behind.
        kept = self._kept.pop(tracker.sender_id, None)
        if kept is not None and kept.domain is domain and kept.window == window and self._extends(kept, events):
            for event in events[kept.start + len(kept.source) :]:
                kept.view.update(event)
            kept.source = events[kept.start :]
        else:
            cut = _turn_start(events, window)
            view = None if cut is None else _view_from(tracker.sender_id, events, cut, domain)
            if view is None:
                return None
            kept = _KeptView(domain, window, cut, events[cut:], view)
        kept.used = now = self._clock()
        remember_latest(self._kept, tracker.sender_id, kept, self._size)
        self._forget_idle(now)
        return kept.view

    def _forget_idle(self, now: float) -> None:
        """Least recently used first (remember_latest moves each use to the end)."""
        while self._kept:
            oldest = next(iter(self._kept.values()))
            if now - oldest.used <= self._idle_seconds:
                return
            self._kept.popitem(last=False)

    def _extends(self, kept: _KeptView, events: list[Event]) -> bool:
        end = kept.start + len(kept.source)
        if end > len(events) or len(events) - kept.start > kept.window + self._step:
            return False
        return all(seen is now for seen, now in zip(kept.source, events[kept.start : end], strict=True))


# Messages handled at once; the rest wait at the door in arrival order (see admit_in_arrival_order).
ADMITTED_AT_ONCE = 8
# Messages waiting at the door at most (SUPPORTBOT_MAX_WAITING_MESSAGES): about five seconds of work
# at this machine's ~100 messages/s. Beyond it a message is refused at once with a polite "busy"
# (bot/channels) instead of joining a queue that makes everyone wait longer than they would.
DEFAULT_MAX_WAITING = 500


@dataclass
class Admission:
    """The door in front of Rasa's message handling: who is inside, who waits."""

    limit: int = ADMITTED_AT_ONCE
    max_waiting: int = DEFAULT_MAX_WAITING
    waiting: int = 0
    doors: dict[int, asyncio.Semaphore] = field(default_factory=dict)  # one per event loop (tests run several)

    def full(self) -> bool:
        return self.waiting >= self.max_waiting

    def door(self) -> asyncio.Semaphore:
        loop = id(asyncio.get_running_loop())
        return self.doors.get(loop) or self.doors.setdefault(loop, asyncio.Semaphore(self.limit))


ADMISSION = Admission()


def refusing(admission: Admission = ADMISSION) -> bool:
    """A message arriving now would be refused (`AdmissionFull`): every place is taken and the room is full.

    Called from a running event loop, like the door it looks at."""
    return admission.door().locked() and admission.full()


class AdmissionFull(Exception):
    """The waiting room is full: the message was not taken (the channels tell the customer so)."""


def max_waiting_from(environ: Mapping[str, str] | None = None) -> int:
    given = positive_whole_number("SUPPORTBOT_MAX_WAITING_MESSAGES", "messages", environ)
    return DEFAULT_MAX_WAITING if given is None else given


def admit_in_arrival_order(admission: Admission = ADMISSION) -> None:
    """At most `admission.limit` messages are being handled at once; the others wait in arrival order.

    All messages share one event loop: when more arrive than it can handle, every `await` on a
    message's path puts it behind the work of every other message in flight, and a message with
    more awaits (a call to the action server) falls further behind each time. Under the load test
    some REST requests waited 10 s while the median was 0.5 s (docs/loadtest.md). A semaphore
    admits in order, so a message waits for the ones before it and no longer.
    """
    handle = Agent.handle_message

    async def handle_message(self: Agent, message: Any) -> Any:
        door = admission.door()  # built once per loop, not per message
        if refusing(admission):  # checked and joined with no await between: no race
            raise AdmissionFull(f"{admission.waiting} messages are waiting already")
        admission.waiting += 1
        try:
            await door.acquire()
        finally:
            admission.waiting -= 1
        try:
            return await handle(self, message)
        finally:
            door.release()

    Agent.handle_message = handle_message  # type: ignore[method-assign]


def freeze_loaded_objects(*_: Any) -> None:
    """Move every object alive once the agent is loaded (the model, TensorFlow, spaCy: ~600,000)
    out of the cycle collector's sight. Each full collection walks every tracked object: ~300-400 ms
    with the event loop stopped, every so often under load; with the loaded objects frozen, ~60 ms.
    Frozen objects are still freed by reference counting; cycles among them are never collected,
    and a collection now would stop the loop for ~0.4 s at start-up to free ~400 objects. A Sanic
    `after_server_start` listener: the agent is loaded by then."""
    gc.freeze()


def apply() -> None:
    resolve_event_types_once()
    copy_slots_directly()
    copy_trackers_without_replay()
    applied_events_incrementally()
    send_actions_recent_events()
    run_graphs_without_dask()
    skip_copies_for_silent_debug_logs()
    check_domain_emptiness_once()
    rule_speedups.apply()
    keep_action_server_connections()
    predict_from_recent_events()
    ADMISSION.max_waiting = max_waiting_from()
    admit_in_arrival_order()
