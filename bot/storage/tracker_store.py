"""Rasa's SQL tracker store seen from the product, without Rasa: its `events` table and how to open it to read.

Rasa (rasa.core.tracker_store.SQLTrackerStore) writes one row per event: `id`, `sender_id`,
`type_name` ("user", "action", "slot", "pause", ...), `timestamp` (seconds since 1970),
`intent_name` (user events), `action_name` (actions; the slot's name for slot events) and `data`,
the event as JSON text. The editors' inbox, the reports and the data-protection tools read it here.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.storage.database import StorageError, reading

DEFAULT_TRACKER_FILE = "var/tracker.db"  # as endpoints.yml's `db` when SUPPORTBOT_TRACKER_DB is unset

events = sa.Table(
    "events",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255)),
    sa.Column("type_name", sa.String(255)),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)


class TrackerStoreError(StorageError):
    """The tracker store is missing or is not Rasa's; the message names it."""


def configured_tracker_url(environ: Mapping[str, str] | None = None) -> str:
    """The tracker store the bot writes to, as a SQLAlchemy URL: SUPPORTBOT_TRACKER_DB, a SQLite file
    (as endpoints.yml uses it) or a database URL (the cluster's PostgreSQL, deploy/cluster.py)."""
    env = os.environ if environ is None else environ
    return tracker_url(env.get("SUPPORTBOT_TRACKER_DB") or DEFAULT_TRACKER_FILE)


def tracker_url(location: str) -> str:
    """A SQLAlchemy URL as given, or a SQLite file's path made into one."""
    return location if "://" in location else f"sqlite:///{location}"


def open_tracker(url: str, timeout: float = 15.0) -> Engine:
    """An engine to read the tracker store at `url`. A SQLite file is opened read-only and never created:
    a typo must not look like an empty store. `timeout`: seconds to wait while the Rasa server writes."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise TrackerStoreError(f"{url!r} is not a database URL (e.g. sqlite:///var/tracker.db)") from None
    if parsed.get_backend_name() != "sqlite":
        engine = sa.create_engine(url, future=True, pool_pre_ping=True)
    else:
        if not parsed.database or parsed.database == ":memory:" or not Path(parsed.database).is_file():
            raise TrackerStoreError(f"no tracker store at {parsed.database or url} (set SUPPORTBOT_TRACKER_DB)")
        uri = Path(parsed.database).resolve().as_uri() + "?mode=ro"

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)

        # NullPool: a connection per use, closed after it, whichever thread reads.
        engine = sa.create_engine("sqlite://", creator=connect, poolclass=sa.pool.NullPool, future=True)
    with reading(engine) as connection:
        if not sa.inspect(connection).has_table("events"):
            raise TrackerStoreError(f"{parsed.render_as_string(hide_password=True)} has no 'events' table")
    return engine
