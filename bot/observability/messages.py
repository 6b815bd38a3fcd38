"""Counting customer messages at the one place every channel hands them to: the agent's `handle_message`.

Every input channel (REST, the widget's socket.io) passes each customer message to
`app.ctx.agent.handle_message` (rasa.core.channels.channel.register), so the loaded agent's
method is wrapped once, on that instance (Rasa's classes stay as they are). The tracker the
message was logged on is taken from the agent's processor as it logs the message, so what
the bot did is read from memory, not from a second tracker store read per message.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Reversible
from contextvars import ContextVar
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.knowledge.schema import LANGUAGES
from bot.names import ACTION_ANSWER_FAQ, ACTION_FAQ_FALLBACK, SLOT_LANGUAGE
from bot.observability.metrics import BUSY, DID_YOU_MEAN, ERROR, HIT, MISS, NO_MODEL, OK, MessageMetrics
from bot.rasa_speedups import AdmissionFull

# The response actions/faq.py's fallback sends with "did you mean" buttons.
RESPONSE_DID_YOU_MEAN = "utter_did_you_mean"
OTHER = "other"  # label for a channel or language outside the known ones, so labels stay a short list
_INSTRUMENTED = "_supportbot_metrics"

# The trackers logged while the current task handles a message; None outside handle_message.
_logged: ContextVar[list[DialogueStateTracker] | None] = ContextVar("supportbot_logged_trackers", default=None)


def faq_result(events: Reversible[Event]) -> str | None:
    """What the knowledge base gave the customer for their latest message, from what the bot did after it.

    HIT when an FAQ answer was given (a "did you mean" button chosen included), DID_YOU_MEAN when
    suggestions were shown, MISS when the fallback said it does not know (or offered a person
    instead); None when the message was no question for the knowledge base (a greeting, a form answer).
    """
    answered = suggested = fell_back = False
    for event in reversed(events):  # from the end: only this turn's events are read
        if isinstance(event, UserUttered):
            break
        if isinstance(event, ActionExecuted):
            answered = answered or event.action_name == ACTION_ANSWER_FAQ
            fell_back = fell_back or event.action_name == ACTION_FAQ_FALLBACK
        elif isinstance(event, BotUttered) and (event.metadata or {}).get("utter_action") == RESPONSE_DID_YOU_MEAN:
            suggested = True
    if answered:
        return HIT
    if suggested:
        return DID_YOU_MEAN
    return MISS if fell_back else None


def instrument(agent: Agent, metrics: MessageMetrics, channels: Iterable[str]) -> None:
    """Count and time every message `agent` handles; a second call on the same agent does nothing."""
    if getattr(agent, _INSTRUMENTED, False):
        return
    known_channels = frozenset(channels)
    if agent.processor is not None:
        agent.processor.log_message = _remembering(agent.processor.log_message)  # type: ignore[method-assign]
    handle = agent.handle_message

    async def handle_message(message: UserMessage) -> list[dict[str, Any]] | None:
        logged: list[DialogueStateTracker] = []
        context = _logged.set(logged)
        channel = message.input_channel if message.input_channel in known_channels else OTHER
        outcome = ERROR
        started = time.perf_counter()
        try:
            replies = await handle(message)
            outcome = OK if logged else NO_MODEL  # Rasa drops a message it has no model for, logging nothing
            return replies
        except AdmissionFull:
            outcome = BUSY
            raise
        finally:
            elapsed = time.perf_counter() - started
            _logged.reset(context)
            metrics.messages.labels(channel, outcome).inc()
            metrics.latency.labels(channel).observe(elapsed)
            if outcome == OK:
                _count_faq(metrics, logged[-1])

    agent.handle_message = handle_message  # type: ignore[method-assign]
    setattr(agent, _INSTRUMENTED, True)


def _remembering(
    log_message: Callable[..., Awaitable[DialogueStateTracker]],
) -> Callable[..., Awaitable[DialogueStateTracker]]:
    # The processor logs the message on the tracker it then runs the actions on and saves: that tracker is
    # the conversation after the turn, without reading it back from the tracker store.
    async def logged(message: UserMessage, should_save_tracker: bool = True) -> DialogueStateTracker:
        tracker = await log_message(message, should_save_tracker)
        trackers = _logged.get()
        if trackers is not None:
            trackers.append(tracker)
        return tracker

    return logged


def _count_faq(metrics: MessageMetrics, tracker: DialogueStateTracker) -> None:
    result = faq_result(tracker.events)
    if result is None:
        return
    language = tracker.get_slot(SLOT_LANGUAGE)
    metrics.faq.labels(language if language in LANGUAGES else OTHER, result).inc()
