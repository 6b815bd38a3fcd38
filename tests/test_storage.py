"""Storage on a real SQLite file: what the bot records is committed, and failures are specific."""

import pytest
import sqlalchemy as sa

from bot.storage.database import StorageError, create_engine, transaction
from bot.storage.feedback import Feedback, feedback_for, record_feedback
from bot.storage.tables import faq_feedback


def test_feedback_is_committed_to_the_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'var' / 'bot.db'}"
    record_feedback(create_engine(url), Feedback("c1", "returns.policy", True, "en"))
    # A new engine on the same file sees it: it was committed, not held in memory.
    assert feedback_for(create_engine(url), "c1") == [Feedback("c1", "returns.policy", True, "en")]


def test_a_failed_transaction_rolls_back_and_raises_storage_error(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    with pytest.raises(StorageError, match="IntegrityError"), transaction(engine) as connection:
        connection.execute(
            faq_feedback.insert().values(conversation_id="c", faq_id="x", helpful=True, language="en", created_at=None)
        )
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(faq_feedback)).scalar() == 0
