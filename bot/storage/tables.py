"""The product database's tables (SQLAlchemy Core)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# "Was this helpful?" answers, one row per answer given.
faq_feedback = sa.Table(
    "faq_feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("faq_id", sa.String(100), nullable=False, index=True),
    sa.Column("helpful", sa.Boolean, nullable=False),
    sa.Column("language", sa.String(5), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# Support tickets. `id` is what the customer reads out ("TCK-7Q4M2X"): short, random, not sequential.
tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(320), nullable=False, index=True),
    sa.Column("phone", sa.String(50)),
    sa.Column("order_number", sa.String(50)),
    sa.Column("category", sa.String(50), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("language", sa.String(5), nullable=False),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("transcript", sa.Text, nullable=False),  # JSON: the conversation up to the ticket
    sa.Column("reply_by", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Every status a ticket has had, with who set it and why: the ticket's history.
ticket_events = sa.Table(
    "ticket_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("ticket_id", sa.String(16), sa.ForeignKey("tickets.id"), nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("actor", sa.String(100), nullable=False),  # "customer", "bot", or a staff name
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

# Everything sent outwards (e-mail now, webhooks later) is written here in the same transaction
# as what caused it, then delivered with retries: an outage delays a message, never loses it.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(30), nullable=False),  # "email"
    sa.Column("destination", sa.String(320), nullable=False),  # an e-mail address or a URL
    sa.Column("payload", sa.Text, nullable=False),  # JSON, e.g. {"subject": ..., "body": ...}
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("last_error", sa.Text),
)
