"""The metrics each process keeps in memory, and the registry they are exposed from.

Counts that already live in the product database (handoffs, tickets, the outbox) are read from
it at scrape time instead (bot.observability.database), so they are right whichever process or
replica did the work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from bot.knowledge.schema import LANGUAGES

# Seconds, 1 ms to 5 s: a rule-based turn takes 10-100 ms; seconds mean a waiting lock or a slow action.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# How handling a message ended (label `outcome` of supportbot_messages_total).
OK = "ok"
ERROR = "error"  # handling raised: the customer got no (or a partial) reply
NO_MODEL = "no_model"  # no model loaded: Rasa drops the message
BUSY = "busy"  # refused at once: the waiting room in front of Rasa was full (bot.rasa_speedups)

# What the knowledge base gave the customer (label `result` of supportbot_faq_lookups_total).
HIT = "hit"  # an FAQ answer
DID_YOU_MEAN = "did_you_mean"  # "did you mean" buttons
MISS = "miss"  # "I don't know" (or a person offered instead)
FAQ_RESULTS = (HIT, DID_YOU_MEAN, MISS)

# How an action run ended (label `outcome` of supportbot_action_runs_total).
REJECTED = "rejected"  # a form's "that is not an answer to my question": Rasa's normal flow
UNKNOWN_ACTION = "unknown"  # the `action` label of a name the server does not have, so callers cannot add series


def new_registry() -> CollectorRegistry:
    """A registry with the process's own metrics (CPU, memory, file descriptors, GC, Python version)."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


@dataclass(frozen=True)
class MessageMetrics:
    """What the Rasa server counts of the customers' messages (bot.observability.messages)."""

    messages: Counter  # labels: channel, outcome
    latency: Histogram  # labels: channel
    faq: Counter  # labels: language, result

    @classmethod
    def register(cls, registry: CollectorRegistry, channels: Iterable[str]) -> MessageMetrics:
        metrics = cls(
            Counter(
                "supportbot_messages",
                "Customer messages handled, by input channel and how handling ended",
                ["channel", "outcome"],
                registry=registry,
            ),
            Histogram(
                "supportbot_message_duration_seconds",
                "Seconds from a customer message's arrival to the bot's last reply, lock wait included",
                ["channel"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            Counter(
                "supportbot_faq_lookups",
                "Customer messages the knowledge base answered (hit), suggested entries for, or could not answer",
                ["language", "result"],
                registry=registry,
            ),
        )
        # Every expected series exists from the start at 0: rate() and dashboards need no first event.
        for channel in channels:
            metrics.messages.labels(channel, OK)
            metrics.latency.labels(channel)
        for language in LANGUAGES:
            for result in FAQ_RESULTS:
                metrics.faq.labels(language, result)
        return metrics


@dataclass(frozen=True)
class ActionMetrics:
    """What the action server counts of its action runs (bot.observability.actions)."""

    runs: Counter  # labels: action, outcome
    latency: Histogram  # labels: action

    @classmethod
    def register(cls, registry: CollectorRegistry) -> ActionMetrics:
        return cls(
            Counter(
                "supportbot_action_runs",
                "Custom action runs, by action name and how the run ended",
                ["action", "outcome"],
                registry=registry,
            ),
            Histogram(
                "supportbot_action_duration_seconds",
                "Seconds a custom action took to run in the action server",
                ["action"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
        )
