"""Tickets in the product database: create (with the confirmation e-mail, atomically), find, change status.

A ticket and its confirmation e-mail are written in one transaction: either the
customer has a ticket and an e-mail on its way, or neither (and the bot says so).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.storage.database import as_utc, reading, transaction, write_with_new_id
from bot.storage.outbox import enqueue_email
from bot.storage.tables import ticket_events, tickets

# Letters and digits that cannot be confused when read out or typed (no 0/O, 1/I/L, U/V).
ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
ID_LENGTH = 6  # 29**6, about 600 million: not guessable, short enough to read out
ID_PREFIX = "TCK-"
UNSOLVED = ("open", "in_progress", "waiting_for_customer")
STATUSES = (*UNSOLVED, "resolved", "closed")
# The same ticket sent again from the same conversation within this time is that ticket, not a second
# one with a second e-mail: the customer retries after "not saved", or after an action server that
# timed out but did store it in the end.
RESENT_WITHIN = timedelta(hours=24)


@dataclass(frozen=True)
class NewTicket:
    name: str
    email: str
    category: str
    description: str
    language: str
    conversation_id: str
    transcript: Sequence[dict]  # [{"who": "customer"|"bot", "text": ..., "at": ...}, ...]
    reply_by: datetime
    order_number: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Ticket:
    id: str
    status: str
    name: str
    email: str
    category: str
    description: str
    language: str
    conversation_id: str
    reply_by: datetime
    created_at: datetime
    updated_at: datetime
    order_number: str | None
    phone: str | None
    transcript: list[dict]
    history: list[dict]  # [{"status", "note", "actor", "at"}], oldest first


@dataclass(frozen=True)
class ConfirmationEmail:
    subject: str
    body: str


def random_id(prefix: str) -> str:
    """`prefix` and ID_LENGTH characters of ID_ALPHABET: the shape of ticket and handoff ids."""
    return prefix + "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def new_ticket_id() -> str:
    return random_id(ID_PREFIX)


def normalise_ticket_id(text: str) -> str:
    """ "tck-7q4m2x", "TCK 7Q4M2X" or "7q4m2x" -> "TCK-7Q4M2X"."""
    compact = "".join(ch for ch in text.upper() if ch.isalnum())
    if compact.startswith("TCK"):
        compact = compact[3:]
    return ID_PREFIX + compact


class StoredTicket(NamedTuple):
    id: str
    reply_by: datetime  # the promise made when it was stored (a resent ticket keeps its first one)


def create_ticket(engine: Engine, ticket: NewTicket, email: ConfirmationEmail | None, now: datetime) -> StoredTicket:
    """Store the ticket, its first status and its confirmation e-mail in one transaction.
    An unsolved ticket with the same conversation, e-mail and description sent within RESENT_WITHIN is
    not stored again: that one is returned.

    Raises StorageError when the database cannot take it: nothing is half-written.
    """
    resent: StoredTicket | None = None

    def write(connection: Connection, ticket_id: str) -> None:
        nonlocal resent
        if connection.dialect.name == "postgresql":
            # Two replicas storing the same resent ticket at once would both find none; one waits for the
            # other's commit here (SQLite writes one transaction at a time anyway).
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(ticket.conversation_id))))
        resent = _resent(connection, ticket, now)
        if resent is not None:
            return
        connection.execute(
            tickets.insert().values(
                id=ticket_id,
                status="open",
                name=ticket.name,
                email=ticket.email,
                phone=ticket.phone,
                order_number=ticket.order_number,
                category=ticket.category,
                description=ticket.description,
                language=ticket.language,
                conversation_id=ticket.conversation_id,
                transcript=json.dumps(list(ticket.transcript), ensure_ascii=False),
                reply_by=ticket.reply_by,
                created_at=now,
                updated_at=now,
            )
        )
        connection.execute(ticket_events.insert().values(ticket_id=ticket_id, status="open", actor="customer", at=now))
        if email is not None:
            enqueue_email(connection, ticket.email, email.subject, email.body.replace("{id}", ticket_id), now)

    written = write_with_new_id(engine, new_ticket_id, write, tickets)
    return resent or StoredTicket(written, ticket.reply_by)


def _resent(connection: Connection, ticket: NewTicket, now: datetime) -> StoredTicket | None:
    """The same ticket, unsolved, sent from the same conversation within RESENT_WITHIN."""
    row = connection.execute(
        sa.select(tickets.c.id, tickets.c.reply_by)
        .where(
            tickets.c.conversation_id == ticket.conversation_id,
            tickets.c.email == ticket.email,
            tickets.c.description == ticket.description,
            tickets.c.status.in_(UNSOLVED),
            tickets.c.created_at >= now - RESENT_WITHIN,
        )
        .order_by(tickets.c.created_at.desc())
        .limit(1)
    ).first()
    return None if row is None else StoredTicket(row.id, as_utc(row.reply_by))


def get_ticket(engine: Engine, ticket_id: str) -> Ticket | None:
    with reading(engine) as connection:
        row = connection.execute(sa.select(tickets).where(tickets.c.id == ticket_id)).mappings().first()
        if row is None:
            return None
        events = connection.execute(
            sa.select(ticket_events).where(ticket_events.c.ticket_id == ticket_id).order_by(ticket_events.c.id)
        ).mappings()
        history = [{"status": e["status"], "note": e["note"], "actor": e["actor"], "at": e["at"]} for e in events]
    fields = {k: row[k] for k in Ticket.__dataclass_fields__ if k not in ("transcript", "history")}
    for key in ("reply_by", "created_at", "updated_at"):
        fields[key] = as_utc(fields[key])
    for event in history:
        event["at"] = as_utc(event["at"])
    return Ticket(**fields, transcript=json.loads(row["transcript"]), history=history)


def find_for_customer(engine: Engine, ticket_id: str, email: str) -> Ticket | None:
    """The ticket only when the e-mail on it matches: the same None for a wrong id and a wrong e-mail."""
    ticket = get_ticket(engine, normalise_ticket_id(ticket_id))
    if ticket is None or ticket.email.strip().lower() != email.strip().lower():
        return None
    return ticket


def list_tickets(engine: Engine, status: str | None = None, limit: int = 50) -> list[Ticket]:
    query = sa.select(tickets.c.id).order_by(tickets.c.created_at.desc()).limit(limit)
    if status:
        query = query.where(tickets.c.status == status)
    with reading(engine) as connection:
        ids = [row[0] for row in connection.execute(query)]
    return [t for t in (get_ticket(engine, i) for i in ids) if t is not None]


def set_status(engine: Engine, ticket_id: str, status: str, actor: str, note: str | None, now: datetime) -> bool:
    """Change a ticket's status and record who did it; False when there is no such ticket."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
    with transaction(engine) as connection:
        changed = connection.execute(
            tickets.update().where(tickets.c.id == ticket_id).values(status=status, updated_at=now)
        ).rowcount
        if changed:
            connection.execute(
                ticket_events.insert().values(ticket_id=ticket_id, status=status, note=note, actor=actor, at=now)
            )
    return bool(changed)
