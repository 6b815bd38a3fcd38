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
