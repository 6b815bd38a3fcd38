"""Readiness probes: small blocking checks, run in threads with a time limit, whose answer names what failed.

An answer says which dependency failed and the error's class, never its message: messages can
carry host names, paths or user names, and the health routes are open to anyone who reaches them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

CHECK_TIMEOUT_SECONDS = 3.0  # a probe slower than this counts as failed: a load balancer waits for no one
OK = "ok"

Probe = Callable[[], None]  # returns when the dependency answers, raises when it does not


class NotReady(Exception):
    """A dependency is not there; the message is safe to show."""


def database_answers(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


def model_loaded(agent: Any) -> None:
    # What Rasa's own /status requires (rasa.server.ensure_loaded_agent).
    if agent is None or not agent.is_ready():
        raise NotReady("no model loaded")


def tracker_store_answers(agent: Any) -> None:
    store = getattr(agent, "tracker_store", None)
    if store is None:
        raise NotReady("no tracker store yet")
    # Rasa wraps the configured store in a FailSafeTrackerStore that falls back to memory on errors:
    # probe the configured one, or a broken database would look ready.
    primary = getattr(store, "_tracker_store", store)
    engine = getattr(primary, "engine", None)  # SQLTrackerStore
    if engine is not None:
        database_answers(engine)
        return
    redis = getattr(primary, "red", None)  # RedisTrackerStore
    if redis is not None:
        redis.ping()
    # An in-memory store has nothing to reach.


async def run_checks(probes: Mapping[str, Probe], timeout: float = CHECK_TIMEOUT_SECONDS) -> dict[str, str]:
    """Every probe at once: "ok", or "failed: " and why."""
    names = list(probes)
    results = await asyncio.gather(*(_run(probes[name], timeout) for name in names))
    return dict(zip(names, results, strict=True))


async def _run(probe: Probe, timeout: float) -> str:
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.run_in_executor(None, probe), timeout)
    except NotReady as error:
        return f"failed: {error}"
    except asyncio.TimeoutError:
        return f"failed: no answer in {timeout:g} s"
    except Exception as error:  # any driver's error: the class names it, the message might reveal too much
        return f"failed: {error.__class__.__name__}"
    return OK
