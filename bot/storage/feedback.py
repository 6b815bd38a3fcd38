"""Record and read "was this helpful?" answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.storage.database import transaction
from bot.storage.tables import faq_feedback


@dataclass(frozen=True)
class Feedback:
    conversation_id: str
    faq_id: str
    helpful: bool
    language: str


def record_feedback(engine: Engine, feedback: Feedback, now: datetime | None = None) -> None:
    """Store one answer; `now` (UTC) defaults to the present (the reports' tests give a history its days)."""
    with transaction(engine) as connection:
        connection.execute(
            faq_feedback.insert().values(
                conversation_id=feedback.conversation_id,
                faq_id=feedback.faq_id,
                helpful=feedback.helpful,
                language=feedback.language,
                created_at=now or datetime.now(timezone.utc),
            )
        )


def feedback_for(engine: Engine, conversation_id: str) -> list[Feedback]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(faq_feedback).where(faq_feedback.c.conversation_id == conversation_id).order_by(faq_feedback.c.id)
        )
        return [Feedback(r.conversation_id, r.faq_id, r.helpful, r.language) for r in rows]
