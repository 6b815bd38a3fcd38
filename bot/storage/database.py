"""Engine factory and the one transaction helper every write goes through."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.storage.tables import metadata


class StorageError(Exception):
    """The database could not store or read something; the message is safe to log, not to show."""


def create_engine(url: str) -> Engine:
    """An engine for `url`, with the SQLite file's folder created and the tables in place."""
    parsed = sa.engine.make_url(url)
    options: dict = {"future": True, "pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"check_same_thread": False, "timeout": 15}
    engine = sa.create_engine(url, **options)
    metadata.create_all(engine)
    return engine


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One atomic unit of work: committed when the block ends, rolled back if it raises."""
    try:
        with engine.begin() as connection:
            yield connection
    except sa.exc.SQLAlchemyError as error:
        raise StorageError(f"database error: {error.__class__.__name__}") from error
