"""The outbox: messages to send, written with what caused them, delivered later with retries, never deleted."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, TypedDict
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.storage.database import transaction
from bot.storage.tables import outbox

KIND_EMAIL = "email"
KIND_WEBHOOK = "webhook"  # a JSON POST; the payload is the body (a handoff packet), signed when sent

# Retry delay after a failure: 30 s, 1 min, 2 min, ... capped at an hour, so an outage is not hammered.
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 3600


class EmailPayload(TypedDict):
    subject: str  # one line, any language
    body: str  # plain text, any language


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    kind: str  # KIND_EMAIL or KIND_WEBHOOK
    destination: str  # an e-mail address, or an http(s) URL for a webhook
    payload: dict[str, Any]  # decoded JSON; an EmailPayload when kind is "email", the JSON body for "webhook"
    created_at: datetime  # aware, UTC
    attempts: int  # failed deliveries so far
    next_attempt_at: datetime  # aware, UTC
    last_error: str | None  # why the last attempt failed


def enqueue_email(
    connection: Connection, to: str, subject: str, body: str, now: datetime, *, reference: str | None = None
) -> int:
    """Queue an e-mail on the caller's connection, so it commits (or rolls back) with what caused it; its id."""
    if not to.strip() or _has_line_break(to) or _has_line_break(subject):
        # A line break in a header would let text inject headers; refuse it here rather than fail at send time.
        raise ValueError("an e-mail needs an address and a subject without line breaks")
    payload: EmailPayload = {"subject": subject, "body": body}
    return _insert(connection, KIND_EMAIL, to.strip(), payload, now, reference)


def enqueue_webhook(
    connection: Connection, url: str, packet: Mapping[str, Any], now: datetime, *, reference: str | None = None
) -> int:
    """Queue a JSON POST of `packet` to `url` on the caller's connection, like enqueue_email; its id."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or _has_line_break(url):
        raise ValueError(f"a webhook needs an http:// or https:// URL, got {url!r}")
    return _insert(connection, KIND_WEBHOOK, url, dict(packet), now, reference)


def _insert(
    connection: Connection,
    kind: str,
    destination: str,
    payload: Mapping[str, Any],
    now: datetime,
    reference: str | None,
) -> int:
    moment = _utc(now)
    result = connection.execute(
        outbox.insert().values(
            kind=kind,
            destination=destination,
            payload=json.dumps(payload, ensure_ascii=False),
            created_at=moment,
            attempts=0,
            next_attempt_at=moment,
            reference=reference,
        )
    )
    return int(result.inserted_primary_key[0])


def due(engine: Engine, now: datetime, limit: int = 20, *, kind: str | None = None) -> list[OutboxMessage]:
    """Unsent messages whose next attempt is at or before `now`, oldest first."""
    query = (
        sa.select(outbox)
        .where(outbox.c.sent_at.is_(None), outbox.c.next_attempt_at <= _utc(now))
        .order_by(outbox.c.created_at, outbox.c.id)
        .limit(limit)
    )
    if kind is not None:
        query = query.where(outbox.c.kind == kind)
    with engine.connect() as connection:
        return [_message(row) for row in connection.execute(query)]


# A message taken for delivery is not due for any other worker this long. Longer than any one attempt
# (SMTP and webhook timeouts are seconds); a worker that dies mid-attempt leaves it to the others after it.
CLAIM_SECONDS = 300


def claim_due(engine: Engine, now: datetime, limit: int = 20, *, kind: str | None = None) -> list[OutboxMessage]:
    """The due messages this worker takes, each for exactly one worker however many run (the action
    servers of a cluster): taking one moves its next attempt CLAIM_SECONDS ahead, in an UPDATE that
    applies only while it is still due, which one worker wins. Delivery then marks it sent, or failed
    with the back-off's next attempt."""
    claimed = []
    for message in due(engine, now, limit, kind=kind):
        with transaction(engine) as connection:
            taken = connection.execute(
                outbox.update()
                .where(outbox.c.id == message.id, outbox.c.sent_at.is_(None), outbox.c.next_attempt_at <= _utc(now))
                .values(next_attempt_at=_utc(now) + timedelta(seconds=CLAIM_SECONDS))
            ).rowcount
        if taken:
            claimed.append(message)
    return claimed


def mark_sent(engine: Engine, message_id: int, now: datetime) -> None:
    """Record delivery. The row stays: the outbox is also the record of what was sent."""
    with transaction(engine) as connection:
        # Only an unsent row: a second call keeps the first delivery time.
        updated = connection.execute(
            outbox.update()
            .where(outbox.c.id == message_id, outbox.c.sent_at.is_(None))
            .values(sent_at=_utc(now), last_error=None)
        ).rowcount
        if not updated:
            _require(connection, message_id)


def mark_failed(engine: Engine, message_id: int, error: str, now: datetime) -> None:
    """Record a failed attempt and schedule the next one after the backoff."""
    with transaction(engine) as connection:
        attempts = _require(connection, message_id)
        connection.execute(
            outbox.update()
            .where(outbox.c.id == message_id)
            .values(attempts=attempts + 1, last_error=error, next_attempt_at=_utc(now) + retry_delay(attempts))
        )


def retry_delay(previous_attempts: int) -> timedelta:
    """The wait after a failure, given how many attempts had failed before it: 30 s * 2**n, at most an hour."""
    # The exponent stops at 7 (30 * 2**7 s is past the cap) so a message failing for months stays cheap to schedule.
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** min(previous_attempts, 7), MAX_RETRY_SECONDS))


def pending_count(engine: Engine) -> int:
    """Messages not yet delivered, due now or waiting for a retry."""
    with engine.connect() as connection:
        query = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
        return int(connection.execute(query).scalar_one())


def deliveries_about(engine: Engine, reference: str) -> list[dict[str, Any]]:
    """The outbox messages about a handoff or ticket, oldest first: where to, sent or pending, attempts, last error."""
    query = sa.select(outbox).where(outbox.c.reference == reference).order_by(outbox.c.id)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        {
            "kind": row.kind,
            "destination": row.destination,
            "status": "sent" if row.sent_at else "pending",
            "attempts": row.attempts,
            "next_attempt_at": None if row.sent_at else _from_db(row.next_attempt_at).isoformat(),
            "last_error": row.last_error,
        }
        for row in rows
    ]


def _require(connection: Connection, message_id: int) -> int:
    """The message's attempt count; LookupError when there is no such message."""
    attempts = connection.execute(sa.select(outbox.c.attempts).where(outbox.c.id == message_id)).scalar()
    if attempts is None:
        raise LookupError(f"outbox message {message_id} does not exist")
    return int(attempts)


def _message(row: sa.engine.Row) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        kind=row.kind,
        destination=row.destination,
        payload=_decode(row.payload),
        created_at=_from_db(row.created_at),
        attempts=row.attempts,
        next_attempt_at=_from_db(row.next_attempt_at),
        last_error=row.last_error,
    )


def _decode(payload: str) -> dict[str, Any]:
    # One corrupt row must not block the whole outbox: it decodes to {} and fails at send time, with the reason kept.
    try:
        value = json.loads(payload)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _utc(moment: datetime) -> datetime:
    # SQLite keeps no offset, so every stored time is UTC; a naive time would be ambiguous.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"outbox times must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(timezone.utc)


def _from_db(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written as UTC (see _utc).
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _has_line_break(text: str) -> bool:
    return "\n" in text or "\r" in text
