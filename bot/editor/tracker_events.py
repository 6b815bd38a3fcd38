"""Read the conversations Rasa's SQL tracker store keeps, without Rasa: its `events` table, with SQLAlchemy Core.

Rasa writes one row per event: `id`, `sender_id`, `type_name` ("user", "action", "pause", ...),
`timestamp` (seconds since 1970), `intent_name` (user events), `action_name` (actions; the slot's
name for slot events) and `data`, the event as JSON text. Only reading happens here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.storage.database import reading
from bot.storage.tracker_store import events

# Event types the editors' tools read; the rest (slots other than the language, bot texts) are skipped in SQL.
TYPES = ("user", "action", "pause", "resume", "session_started")
LANGUAGE_SLOT_EVENT = ("slot", "language")


@dataclass(frozen=True)
class TrackedEvent:
    """One row of the events table."""

    id: int
    sender_id: str
    type_name: str  # "user", "action", "pause", "resume", "session_started" or "slot" (the language's)
    timestamp: float  # seconds since 1970, UTC
    intent_name: str | None = None  # user events: the intent the NLU chose
    action_name: str | None = None  # actions: the action's name; slot events: the slot's name
    data: Mapping[str, Any] = field(default_factory=dict)  # user and slot events only: the event's JSON


def conversations(engine: Engine, since: float | None = None) -> Iterator[list[TrackedEvent]]:
    """Each conversation's events in order, one conversation at a time; only those active since `since`."""
    columns = events.c
    wanted = sa.or_(
        columns.type_name.in_(TYPES),
        sa.and_(columns.type_name == LANGUAGE_SLOT_EVENT[0], columns.action_name == LANGUAGE_SLOT_EVENT[1]),
    )
    query = sa.select(events).where(wanted).order_by(columns.sender_id, columns.id)
    if since is not None:
        active = sa.select(columns.sender_id).where(columns.timestamp >= since).distinct()
        query = query.where(columns.sender_id.in_(active))
    with reading(engine) as connection:
        rows = connection.execution_options(stream_results=True).execute(query)
        for _, group in groupby(rows, key=lambda row: row.sender_id):
            yield [_event(row) for row in group]


def _event(row: Any) -> TrackedEvent:
    data: Mapping[str, Any] = {}
    if row.type_name in ("user", "slot") and row.data:
        try:
            data = json.loads(row.data)
        except ValueError:
            data = {}  # a damaged row is one message less, not a failed report
    return TrackedEvent(
        id=row.id,
        sender_id=row.sender_id,
        type_name=row.type_name,
        timestamp=row.timestamp or 0.0,
        intent_name=row.intent_name,
        action_name=row.action_name,
        data=data if isinstance(data, Mapping) else {},
    )
