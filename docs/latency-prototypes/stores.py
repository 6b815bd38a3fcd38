"""A write-through cache in front of Rasa's SQLTrackerStore (single Rasa process only).

`retrieve` of a conversation seen before by this process rebuilds the tracker from the cached
Event objects of its latest session (no SELECT, no JSON, no event class lookup); `save` inserts
only the events after the ones known to be stored (no COUNT query) and commits. Same rows in the
same table as SQLTrackerStore, so the database stays readable by the stock store.

Optional SQLite pragmas (kwarg `sqlite_wal: true`): journal_mode=WAL, synchronous=NORMAL.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, Optional

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY


class CachedSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, cache_size: int = 10_000, sqlite_wal: bool = False, core_insert: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._core_insert = bool(core_insert)
        self._cache: OrderedDict[str, list] = OrderedDict()  # sender -> events of the latest session, as stored
        self._cache_size = int(cache_size)
        if sqlite_wal and self.engine.dialect.name == "sqlite":
            use_wal(self)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        events = self._cache.get(sender_id)
        if events is None:
            tracker = await super().retrieve(sender_id)
            if tracker is not None:
                self._remember(sender_id, list(tracker.events))
            return tracker
        self._cache.move_to_end(sender_id)
        return DialogueStateTracker.from_events(sender_id, list(events), self.domain.slots)

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        cached = self._cache.get(tracker.sender_id)
        all_events = list(tracker.events)
        with self.session_scope() as session:
            if cached is None:
                stored = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()
            else:
                stored = len(cached)
            rows = []
            for event in all_events[stored:]:
                data = event.as_dict()
                rows.append(
                    dict(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            if rows and self._core_insert:
                session.execute(self.SQLEvent.__table__.insert(), rows)  # one executemany, no ORM units of work
            else:
                for row in rows:
                    session.add(self.SQLEvent(**row))
            session.commit()
        if cached is None and stored:
            # first save of a conversation this process did not read: let the next retrieve fill the cache
            return
        self._remember(tracker.sender_id, _latest_session(all_events))

    def _remember(self, sender_id: str, events: list) -> None:
        self._cache[sender_id] = events
        self._cache.move_to_end(sender_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def use_wal(store: SQLTrackerStore) -> None:
    """WAL + synchronous=NORMAL on one long-lived connection.

    SQLAlchemy 1.4 gives file SQLite a NullPool: every session opens and closes a connection,
    and closing the last connection of a WAL database checkpoints it (with fsync) and deletes
    the -wal file, which undoes WAL. One pooled connection (Rasa uses it from the event-loop
    thread only) keeps the WAL open; commits then append to the WAL without fsync.
    """
    import sqlalchemy as sa
    from sqlalchemy import event

    engine = sa.create_engine(store.engine.url, poolclass=sa.pool.SingletonThreadPool)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    store.engine.dispose()
    store.engine = engine
    store.sessionmaker = sa.orm.session.sessionmaker(bind=engine)


def _latest_session(events: list) -> list:
    """The events SQLTrackerStore's query returns: timestamp >= the latest SessionStarted's, in order."""
    starts = [e.timestamp for e in events if isinstance(e, SessionStarted)]
    if not starts:
        return events
    latest = max(starts)
    return [e for e in events if e.timestamp >= latest]
