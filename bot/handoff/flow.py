"""Asking for a person: queue the chat when an agent can take it, else say when the team will reply.

The action server calls `request_handoff`; the handoff, its packet and its deliveries (webhook,
e-mail) are written in one transaction, so a queued chat always has its packet and its copies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine

from bot.console.agents import agents_online
from bot.handoff.packet import build_packet
from bot.handoff.store import Handoff, create_handoff, get_handoff, new_handoff_id, open_handoff_for, queue_position
from bot.handoff.webhook import HandoffSettings, enqueue_handoff_deliveries
from bot.storage.database import write_with_new_id
from bot.storage.tables import handoffs
from bot.tickets.sla import SupportCalendar, is_open, reply_by


@dataclass(frozen=True)
class Queued:
    handoff: Handoff
    position: int  # 1 = next in line


@dataclass(frozen=True)
class Closed:
    """Outside support hours: no one can join; a ticket gets a reply by `reply_by`."""

    reply_by: datetime


@dataclass(frozen=True)
class NoAgent:
    """Open, but no agent has the console open: a ticket gets a reply by `reply_by`."""

    reply_by: datetime


def request_handoff(
    engine: Engine,
    calendar: SupportCalendar,
    deliveries: HandoffSettings,
    *,
    conversation_id: str,
    reason: str,
    language: str,
    events: Iterable[Mapping[str, Any]],
    slots: Mapping[str, Any],
    now: datetime,
) -> Queued | Closed | NoAgent:
    """Queue the conversation for an agent, or say why not. A conversation already queued keeps its place."""
    current = open_handoff_for(engine, conversation_id)
    if current is not None:
        return Queued(current, queue_position(engine, current))
    if not is_open(calendar, now):
        return Closed(reply_by(calendar, now))
    if agents_online(engine, now) == 0:
        return NoAgent(reply_by(calendar, now))

    def write(connection: Connection, handoff_id: str) -> None:
        packet = build_packet(
            handoff_id=handoff_id,
            conversation_id=conversation_id,
            reason=reason,
            language=language,
            events=events,
            slots=slots,
            created_at=now,
        )
        create_handoff(
            connection,
            handoff_id=handoff_id,
            conversation_id=conversation_id,
            reason=reason,
            language=language,
            customer_name=packet["customer"].get("name"),
            packet=dict(packet),
            now=now,
        )
        enqueue_handoff_deliveries(connection, packet, now, deliveries)

    handoff = get_handoff(engine, write_with_new_id(engine, new_handoff_id, write, handoffs))
    assert handoff is not None  # just committed
    return Queued(handoff, queue_position(engine, handoff))
