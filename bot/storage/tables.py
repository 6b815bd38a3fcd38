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
    sa.Column("reference", sa.String(32), index=True),  # the handoff or ticket it is about, when there is one
)

# Support agents who log in to the console. Passwords are stored only as scrypt hashes.
agents = sa.Table(
    "agents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# Console log-ins. The cookie holds a random token; only its SHA-256 is stored, so a copy of the
# database opens no session. `seen_at` is refreshed while the console is open: an agent is
# "online" (handoffs are offered) while a session of theirs was seen in the last minute.
agent_sessions = sa.Table(
    "agent_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id"), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

# Conversations handed to a person: the queue. `packet` is the handoff packet (JSON) as built
# when the customer was handed over (docs/handoff-packet.md).
handoffs = sa.Table(
    "handoffs",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False, index=True),  # waiting, active, ended, timed_out
    sa.Column("reason", sa.String(30), nullable=False),
    sa.Column("language", sa.String(5), nullable=False),
    sa.Column("customer_name", sa.String(200)),
    sa.Column("packet", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("claimed_by", sa.String(64)),  # an agent's username
    sa.Column("claimed_at", sa.DateTime(timezone=True)),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
    sa.Column("ticket_id", sa.String(16)),  # when the agent turned the chat into a ticket
    sa.Column("first_reply_at", sa.DateTime(timezone=True)),  # the agent's first message: time to first reply
)

# Customer satisfaction: the 1-5 rating asked after a handoff ends.
csat = sa.Table(
    "csat",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("handoff_id", sa.String(16)),
    sa.Column("ticket_id", sa.String(16)),
    sa.Column("agent", sa.String(64)),
    sa.Column("language", sa.String(5), nullable=False),
    sa.Column("rating", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# Each export, deletion or retention purge of customers' data, naming no one (bot.security.personal_data).
data_requests = sa.Table(
    "data_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),  # export, delete, purge
    # SHA-256 of the e-mail address or conversation id; for a purge, its cut-off
    sa.Column("subject", sa.String(100), nullable=False),
    sa.Column("conversations", sa.Integer, nullable=False),
    sa.Column("rows", sa.Text, nullable=False),  # JSON: rows deleted per kind
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
