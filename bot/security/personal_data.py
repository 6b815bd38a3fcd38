"""A customer's rights over their data: export it, delete it, and delete it anyway after the retention time.

What belongs to a customer: the conversations in which they gave their e-mail address (Rasa's
`email` slot) or opened a ticket with it, and everything about those conversations: the tracker
events, tickets and their history, handoffs and their packets, CSAT ratings, "was this helpful"
answers, and outbox messages to the address or about those tickets and handoffs.

Deleting happens in ONE transaction over the tracker events and the product's tables: on SQLite the
tracker store's file is ATTACHed to the product database's connection; on PostgreSQL the tracker
store's `events` table must be in the product database (as on the cluster). With an audit record
that names no one: the subject is kept as a SHA-256 hash, so the record proves that a request was
carried out without keeping what was deleted.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.reports.dialect import Dialect
from bot.storage.database import StorageError, as_utc
from bot.storage.tables import csat, data_requests, faq_feedback, handoffs, outbox, ticket_events, tickets
from bot.storage.tracker_store import events as tracker_events
from bot.storage.tracker_store import tracker_url

logger = logging.getLogger(__name__)

# Rasa's SQL tracker store table (rasa.core.tracker_store.SQLTrackerStore): in SQLite seen through
# ATTACH under this schema name; in PostgreSQL the schema is mapped away (the product's database).
TRACKER_SCHEMA = "tracker"
events = tracker_events.to_metadata(sa.MetaData(), schema=TRACKER_SCHEMA)
FINISHED_TICKETS = ("resolved", "closed")


@dataclass(frozen=True)
class Subject:
    """Whose data: an e-mail address, or one conversation id."""

    email: str | None = None
    conversation_id: str | None = None

    def __post_init__(self) -> None:
        if (self.email is None) == (self.conversation_id is None):
            raise ValueError("give an e-mail address or a conversation id, not both")

    def fingerprint(self) -> str:
        """What the audit record keeps instead of the subject."""
        value = (self.email or "").strip().lower() or f"conversation:{self.conversation_id}"
        return hashlib.sha256(value.encode()).hexdigest()


@dataclass
class Selection:
    conversations: set[str] = field(default_factory=set)
    ticket_ids: set[str] = field(default_factory=set)
    handoff_ids: set[str] = field(default_factory=set)


@contextmanager
def both_databases(product: Engine, tracker: str) -> Iterator[Connection]:
    """One connection, in one transaction, that sees the product's tables and the tracker store's
    `events` (`tracker`: a SQLite file or a database URL)."""
    try:
        location = sa.engine.make_url(tracker_url(tracker))
    except sa.exc.ArgumentError:
        raise StorageError(f"{tracker!r} is not a database URL or a file") from None
    try:
        if product.dialect.name == "sqlite":
            with _attached(product, location) as connection:
                yield connection
        else:
            with _same_database(product, location) as connection:
                yield connection
    except sa.exc.SQLAlchemyError as error:
        raise StorageError(f"database error: {error.__class__.__name__}") from error


@contextmanager
def _attached(product: Engine, location: sa.engine.URL) -> Iterator[Connection]:
    if location.get_backend_name() != "sqlite":
        raise StorageError("the product database is SQLite, so the tracker store must be a SQLite file too")
    tracker_db = Path(location.database or "")
    if not location.database or not tracker_db.is_file():
        raise StorageError(f"no tracker store at {location.database}")
    with product.connect() as connection:
        # Before any write: SQLite refuses ATTACH inside a transaction.
        connection.exec_driver_sql(f"ATTACH DATABASE ? AS {TRACKER_SCHEMA}", (str(tracker_db),))
        # Deleted rows are overwritten with zeros, not left readable in free pages...
        _set_secure_delete(connection, True)
        connection.commit()  # ends SQLAlchemy's autobegun block; SQLite itself began nothing for ATTACH
        try:
            with connection.begin():
                yield connection
            # ...and a write-ahead log (the tracker store's), which still holds the pages as they were, emptied.
            for schema in ("main", TRACKER_SCHEMA):
                busy = connection.exec_driver_sql(f"PRAGMA {schema}.wal_checkpoint(TRUNCATE)").first()[0]
                if busy:
                    logger.warning("%s: a reader kept the write-ahead log; it is emptied at a later checkpoint", schema)
            connection.commit()
        finally:
            _set_secure_delete(connection, False)
            connection.exec_driver_sql(f"DETACH DATABASE {TRACKER_SCHEMA}")
            connection.commit()


def _set_secure_delete(connection: Connection, on: bool) -> None:
    for schema in ("main", TRACKER_SCHEMA):
        connection.exec_driver_sql(f"PRAGMA {schema}.secure_delete = {'ON' if on else 'OFF'}")


@contextmanager
def _same_database(product: Engine, location: sa.engine.URL) -> Iterator[Connection]:
    # One transaction cannot span two PostgreSQL databases: the tracker store must be in the product's.
    def where(url: sa.engine.URL) -> tuple:
        return url.get_backend_name(), url.host or "localhost", url.port or 5432, url.database

    if where(location) != where(product.url):
        raise StorageError(
            "exporting and deleting need Rasa's tracker store in the product database "
            f"({product.url.render_as_string(hide_password=True)}), not in "
            f"{location.render_as_string(hide_password=True)}"
        )
    with product.connect() as plain:
        connection = plain.execution_options(schema_translate_map={TRACKER_SCHEMA: None})
        if not sa.inspect(connection).has_table("events"):
            raise StorageError("the product database has no tracker store ('events' table) yet")
        connection.commit()
        with connection.begin():
            yield connection


def select(connection: Connection, subject: Subject) -> Selection:
    """The conversations, tickets and handoffs that belong to `subject`."""
    chosen = Selection()
    if subject.conversation_id is not None:
        chosen.conversations.add(subject.conversation_id)
    else:
        email = (subject.email or "").strip().lower()
        dialect = Dialect(connection.dialect.name)
        slot_value = sa.func.lower(dialect.json_text(events.c.data, "value"))
        gave_it = sa.select(events.c.sender_id).where(
            events.c.type_name == "slot",
            events.c.action_name == "email",  # Rasa keeps a slot event's name there
            dialect.json_text(events.c.data, "name") == "email",
            slot_value == email,
        )
        chosen.conversations.update(connection.execute(gave_it.distinct()).scalars())
        by_ticket = sa.select(tickets.c.id, tickets.c.conversation_id).where(sa.func.lower(tickets.c.email) == email)
        for ticket_id, conversation_id in connection.execute(by_ticket):
            chosen.ticket_ids.add(ticket_id)
            chosen.conversations.add(conversation_id)
    return _with_what_belongs(connection, chosen)


def _with_what_belongs(connection: Connection, chosen: Selection) -> Selection:
    """Add the tickets and handoffs of the chosen conversations."""
    chosen.ticket_ids.update(
        connection.execute(sa.select(tickets.c.id).where(tickets.c.conversation_id.in_(chosen.conversations))).scalars()
    )
    chosen.handoff_ids.update(
        connection.execute(
            sa.select(handoffs.c.id).where(handoffs.c.conversation_id.in_(chosen.conversations))
        ).scalars()
    )
    return chosen


def _outbox_rows(subject: Subject, chosen: Selection) -> sa.sql.ColumnElement[bool]:
    about = outbox.c.reference.in_(chosen.ticket_ids | chosen.handoff_ids)
    if subject.email:
        return sa.or_(about, sa.func.lower(outbox.c.destination) == subject.email.strip().lower())
    return about


def export(connection: Connection, subject: Subject, actor: str, now: datetime) -> dict[str, Any]:
    """Everything stored about `subject`, as JSON-ready data. Audited."""
    chosen = select(connection, subject)
    audit(connection, "export", subject.fingerprint(), len(chosen.conversations), {}, actor, now)

    def rows(query: sa.sql.Select) -> list[dict[str, Any]]:
        return [_jsonable(dict(row._mapping)) for row in connection.execute(query)]

    conversations = sorted(chosen.conversations)
    return {
        "conversations": [
            {
                "id": conversation_id,
                "events": [
                    json.loads(data)
                    for data in connection.execute(
                        sa.select(events.c.data).where(events.c.sender_id == conversation_id).order_by(events.c.id)
                    ).scalars()
                ],
            }
            for conversation_id in conversations
        ],
        "tickets": rows(sa.select(tickets).where(tickets.c.id.in_(chosen.ticket_ids))),
        "ticket_history": rows(sa.select(ticket_events).where(ticket_events.c.ticket_id.in_(chosen.ticket_ids))),
        "handoffs": rows(sa.select(handoffs).where(handoffs.c.id.in_(chosen.handoff_ids))),
        "csat": rows(sa.select(csat).where(csat.c.conversation_id.in_(chosen.conversations))),
        "faq_feedback": rows(sa.select(faq_feedback).where(faq_feedback.c.conversation_id.in_(chosen.conversations))),
        "outbox": rows(sa.select(outbox).where(_outbox_rows(subject, chosen))),
    }


def delete(connection: Connection, subject: Subject, actor: str, now: datetime) -> dict[str, int]:
    """Delete everything stored about `subject`; how many rows of each kind. Audited."""
    chosen = select(connection, subject)
    counts = _delete(connection, chosen, _outbox_rows(subject, chosen))
    audit(connection, "delete", subject.fingerprint(), len(chosen.conversations), counts, actor, now)
    return counts


def purge(connection: Connection, older_than: datetime, actor: str, now: datetime) -> dict[str, int]:
    """Delete conversations whose last event is older than `older_than`, with what belongs to them.

    A conversation with a ticket still being worked on, or an open handoff, is kept.
    """
    last_event = sa.func.max(events.c.timestamp)
    stale = set(
        connection.execute(
            sa.select(events.c.sender_id).group_by(events.c.sender_id).having(last_event < older_than.timestamp())
        ).scalars()
    )
    busy = set(
        connection.execute(
            sa.select(tickets.c.conversation_id).where(
                tickets.c.conversation_id.in_(stale), tickets.c.status.not_in(FINISHED_TICKETS)
            )
        ).scalars()
    ) | set(
        connection.execute(
            sa.select(handoffs.c.conversation_id).where(
                handoffs.c.conversation_id.in_(stale), handoffs.c.status.in_(("waiting", "active"))
            )
        ).scalars()
    )
    chosen = _with_what_belongs(connection, Selection(conversations=stale - busy))
    counts = _delete(connection, chosen, outbox.c.reference.in_(chosen.ticket_ids | chosen.handoff_ids))
    audit(connection, "purge", f"older than {older_than.isoformat()}", len(chosen.conversations), counts, actor, now)
    return counts


def _delete(connection: Connection, chosen: Selection, outbox_rows: sa.sql.ColumnElement[bool]) -> dict[str, int]:
    conversations = chosen.conversations
    statements = {
        "events": events.delete().where(events.c.sender_id.in_(conversations)),
        "ticket_history": ticket_events.delete().where(ticket_events.c.ticket_id.in_(chosen.ticket_ids)),
        "tickets": tickets.delete().where(tickets.c.id.in_(chosen.ticket_ids)),
        "handoffs": handoffs.delete().where(handoffs.c.id.in_(chosen.handoff_ids)),
        "csat": csat.delete().where(csat.c.conversation_id.in_(conversations)),
        "faq_feedback": faq_feedback.delete().where(faq_feedback.c.conversation_id.in_(conversations)),
        "outbox": outbox.delete().where(outbox_rows),
    }
    return {name: connection.execute(statement).rowcount for name, statement in statements.items()}


def audit(
    connection: Connection,
    kind: str,
    subject: str,
    conversations: int,
    counts: dict[str, int],
    actor: str,
    now: datetime,
) -> None:
    connection.execute(
        data_requests.insert().values(
            kind=kind, subject=subject, conversations=conversations, rows=json.dumps(counts), actor=actor, at=now
        )
    )


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: as_utc(v).isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
