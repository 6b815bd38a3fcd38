"""The retention setting: conversations idle for longer than SUPPORTBOT_RETENTION_DAYS are deleted, with what
belongs to them, once an hour by the Rasa server (bot.security.personal_data.purge). Unset: kept."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from sanic import Sanic
from sqlalchemy.engine import Engine

from bot.security.personal_data import both_databases, purge
from bot.settings import positive_whole_number

logger = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 3600


def retention_days(environ: Mapping[str, str] | None = None) -> int | None:
    """SUPPORTBOT_RETENTION_DAYS as a whole number of days, None when unset; ValueError when it is not one."""
    return positive_whole_number("SUPPORTBOT_RETENTION_DAYS", "days", environ)


def purge_once(engine: Engine, tracker: str, days: int, now: datetime | None = None) -> dict[str, int]:
    now = now or datetime.now(timezone.utc)
    with both_databases(engine, tracker) as connection:
        return purge(connection, now - timedelta(days=days), "retention", now)


def install(app: Sanic, engine: Engine, tracker: str, days: int | None) -> None:
    """Purge once an hour while the server runs, when a retention is set."""
    if days is None:
        return

    async def keep_purging() -> None:
        while True:
            try:
                counts = await asyncio.to_thread(purge_once, engine, tracker, days)
                if any(counts.values()):
                    logger.info("retention (%d days): deleted %s", days, counts)
            except asyncio.CancelledError:
                raise
            except Exception:  # a locked or missing database must not end the schedule
                logger.exception("retention purge failed; trying again in an hour")
            await asyncio.sleep(CHECK_EVERY_SECONDS)

    async def start(app: Sanic, _: object) -> None:
        app.add_task(keep_purging(), name="retention_purge")

    app.register_listener(start, "after_server_start")
