"""Engine factory and the one transaction helper every write goes through."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Connection, Engine


class StorageError(Exception):
    """The database could not store or read something; the message is safe to log, not to show."""


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_engine(url: str, timeout: float = 15.0) -> Engine:
    """An engine for `url`, with the SQLite file's folder created and the schema migrated to the latest."""
    parsed = sa.engine.make_url(url)
    options: dict = {"future": True, "pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # `timeout`: seconds a write waits for another writer's lock before it fails.
        options["connect_args"] = {"check_same_thread": False, "timeout": timeout}
    engine = sa.create_engine(url, **options)
    migrate(engine)
    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision (`bot/storage/migrations/versions/`)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        tables = set(sa.inspect(connection).get_table_names())
        if "alembic_version" not in tables and "faq_feedback" in tables:
            command.stamp(config, "0001")  # a database from before migrations: it has revision 0001's table
        command.upgrade(config, "head")


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads, whose database errors become StorageError like a transaction's."""
    try:
        with engine.connect() as connection:
            yield connection
    except sa.exc.SQLAlchemyError as error:
        raise StorageError(f"database error: {error.__class__.__name__}") from error


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything is stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One atomic unit of work: committed when the block ends, rolled back if it raises."""
    try:
        with engine.begin() as connection:
            yield connection
    except sa.exc.SQLAlchemyError as error:
        raise StorageError(f"database error: {error.__class__.__name__}") from error


ID_ATTEMPTS = 5  # a clash of random ids is rare; after this many something else is wrong
# How long a write waits for a database that stopped answering (a PostgreSQL restart takes ~1 s)
# before it fails; the caller then keeps what it was given (a pending ticket the customer can retry).
OUTAGE_WAIT_SECONDS = 10.0


def is_outage(error: BaseException) -> bool:
    """The database could not be reached or dropped the connection: worth trying again shortly.
    (SQLite's "database is locked" is an OperationalError too; trying again is right for it as well.)"""
    if isinstance(error, StorageError):
        error = error.__cause__ or error
    if not isinstance(error, sa.exc.DBAPIError):
        return False
    return error.connection_invalidated or isinstance(error, (sa.exc.OperationalError, sa.exc.InterfaceError))


def outage_delays(wait: float = OUTAGE_WAIT_SECONDS, clock: Callable[[], float] = time.monotonic) -> Iterator[float]:
    """Pauses between attempts while the database is away: 0.05 s doubling to 1 s, until `wait` s after
    this call. Wall-clock time, not the sum of the pauses: an attempt on a locked SQLite file itself
    waits its busy timeout, and the caller (the Rasa server waiting for an action) has a limit too."""
    deadline = clock() + wait

    def pauses() -> Iterator[float]:
        delay = 0.05
        while clock() + delay <= deadline:
            yield delay
            delay = min(delay * 2, 1.0)

    return pauses()


def write_with_new_id(
    engine: Engine, new_id: Callable[[], str], write: Callable[[Connection, str], None], table: sa.Table
) -> str:
    """Run `write(connection, id)` in one transaction with a fresh random id, another one if that id is taken;
    the id used. A database that is away is waited for (OUTAGE_WAIT_SECONDS). StorageError when the
    database fails, or when no free id turns up.

    An attempt that failed because the connection dropped may still have committed (the database
    wrote it, the acknowledgement was lost): the next attempt keeps the same id and first looks for
    it in `table` (its `id` column), so one ticket or handoff is never written twice."""
    clashes, pauses = 0, outage_delays()
    candidate, maybe_written = new_id(), False
    while True:
        try:
            with transaction(engine) as connection:
                if maybe_written and connection.execute(sa.select(table.c.id).where(table.c.id == candidate)).first():
                    return candidate
                write(connection, candidate)
            return candidate
        except StorageError as error:
            if isinstance(error.__cause__, sa.exc.IntegrityError):
                clashes += 1
                if clashes >= ID_ATTEMPTS:
                    raise StorageError(f"no free id after {ID_ATTEMPTS} attempts") from error
                candidate, maybe_written = new_id(), False
                continue
            pause = next(pauses, None) if is_outage(error) else None
            if pause is None:
                raise
            maybe_written = True
            time.sleep(pause)
