"""Counts the product database already holds, read at scrape time: handoffs, tickets and the outbox.

Being read from the tables, they are the same whichever process or replica did the work; with
several Rasa servers each reports the same values (aggregate with max(), not sum()).
A deletion (the retention purge, a customer's data deletion) lowers the `_total` counts, which
Prometheus reads as a counter reset.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import sqlalchemy as sa
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Connection, Engine

from bot.handoff.packet import REASONS
from bot.handoff.store import ACTIVE, ENDED, TIMED_OUT, WAITING
from bot.storage.database import as_utc
from bot.storage.outbox import KIND_EMAIL, KIND_WEBHOOK
from bot.storage.tables import handoffs, outbox, tickets

logger = logging.getLogger(__name__)


class ProductDatabaseCollector(Collector):
    """Prometheus collector over the product database; a failing database gives supportbot_database_up 0."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.engine = engine
        self.clock = clock

    def describe(self) -> list[Metric]:
        return []  # registering must not query the database (prometheus_client calls collect() otherwise)

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("supportbot_database_up", "1 when the product database answered this scrape's queries")
        try:
            with self.engine.connect() as connection:
                families = [
                    *outbox_metrics(connection, self.clock()),
                    *handoff_metrics(connection),
                    ticket_metrics(connection),
                ]
        except sa.exc.SQLAlchemyError as error:
            # A failing database must not fail the whole scrape (the process metrics still matter): one gauge says so.
            logger.warning("metrics: the product database did not answer (%s)", error.__class__.__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families


def outbox_metrics(connection: Connection, now: datetime) -> list[Metric]:
    pending = GaugeMetricFamily(
        "supportbot_outbox_pending", "Outbox messages (e-mails, webhooks) not delivered yet", labels=["kind"]
    )
    oldest = GaugeMetricFamily(
        "supportbot_outbox_oldest_pending_age_seconds", "Age of the oldest undelivered outbox message (0: none)"
    )
    query = (
        sa.select(outbox.c.kind, sa.func.count(), sa.func.min(outbox.c.created_at))
        .where(outbox.c.sent_at.is_(None))
        .group_by(outbox.c.kind)
    )
    counts = dict.fromkeys((KIND_EMAIL, KIND_WEBHOOK), 0)
    first: datetime | None = None
    for kind, count, earliest in connection.execute(query):
        counts[kind] = count
        moment = _moment(earliest)
        first = moment if first is None or moment < first else first
    for kind, count in counts.items():
        pending.add_metric([kind], count)
    oldest.add_metric([], max(0.0, (now - first).total_seconds()) if first else 0.0)
    return [pending, oldest]


def handoff_metrics(connection: Connection) -> list[Metric]:
    started = CounterMetricFamily(
        "supportbot_handoffs_started", "Conversations handed to a person, by why", labels=["reason"]
    )
    ended = CounterMetricFamily(
        "supportbot_handoffs_ended", "Handoffs over: ended by an agent, or timed out unclaimed", labels=["status"]
    )
    open_now = GaugeMetricFamily(
        "supportbot_handoffs_open", "Handoffs waiting for an agent or being handled now", labels=["status"]
    )
    query = sa.select(handoffs.c.reason, handoffs.c.status, sa.func.count()).group_by(
        handoffs.c.reason, handoffs.c.status
    )
    by_reason = dict.fromkeys(REASONS, 0)
    by_status = dict.fromkeys((WAITING, ACTIVE, ENDED, TIMED_OUT), 0)
    for reason, status, count in connection.execute(query):
        by_reason[reason] = by_reason.get(reason, 0) + count
        by_status[status] = by_status.get(status, 0) + count
    for reason, count in by_reason.items():
        started.add_metric([reason], count)
    for status in (ENDED, TIMED_OUT):
        ended.add_metric([status], by_status[status])
    for status in (WAITING, ACTIVE):
        open_now.add_metric([status], by_status[status])
    return [started, ended, open_now]


def ticket_metrics(connection: Connection) -> Metric:
    created = CounterMetricFamily("supportbot_tickets_created", "Support tickets created")
    created.add_metric([], connection.execute(sa.select(sa.func.count()).select_from(tickets)).scalar_one())
    return created


def _moment(value: datetime | str) -> datetime:
    # SQLite hands back naive datetimes (UTC, see bot.storage.outbox), and min() over them may come back as text.
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)
