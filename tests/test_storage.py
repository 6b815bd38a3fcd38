"""Storage on a real SQLite file: what the bot records is committed, and failures are specific."""

import sqlite3
import threading
import time
from datetime import datetime

import pytest
import sqlalchemy as sa

from bot.storage import database
from bot.storage.database import (
    StorageError,
    create_engine,
    is_outage,
    outage_delays,
    transaction,
    write_with_new_id,
)
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


def _record(connection: sa.engine.Connection, new_id: str) -> None:
    connection.execute(
        faq_feedback.insert().values(
            conversation_id=new_id, faq_id="returns.policy", helpful=True, language="en", created_at=datetime.now()
        )
    )


def test_a_write_waits_for_a_database_that_is_away_then_lands(tmp_path):
    """The database refuses for a moment (here SQLite held by another writer; on PostgreSQL a
    restart): the write is tried again until it answers, within OUTAGE_WAIT_SECONDS."""
    path = tmp_path / "bot.db"
    engine = create_engine(f"sqlite:///{path}", timeout=0.05)  # a lock fails in 50 ms instead of waiting
    blocker = sqlite3.connect(path, check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")
    threading.Timer(0.6, blocker.rollback).start()
    started = time.monotonic()
    written = write_with_new_id(engine, lambda: "c-waited", _record)
    assert written == "c-waited" and time.monotonic() - started >= 0.5
    assert [f.conversation_id for f in feedback_for(engine, "c-waited")] == ["c-waited"]
    blocker.close()


def test_a_database_away_for_longer_than_the_wait_is_a_storage_error(tmp_path, monkeypatch):
    monkeypatch.setattr(database, "outage_delays", lambda wait=0.3: iter([0.1, 0.1, 0.1]))
    path = tmp_path / "bot.db"
    engine = create_engine(f"sqlite:///{path}", timeout=0.05)
    blocker = sqlite3.connect(path)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StorageError, match="OperationalError"):
            write_with_new_id(engine, lambda: "c-lost", _record)
    finally:
        blocker.rollback()
        blocker.close()
    assert feedback_for(engine, "c-lost") == []


def test_outages_are_told_apart_from_other_errors():
    refused = sa.exc.OperationalError("connect", {}, Exception("connection refused"))
    clash = sa.exc.IntegrityError("insert", {}, Exception("UNIQUE constraint failed"))
    assert is_outage(refused) and is_outage(StorageError("x").with_traceback(None)) is False
    assert not is_outage(clash) and not is_outage(ValueError("x"))
    wrapped = StorageError("database error")
    wrapped.__cause__ = refused
    assert is_outage(wrapped)
    assert sum(outage_delays(10.0)) <= 10.0 and max(outage_delays(10.0)) == 1.0
