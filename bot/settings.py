"""Process settings, read once from the environment, with defaults for `make run`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    faq_path: Path  # SUPPORTBOT_FAQ_PATH: the knowledge base folder
    database_url: str  # SUPPORTBOT_DATABASE_URL: SQLAlchemy URL of the product database
    reload_interval: float  # SUPPORTBOT_RELOAD_INTERVAL: seconds between checks of faq/ for edits
    support_config: Path  # SUPPORTBOT_SUPPORT_CONFIG: support hours, reply-time promise, ticket rules
    database_timeout: float  # SUPPORTBOT_DATABASE_TIMEOUT: seconds a SQLite write waits for a lock
    endpoints_path: Path  # SUPPORTBOT_ENDPOINTS: endpoints.yml, whose `handoff:` section both servers read


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    reload_interval = _seconds(env, "SUPPORTBOT_RELOAD_INTERVAL", "0.5")
    database_timeout = _seconds(env, "SUPPORTBOT_DATABASE_TIMEOUT", "15")
    return Settings(
        faq_path=Path(env.get("SUPPORTBOT_FAQ_PATH", "faq")),
        database_url=env.get("SUPPORTBOT_DATABASE_URL", "sqlite:///var/supportbot.db"),
        reload_interval=reload_interval,
        support_config=Path(env.get("SUPPORTBOT_SUPPORT_CONFIG", "support.yml")),
        database_timeout=database_timeout,
        endpoints_path=Path(env.get("SUPPORTBOT_ENDPOINTS", "endpoints.yml")),
    )


def _seconds(env: dict[str, str] | os._Environ, name: str, default: str) -> float:
    try:
        return float(env.get(name, default))
    except ValueError as error:
        raise ValueError(f"{name} must be a number of seconds: {error}") from None


def positive_seconds(name: str, value: str) -> float:
    """A setting's value as a positive number of seconds; ValueError naming the setting otherwise."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:  # also rejects nan
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return seconds


def positive_whole_number(name: str, unit: str, environ: Mapping[str, str] | None = None) -> int | None:
    """Setting `name` as a whole number of `unit`, at least 1; None when unset; ValueError naming it otherwise."""
    value = (os.environ if environ is None else environ).get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number of {unit} (at least 1), got {value!r}")
    return int(value)
