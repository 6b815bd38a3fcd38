"""The handoff queue in the product database, and the CSAT ratings asked after a handoff.

A handoff goes waiting -> active (an agent claimed it) -> ended, or waiting -> timed_out when
no agent took it in time. Every change is a conditional UPDATE on the current status, so two
agents (or two servers) cannot both claim or end the same handoff.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.handoff.packet import REASONS
from bot.storage.database import as_utc, reading, transaction
from bot.storage.tables import csat, handoffs
from bot.tickets.store import random_id

ID_PREFIX = "HND-"
WAITING, ACTIVE, ENDED, TIMED_OUT = "waiting", "active", "ended", "timed_out"
OPEN_STATUSES = (WAITING, ACTIVE)


class HandoffConflict(Exception):
    """The handoff is not in a state that allows this (already claimed, already ended)."""


@dataclass(frozen=True)
class Handoff:
    id: str
    conversation_id: str
    status: str
    reason: str
    language: str
    customer_name: str | None
    created_at: datetime
    claimed_by: str | None
    claimed_at: datetime | None
    ended_at: datetime | None
    ticket_id: str | None
    # Kept as stored: the console's queue is read every second and never needs the packet itself.
    packet_json: str = field(repr=False)

    @property
    def packet(self) -> dict[str, Any]:
        return json.loads(self.packet_json)

    def summary(self) -> dict[str, Any]:
        """What the console's queue shows (no packet)."""
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "status": self.status,
            "reason": self.reason,
            "language": self.language,
            "customer_name": self.customer_name,
            "created_at": _iso(self.created_at),
            "claimed_by": self.claimed_by,
            "ticket_id": self.ticket_id,
        }


def new_handoff_id() -> str:
    return random_id(ID_PREFIX)


def create_handoff(
    connection: Connection,
    *,
    handoff_id: str,
    conversation_id: str,
    reason: str,
    language: str,
    customer_name: str | None,
    packet: dict[str, Any],
    now: datetime,
) -> None:
    """Queue a handoff on the caller's connection, so it commits with its deliveries (outbox)."""
    if reason not in REASONS:
        raise ValueError(f"unknown handoff reason {reason!r}")
    connection.execute(
        handoffs.insert().values(
            id=handoff_id,
            conversation_id=conversation_id,
            status=WAITING,
            reason=reason,
            language=language,
            customer_name=customer_name,
            packet=json.dumps(packet, ensure_ascii=False),
            created_at=now,
        )
    )


def get_handoff(engine: Engine, handoff_id: str) -> Handoff | None:
    with reading(engine) as connection:
        row = connection.execute(sa.select(handoffs).where(handoffs.c.id == handoff_id)).first()
    return _handoff(row) if row else None


def open_handoff_for(engine: Engine, conversation_id: str) -> Handoff | None:
    """The conversation's waiting or active handoff, if any."""
    query = (
        sa.select(handoffs)
        .where(handoffs.c.conversation_id == conversation_id, handoffs.c.status.in_(OPEN_STATUSES))
        .order_by(handoffs.c.created_at.desc())
    )
    with reading(engine) as connection:
        row = connection.execute(query).first()
    return _handoff(row) if row else None


def latest_handoff_for(engine: Engine, conversation_id: str) -> Handoff | None:
    query = sa.select(handoffs).where(handoffs.c.conversation_id == conversation_id)
    with reading(engine) as connection:
        row = connection.execute(query.order_by(handoffs.c.created_at.desc())).first()
    return _handoff(row) if row else None


def open_queue(engine: Engine) -> list[Handoff]:
    """Waiting and active handoffs, oldest first."""
    query = sa.select(handoffs).where(handoffs.c.status.in_(OPEN_STATUSES)).order_by(handoffs.c.created_at)
    with reading(engine) as connection:
        return [_handoff(row) for row in connection.execute(query)]


def queue_position(engine: Engine, handoff: Handoff) -> int:
    """1 for the oldest waiting handoff."""
    query = (
        sa.select(sa.func.count())
        .select_from(handoffs)
        .where(handoffs.c.status == WAITING, handoffs.c.created_at < handoff.created_at)
    )
    with reading(engine) as connection:
        return int(connection.execute(query).scalar_one()) + 1


def claim(engine: Engine, handoff_id: str, username: str, now: datetime) -> Handoff:
    return _move(engine, handoff_id, (WAITING,), ACTIVE, claimed_by=username, claimed_at=now)


def end(engine: Engine, handoff_id: str, now: datetime, ticket_id: str | None = None) -> Handoff:
    return _move(engine, handoff_id, OPEN_STATUSES, ENDED, ended_at=now, ticket_id=ticket_id)


def time_out(engine: Engine, handoff_id: str, now: datetime) -> Handoff:
    return _move(engine, handoff_id, (WAITING,), TIMED_OUT, ended_at=now)


def record_first_reply(engine: Engine, handoff_id: str, now: datetime) -> bool:
    """Note when the agent first replied (time to first reply); True for the first reply, False after.

    A conditional UPDATE: of two replies stored at once, only the first one's time is kept.
    """
    with transaction(engine) as connection:
        updated = connection.execute(
            handoffs.update()
            .where(handoffs.c.id == handoff_id, handoffs.c.first_reply_at.is_(None))
            .values(first_reply_at=now)
        ).rowcount
    return bool(updated)


def waiting_since_before(engine: Engine, moment: datetime) -> list[Handoff]:
    query = sa.select(handoffs).where(handoffs.c.status == WAITING, handoffs.c.created_at < moment)
    with reading(engine) as connection:
        return [_handoff(row) for row in connection.execute(query)]


def record_csat(
    engine: Engine,
    *,
    conversation_id: str,
    rating: int,
    language: str,
    now: datetime,
    handoff_id: str | None = None,
    ticket_id: str | None = None,
    agent: str | None = None,
) -> None:
    if not 1 <= rating <= 5:
        raise ValueError("a rating is 1 to 5")
    with transaction(engine) as connection:
        connection.execute(
            csat.insert().values(
                conversation_id=conversation_id,
                handoff_id=handoff_id,
                ticket_id=ticket_id,
                agent=agent,
                language=language,
                rating=rating,
                created_at=now,
            )
        )


def ratings_for(engine: Engine, conversation_id: str) -> list[dict[str, Any]]:
    query = sa.select(csat).where(csat.c.conversation_id == conversation_id).order_by(csat.c.id)
    with reading(engine) as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def _move(engine: Engine, handoff_id: str, allowed: tuple[str, ...], status: str, **values: Any) -> Handoff:
    with transaction(engine) as connection:
        updated = connection.execute(
            handoffs.update()
            .where(handoffs.c.id == handoff_id, handoffs.c.status.in_(allowed))
            .values(status=status, **values)
        ).rowcount
        row = connection.execute(sa.select(handoffs).where(handoffs.c.id == handoff_id)).first()
    if row is None:
        raise LookupError(f"no handoff {handoff_id}")
    if not updated:
        current = _handoff(row)
        who = f" by {current.claimed_by}" if current.claimed_by else ""
        raise HandoffConflict(f"handoff {handoff_id} is already {current.status}{who}")
    return _handoff(row)


def _handoff(row: Any) -> Handoff:
    return Handoff(
        id=row.id,
        conversation_id=row.conversation_id,
        status=row.status,
        reason=row.reason,
        language=row.language,
        customer_name=row.customer_name,
        created_at=as_utc(row.created_at),
        claimed_by=row.claimed_by,
        claimed_at=_utc_or_none(row.claimed_at),
        ended_at=_utc_or_none(row.ended_at),
        ticket_id=row.ticket_id,
        packet_json=row.packet,
    )


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment else None


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment else None
