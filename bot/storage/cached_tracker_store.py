"""Rasa's SQL tracker store with a checked cache of each conversation's latest session.

The stock `SQLTrackerStore` re-reads and re-parses a conversation's whole session from the
database on every message (a SELECT with a subquery, `json.loads` and an event-class lookup per
row), counts the stored rows again before every save, and on SQLite opens a new connection and
fsyncs a rollback journal for every commit: about half of each message's time here
(docs/latency-profile.md).

This store keeps, per conversation, its latest session as stored, as a tracker (handed out as a
copy, so a long conversation is not replayed event by event on every message), and a
*fingerprint* of its rows: (lowest row id, highest row id). Before using the cache it reads the
fingerprint again, two index lookups that cost the same however long the conversation is; if
anything else changed the conversation's rows (another replica, `supportbot data delete`, the
retention purge), the fingerprints differ and the session is read from the database as the stock
store does. So the cache is never trusted blindly, and the
store stays correct when several Rasa servers share one database. Saving inserts only the new
events in one statement. On PostgreSQL the fingerprint read and the save are each one statement
outside a transaction (the save's fingerprint comes from the ids its INSERT returns): one round
trip each, where a transaction costs three or four (BEGIN, the statements, COMMIT or ROLLBACK).

On SQLite it also keeps one connection open in WAL mode with `synchronous=NORMAL`: commits append
to the WAL without an fsync each (a power cut can lose the last commits, a crash cannot; the file
is never corrupted), and readers (reports, data tools) do not block the bot. Back the file up with
SQLite's backup API (`sqlite3 tracker.db ".backup copy.db"`), not by copying it.

A database that stops answering (a PostgreSQL restart) is waited for, up to `outage_wait` seconds
(default 15), instead of failing at once: Rasa would otherwise fall back to a tracker in memory
and the message's events would never reach the database. A retried save re-counts the stored
rows, so a commit that went through before the connection dropped is not written twice.

Same table, same rows as `SQLTrackerStore`: the stock store and `bot.storage.tracker_store`
read what this one writes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.bounded import remember_latest
from bot.storage.database import is_outage, outage_delays

logger = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 2000  # conversations; each holds its latest session's events
DEFAULT_OUTAGE_WAIT = 15.0  # seconds a message waits for the database to answer again
SYNCHRONOUS_COMMIT_SETTINGS = ("on", "off", "local", "remote_write", "remote_apply")
T = TypeVar("T")


@dataclass(frozen=True)
class Fingerprint:
    """What a conversation's rows look like from outside: if either changes, someone else wrote or
    deleted (new rows get higher ids; a deletion takes a conversation's rows from its start or all of
    them). Not a row count: counting reads every row of the conversation, every message."""

    first_id: int | None
    last_id: int | None


@dataclass
class CachedSession:
    fingerprint: Fingerprint
    tracker: DialogueStateTracker  # the latest session, as stored; never handed out itself, only copies

    @property
    def stored_events(self) -> int:
        return len(self.tracker.events)


class CachedSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` with a fingerprint-checked cache; see the module's docstring.

    endpoints.yml: `tracker_store: {type: bot.storage.cached_tracker_store.CachedSQLTrackerStore,
    dialect: sqlite, db: ..., cache_size: 2000, outage_wait: 15}`; every other key is SQLTrackerStore's.
    """

    def __init__(
        self,
        *args: Any,
        cache_size: int = DEFAULT_CACHE_SIZE,
        outage_wait: float = DEFAULT_OUTAGE_WAIT,
        synchronous_commit: str | bool = "on",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._sessions: OrderedDict[str, CachedSession] = OrderedDict()
        self._cache_size = max(0, int(cache_size))
        self._outage_wait = max(0.0, float(outage_wait))
        # Built once: building a statement costs more than running it (~0.8 ms against ~0.2 ms).
        table = self.SQLEvent.__table__
        # Two subqueries: a database finds one min() or max() over an index without reading the rows
        # between, but not both in one query (SQLite then reads them all).
        of_sender = table.c.sender_id == sa.bindparam("sender_id")
        self._fingerprint_query = sa.select(
            sa.select(sa.func.min(table.c.id)).where(of_sender).scalar_subquery(),
            sa.select(sa.func.max(table.c.id)).where(of_sender).scalar_subquery(),
        )
        self._insert = sa.insert(table)
        self._insert_returning_ids = sa.insert(table).returning(table.c.id)
        commit_setting = _synchronous_commit(synchronous_commit)  # checked whatever the database
        if self.engine.dialect.name == "sqlite":
            self._use_one_wal_connection()
        elif self.engine.dialect.name == "postgresql":
            self._check_connections_before_use()
            self._commit_with(commit_setting)
            self._index_ids_per_conversation()
        # The fingerprint, and on PostgreSQL a save's one INSERT, are single statements, atomic by
        # themselves: outside a transaction psycopg2 sends no BEGIN before them and no COMMIT or
        # ROLLBACK after them, one round trip each instead of three or four. (SQLite's single WAL
        # connection stays as it is: its writes share that connection.)
        self._returning = self.engine.dialect.name == "postgresql"
        self.single_statement_engine = self._autocommit_engine(commit_setting) if self._returning else self.engine

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        return await self._patiently(lambda: self._read_latest_session(sender_id), sender_id)

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        """Every session (the HTTP API's tracker, the console's transcript), waiting out an outage as
        `retrieve` does: Rasa's own read fails at once, even on a connection the restart left stale."""
        return await self._patiently(lambda: self._read_all_sessions(conversation_id), conversation_id)

    def _read_all_sessions(self, sender_id: str) -> DialogueStateTracker | None:
        with self.session_scope() as session:
            rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=True).all()
        return self._tracker_from_rows(sender_id, rows) if rows else None

    def _tracker_from_rows(self, sender_id: str, rows: list[Any]) -> DialogueStateTracker:
        return DialogueStateTracker.from_dict(sender_id, [json.loads(row.data) for row in rows], self.domain.slots)

    def _read_latest_session(self, sender_id: str) -> DialogueStateTracker | None:
        # The fingerprint first: a write landing between the two reads then shows up as a changed
        # fingerprint next time, never as a stale cache. On a plain connection: the usual case ends
        # here, and an ORM session costs more than the query.
        with self.single_statement_engine.connect() as connection:
            fingerprint = self._fingerprint(connection, sender_id)
        cached = self._sessions.get(sender_id)
        if cached is not None and cached.fingerprint == fingerprint:
            self._sessions.move_to_end(sender_id)
            return cached.tracker.copy() if cached.stored_events else None
        rows = []
        if fingerprint.last_id is not None:  # a new conversation has nothing to read
            with self.session_scope() as session:
                rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).all()
        self._sessions.pop(sender_id, None)
        if not rows:
            # Remembered as known to be empty: the save that creates the conversation need not count its rows.
            self._remember(sender_id, CachedSession(fingerprint, DialogueStateTracker(sender_id, self.domain.slots)))
            return None
        tracker = self._tracker_from_rows(sender_id, rows)
        self._remember(sender_id, CachedSession(fingerprint, tracker.copy()))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        sender_id = tracker.sender_id
        events = list(tracker.events)
        # `retrieve` checked the cache moments ago, and Rasa's lock keeps other writers of this
        # conversation out until the save.
        cached = self._sessions.pop(sender_id, None)
        attempts = 0

        def write() -> Fingerprint:
            nonlocal attempts
            attempts += 1
            # A retry counts the rows again: the failed attempt's commit may have gone through.
            return self._write_new_events(sender_id, events, cached if attempts == 1 else None)

        fingerprint = await self._patiently(write, sender_id)
        # Usually the tracker is the latest session as read, plus this message's events: keep a copy.
        # When a session may have begun (a new conversation, or a session start among the new
        # events), keep what a read would return.
        began = cached is None or any(
            isinstance(event, SessionStarted) for event in itertools.islice(events, cached.stored_events, None)
        )
        session = latest_session(events) if began else events
        if len(session) == len(events):
            stored = tracker.copy()
        else:
            stored = DialogueStateTracker.from_events(sender_id, session, self.domain.slots)
        self._remember(sender_id, CachedSession(fingerprint, stored))

    def _write_new_events(self, sender_id: str, events: list[Event], cached: CachedSession | None) -> Fingerprint:
        if cached is None:  # not read through this store: count as the stock store does
            with self.session_scope() as session:
                stored = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).count()
                self._insert_rows(session, sender_id, events[stored:])
                fingerprint = self._fingerprint(session, sender_id)
                session.commit()
            return fingerprint
        new_events = events[cached.stored_events :]
        if self._returning:
            return self._insert_returning_fingerprint(sender_id, new_events, cached.fingerprint)
        with self.engine.begin() as connection:  # one transaction, on a plain connection (see retrieve)
            self._insert_rows(connection, sender_id, new_events)
            return self._fingerprint(connection, sender_id)

    def _insert_returning_fingerprint(self, sender_id: str, events: list[Event], read: Fingerprint) -> Fingerprint:
        """Insert in one statement and take the new fingerprint from the ids it returns. The lock keeps
        other writers of this conversation out; rows someone deleted meanwhile (a purge) show up as a
        first id that differs from the database's at the next read, which then reads the session again."""
        if not events:
            return read
        with self.single_statement_engine.connect() as connection:
            rows = [self._row(sender_id, event) for event in events]
            ids = [row[0] for row in connection.execute(self._insert_returning_ids, rows)]
        return Fingerprint(read.first_id if read.first_id is not None else min(ids), max(ids))

    def _insert_rows(self, connection: Any, sender_id: str, events: list[Event]) -> None:
        if events:
            connection.execute(self._insert, [self._row(sender_id, event) for event in events])

    async def _patiently(self, work: Callable[[], T], sender_id: str) -> T:
        """`work()`, tried again while the database is away, for up to `outage_wait` seconds."""
        pauses = outage_delays(self._outage_wait)
        while True:
            try:
                return work()
            except sa.exc.SQLAlchemyError as error:
                pause = next(pauses, None) if is_outage(error) else None
                if pause is None:
                    raise
                logger.warning(
                    "Tracker store: the database did not answer (%s) for conversation %s; trying again in %g s",
                    error.__class__.__name__,
                    sender_id,
                    pause,
                )
                await asyncio.sleep(pause)

    def forget(self, sender_id: str) -> None:
        """Drop a conversation from the cache (the fingerprint check would catch it anyway)."""
        self._sessions.pop(sender_id, None)

    def _fingerprint(self, connection: Any, sender_id: str) -> Fingerprint:
        first_id, last_id = connection.execute(self._fingerprint_query, {"sender_id": sender_id}).one()
        return Fingerprint(first_id, last_id)

    def _remember(self, sender_id: str, cached: CachedSession) -> None:
        if self._cache_size == 0:
            return
        remember_latest(self._sessions, sender_id, cached, self._cache_size)

    @staticmethod
    def _row(sender_id: str, event: Event) -> dict[str, Any]:
        """The columns SQLTrackerStore.save writes for an event."""
        data = event.as_dict()
        return {
            "sender_id": sender_id,
            "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }

    def _commit_with(self, setting: str) -> None:
        """PostgreSQL: `synchronous_commit` for this store's connections only (the product database's
        tickets keep the server's default). "off": a commit returns before its WAL record is on disk,
        so the event loop, which waits for every commit, is not held for an fsync per message; a
        PostgreSQL crash can lose the last ~0.6 s of conversation events, never corrupt them (the
        SQLite counterpart is WAL with synchronous=NORMAL)."""
        if setting == "on":
            return
        _run_at_connect(self.engine, f"SET synchronous_commit TO {setting}")  # one of SYNCHRONOUS_COMMIT_SETTINGS
        self.engine.dispose()  # connections opened before the listener (the schema check) get it too

    def _check_connections_before_use(self) -> None:
        """PostgreSQL: Rasa's pool hands out connections a database restart left dead, and what still
        uses it (every session for the API and the console, the readiness probe, a retried save) would
        fail on one once. A ping first costs a round trip; messages use the other pool, whose one
        statement is retried on a dead connection."""
        engine = sa.create_engine(self.engine.url, pool_pre_ping=True, **create_engine_kwargs(self.engine.url))
        self.engine.dispose()
        self.engine = engine
        self.sessionmaker = sa.orm.session.sessionmaker(bind=engine)

    def _autocommit_engine(self, commit_setting: str) -> sa.engine.Engine:
        """A pool of its own whose connections stay in autocommit: switching a pooled connection into
        autocommit and back costs a call to the server at every check-in."""
        url = self.engine.url
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", **create_engine_kwargs(url))
        if commit_setting != "on":
            _run_at_connect(engine, f"SET synchronous_commit TO {commit_setting}")
        return engine

    def _index_ids_per_conversation(self) -> None:
        """PostgreSQL finds a conversation's lowest and highest row id in an index on (sender_id, id);
        with Rasa's index on sender_id alone it reads every row of the conversation. (SQLite's index
        on sender_id already ends with the row id.) Replicas starting together may race to create it."""
        table = self.SQLEvent.__table__.name
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    sa.text(f"CREATE INDEX IF NOT EXISTS {table}_sender_id_id ON {table} (sender_id, id)")
                )
        except sa.exc.SQLAlchemyError as error:
            logger.warning("Tracker store: could not create the index on (sender_id, id): %s", error)

    def _use_one_wal_connection(self) -> None:
        """One long-lived connection in WAL mode.

        SQLAlchemy gives a SQLite file a NullPool: a connection per session, and closing the last
        connection to a WAL database checkpoints it with an fsync, which undoes WAL's gain. Rasa
        uses its tracker store from the event loop's thread only, so one connection per thread
        (SingletonThreadPool) is one connection.
        """
        engine = sa.create_engine(
            self.engine.url, poolclass=sa.pool.SingletonThreadPool, connect_args={"timeout": 15}
        )
        _run_at_connect(engine, "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL")
        self.engine.dispose()
        self.engine = engine
        self.sessionmaker = sa.orm.session.sessionmaker(bind=engine)


def _run_at_connect(engine: sa.engine.Engine, *statements: str) -> None:
    """Run `statements` on each new connection of `engine`, committed: the pool rolls a connection
    back when it is returned, which would undo a SET made inside an open transaction."""

    @sa.event.listens_for(engine, "connect")
    def _run(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for statement in statements:
            cursor.execute(statement)
        cursor.close()
        dbapi_connection.commit()


def _synchronous_commit(value: str | bool) -> str:
    """PostgreSQL's `synchronous_commit` setting from endpoints.yml (YAML reads a bare off as False)."""
    setting = ("on" if value else "off") if isinstance(value, bool) else str(value).lower()
    if setting not in SYNCHRONOUS_COMMIT_SETTINGS:
        raise ValueError(f"tracker_store.synchronous_commit must be one of {', '.join(SYNCHRONOUS_COMMIT_SETTINGS)}")
    return setting


def latest_session(events: list[Event]) -> list[Event]:
    """The events SQLTrackerStore reads back: from the latest `session_started` on (by timestamp)."""
    starts = [event.timestamp for event in events if isinstance(event, SessionStarted)]
    if not starts:
        return events
    latest = max(starts)
    return [event for event in events if event.timestamp >= latest]
