"""The cached tracker store writes what Rasa's SQLTrackerStore writes, reads what it reads, and never
serves a cached conversation that someone else changed or deleted."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.storage.cached_tracker_store import CachedSQLTrackerStore


def cached_store(domain: Domain, path: Path, **kwargs: object) -> CachedSQLTrackerStore:
    return CachedSQLTrackerStore(domain=domain, dialect="sqlite", db=str(path), **kwargs)


def stock_store(domain: Domain, path: Path) -> SQLTrackerStore:
    return SQLTrackerStore(domain=domain, dialect="sqlite", db=str(path))


def turn(text: str, at: float) -> list[Event]:
    """A customer's message and the bot's answer, as Rasa logs them."""
    return [
        UserUttered(text, {"name": "faq", "confidence": 0.9}, timestamp=at),
        ActionExecuted("action_answer_faq", timestamp=at + 0.1),
        BotUttered("an answer", timestamp=at + 0.2),
        SlotSet("last_faq", "returns.policy", timestamp=at + 0.3),
        ActionExecuted("action_listen", timestamp=at + 0.4),
    ]


def session_start(at: float) -> list[Event]:
    return [ActionExecuted("action_session_start", timestamp=at), SessionStarted(timestamp=at + 0.01)]


async def converse(store: SQLTrackerStore, sender: str, turns: list[list[Event]]) -> None:
    """What Rasa does per message: retrieve (or create), add the turn's events, save."""
    for events in turns:
        tracker = await store.retrieve(sender) or DialogueStateTracker(sender, store.domain.slots)
        for event in events:
            tracker.update(event)
        await store.save(tracker)


def rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as connection:
        return connection.execute(
            "SELECT sender_id, type_name, timestamp, intent_name, action_name, data FROM events ORDER BY id"
        ).fetchall()


def count_queries(store: CachedSQLTrackerStore) -> list[str]:
    """Every SQL statement the store's engine runs from now on."""
    statements: list[str] = []
    # On PostgreSQL single statements run on a second, autocommit pool.
    for engine in {store.engine, store.single_statement_engine}:
        sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


CONVERSATION = [session_start(1.0), turn("hi", 2.0), turn("returns?", 3.0), session_start(10.0), turn("again", 11.0)]


def test_it_writes_the_same_rows_as_rasas_store(domain: Domain, tmp_path: Path) -> None:
    asyncio.run(converse(cached_store(domain, tmp_path / "cached.db"), "c1", CONVERSATION))
    asyncio.run(converse(stock_store(domain, tmp_path / "stock.db"), "c1", CONVERSATION))
    assert rows(tmp_path / "cached.db") == rows(tmp_path / "stock.db")
    assert len(rows(tmp_path / "cached.db")) == 2 + 5 + 5 + 2 + 5


def test_it_reads_the_latest_session_as_rasas_store_does(domain: Domain, tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    store = cached_store(domain, path)
    asyncio.run(converse(store, "c1", CONVERSATION))
    from_cache = asyncio.run(store.retrieve("c1"))
    from_stock = asyncio.run(stock_store(domain, path).retrieve("c1"))
    assert from_cache is not None and from_stock is not None
    assert list(from_cache.events) == list(from_stock.events)
    assert from_cache.events[0] == SessionStarted(timestamp=10.01)  # the latest session only
    assert from_cache.get_slot("last_faq") == "returns.policy"


def test_a_cached_conversation_costs_one_small_query(domain: Domain, tmp_path: Path) -> None:
    store = cached_store(domain, tmp_path / "tracker.db")
    asyncio.run(converse(store, "c1", CONVERSATION))
    statements = count_queries(store)
    asyncio.run(store.retrieve("c1"))
    assert len(statements) == 1 and "max(events.id)" in statements[0].lower(), statements


def test_a_new_conversation_is_written_without_counting_its_rows(domain: Domain, tmp_path: Path) -> None:
    store = cached_store(domain, tmp_path / "tracker.db")
    statements = count_queries(store)
    asyncio.run(converse(store, "new", [session_start(1.0)]))
    # retrieve: the fingerprint (nothing stored); save: the insert, the new fingerprint.
    assert len(statements) == 3, statements
    assert "insert" in statements[1].lower()
    assert asyncio.run(store.retrieve("new")) is not None
    assert len(rows(tmp_path / "tracker.db")) == 2


def test_a_conversation_first_seen_empty_and_then_written_elsewhere_is_read(domain: Domain, tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    here, there = cached_store(domain, path), cached_store(domain, path)
    assert asyncio.run(here.retrieve("c1")) is None
    asyncio.run(converse(there, "c1", [session_start(1.0), turn("hi", 2.0)]))
    tracker = asyncio.run(here.retrieve("c1"))
    assert tracker is not None and [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["hi"]


def test_a_deleted_conversation_is_not_served_from_the_cache(domain: Domain, tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    store = cached_store(domain, path)
    asyncio.run(converse(store, "c1", CONVERSATION))
    with sqlite3.connect(path) as connection:  # as `supportbot data delete` does, from another process
        connection.execute("DELETE FROM events WHERE sender_id = 'c1'")
    assert asyncio.run(store.retrieve("c1")) is None


def test_events_another_replica_wrote_are_read(domain: Domain, tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    here, there = cached_store(domain, path), cached_store(domain, path)
    asyncio.run(converse(here, "c1", [session_start(1.0), turn("hi", 2.0)]))
    asyncio.run(converse(there, "c1", [turn("from the other replica", 3.0)]))
    tracker = asyncio.run(here.retrieve("c1"))
    assert tracker is not None
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["hi", "from the other replica"]
    asyncio.run(converse(here, "c1", [turn("and back", 4.0)]))
    assert [row[5] for row in rows(path)].count(rows(path)[-1][5]) == 1  # nothing written twice
    assert len(rows(path)) == 2 + 5 + 5 + 5


def test_an_evicted_conversation_is_read_from_the_database(domain: Domain, tmp_path: Path) -> None:
    store = cached_store(domain, tmp_path / "tracker.db", cache_size=1)
    asyncio.run(converse(store, "c1", [session_start(1.0), turn("one", 2.0)]))
    asyncio.run(converse(store, "c2", [session_start(1.0), turn("two", 2.0)]))  # pushes c1 out
    asyncio.run(converse(store, "c1", [turn("three", 3.0)]))
    tracker = asyncio.run(store.retrieve("c1"))
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["one", "three"]
    assert len(rows(tmp_path / "tracker.db")) == 2 * (2 + 5) + 5


def test_sqlite_runs_in_wal_mode_on_one_connection(domain: Domain, tmp_path: Path) -> None:
    store = cached_store(domain, tmp_path / "tracker.db")
    asyncio.run(converse(store, "c1", [session_start(1.0)]))
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert isinstance(store.engine.pool, sa.pool.SingletonThreadPool)


def test_postgresqls_commit_setting_is_checked(domain: Domain, tmp_path: Path) -> None:
    from bot.storage.cached_tracker_store import _synchronous_commit

    assert _synchronous_commit(False) == "off"  # YAML 1.1 reads a bare `off` as false
    assert _synchronous_commit("OFF") == "off"
    assert _synchronous_commit("on") == "on"
    with pytest.raises(ValueError, match="synchronous_commit must be one of"):
        _synchronous_commit("off; DROP TABLE events")
    with pytest.raises(ValueError, match="synchronous_commit must be one of"):
        cached_store(domain, tmp_path / "tracker.db", synchronous_commit="sometimes")  # whatever the database
