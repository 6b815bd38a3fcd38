"""Storage on a real SQLite file: what the bot records is committed, and failures are specific."""

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from actions import services
from actions.faq import store_feedback
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


def test_the_feedback_action_stores_its_answer_and_only_logs_a_database_it_cannot_open(tmp_path, monkeypatch, caplog):
    """"Was this helpful?" runs in the Rasa process: a database that is down must not cost the customer a reply."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    monkeypatch.setattr(services, "database", lambda: create_engine(url))
    store_feedback(Feedback("c1", "returns.policy", False, "ms"))
    assert feedback_for(create_engine(url), "c1") == [Feedback("c1", "returns.policy", False, "ms")]

    def database_down() -> sa.engine.Engine:
        raise sa.exc.OperationalError("connect", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(services, "database", database_down)
    store_feedback(Feedback("c2", "returns.policy", True, "en"))
    assert "feedback for returns.policy not stored" in caplog.text
    assert feedback_for(create_engine(url), "c2") == []


def test_a_failed_transaction_rolls_back_and_raises_storage_error(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    with pytest.raises(StorageError, match="IntegrityError"), transaction(engine) as connection:
        connection.execute(
            faq_feedback.insert().values(conversation_id="c", faq_id="x", helpful=True, language="en", created_at=None)
        )
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(faq_feedback)).scalar() == 0


# Something written under a new random id, like a ticket or a handoff.
records = sa.Table("records", sa.MetaData(), sa.Column("id", sa.String(16), primary_key=True))


def _record(connection: sa.engine.Connection, new_id: str) -> None:
    connection.execute(records.insert().values(id=new_id))


def _records_engine(path, **options) -> sa.engine.Engine:
    engine = create_engine(f"sqlite:///{path}", **options)
    records.metadata.create_all(engine)
    return engine


def _stored(engine: sa.engine.Engine) -> list[str]:
    with engine.connect() as connection:
        return [row.id for row in connection.execute(sa.select(records.c.id))]


def test_a_write_waits_for_a_database_that_is_away_then_lands(tmp_path):
    """The database refuses for a moment (here SQLite held by another writer; on PostgreSQL a
    restart): the write is tried again until it answers, within OUTAGE_WAIT_SECONDS."""
    path = tmp_path / "bot.db"
    engine = _records_engine(path, timeout=0.05)  # a lock fails in 50 ms instead of waiting
    blocker = sqlite3.connect(path, check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")
    threading.Timer(0.6, blocker.rollback).start()
    started = time.monotonic()
    written = write_with_new_id(engine, lambda: "c-waited", _record, records)
    assert written == "c-waited" and time.monotonic() - started >= 0.5
    assert _stored(engine) == ["c-waited"]
    blocker.close()


def test_a_database_away_for_longer_than_the_wait_is_a_storage_error(tmp_path, monkeypatch):
    monkeypatch.setattr(database, "outage_delays", lambda wait=0.3: iter([0.1, 0.1, 0.1]))
    path = tmp_path / "bot.db"
    engine = _records_engine(path, timeout=0.05)
    blocker = sqlite3.connect(path)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StorageError, match="OperationalError"):
            write_with_new_id(engine, lambda: "c-lost", _record, records)
    finally:
        blocker.rollback()
        blocker.close()
    assert _stored(engine) == []


def test_a_write_whose_acknowledgement_was_lost_is_not_written_twice(tmp_path, monkeypatch):
    """The first attempt commits, then the connection drops before the database's answer arrives
    (PostgreSQL restarting at that moment): the retry finds its own row instead of writing another."""
    engine = _records_engine(tmp_path / "bot.db")
    real_transaction, attempts = database.transaction, []

    @contextmanager
    def dropped_after_commit(engine: sa.engine.Engine) -> Iterator[sa.engine.Connection]:
        attempts.append(1)
        with real_transaction(engine) as connection:
            yield connection
        if len(attempts) == 1:
            lost = sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
            raise StorageError("database error: OperationalError") from lost

    monkeypatch.setattr(database, "transaction", dropped_after_commit)
    ids = iter(["first", "second"])
    assert write_with_new_id(engine, lambda: next(ids), _record, records) == "first"
    assert _stored(engine) == ["first"] and len(attempts) == 2


def test_outages_are_told_apart_from_other_errors():
    refused = sa.exc.OperationalError("connect", {}, Exception("connection refused"))
    clash = sa.exc.IntegrityError("insert", {}, Exception("UNIQUE constraint failed"))
    assert is_outage(refused) and is_outage(StorageError("x").with_traceback(None)) is False
    assert not is_outage(clash) and not is_outage(ValueError("x"))
    wrapped = StorageError("database error")
    wrapped.__cause__ = refused
    assert is_outage(wrapped)



class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_outage_pauses_end_when_the_wait_is_over_counting_the_attempts_own_time():
    clock = FakeClock()
    pauses = []
    for pause in outage_delays(10.0, clock):
        pauses.append(pause)
        clock.now += pause  # the caller sleeps
    assert pauses[:5] == [0.05, 0.1, 0.2, 0.4, 0.8] and max(pauses) == 1.0 and 9.0 < sum(pauses) <= 10.0
    clock = FakeClock()
    attempts = 0
    for pause in outage_delays(10.0, clock):
        attempts += 1
        clock.now += pause + 3.0  # each attempt waits 3 s for a lock before it fails
    # About 10 s in all, not 10 s of pauses plus every attempt's wait: at most one attempt more than that.
    assert attempts == 4 and clock.now - 100.0 <= 10.0 + 3.0 + 1.0
